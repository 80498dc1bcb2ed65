"""What a household does with a proposal shown on the door screen: buy it with one tap, or dismiss it."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from fastapi import APIRouter, Body, Header, Path, Request

from freshtap.contract import Money
from freshtap.server.api.deps import CurrentHousehold, PurchaseSlot, ServicesDep
from freshtap.server.api.offer_schemas import PreviewReason, ProposalPublic
from freshtap.server.api.payment_responses import ACCEPT_RESPONSES
from freshtap.server.api.routes.orders import public
from freshtap.server.api.schemas import ID_PATTERN, AcceptRequest, OrderPublic
from freshtap.server.domain.offers import TriggerKind
from freshtap.server.store.models import Proposal

router = APIRouter(prefix="/api/v1/proposals", tags=["household"])

ProposalStatus = Literal["live", "accepted", "dismissed", "expired"]


@router.post("/{proposal_id}/accept", responses=ACCEPT_RESPONSES, dependencies=[PurchaseSlot])
def accept(
    proposal_id: Annotated[str, Path(max_length=40, pattern=ID_PATTERN)],
    household: CurrentHousehold,
    services: ServicesDep,
    request: Request,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
    pin_header: Annotated[str | None, Header(alias="X-Freshtap-PIN", max_length=16)] = None,
    body: Annotated[AcceptRequest | None, Body()] = None,
) -> OrderPublic:
    """Buy what the proposal offers. The same `Idempotency-Key` always returns the same order.

    Send `expected_amount` (the price the screen showed): the key's fingerprint covers it, so the
    same key with another amount is a 422, and a price that changed is a 422 too; neither charges.
    Above the household's one-tap limit the PIN is needed (`X-Freshtap-PIN` or `pin`): 403
    `pin-required`, `pin-wrong`, or `over-limit` when no PIN is set; 429 `pin-locked`.
    Past the household's purchase rate limit: 429 `purchase-rate` with `Retry-After` (a replayed key is never refused).
    """
    expected = None
    pin = pin_header
    if body is not None:
        if body.expected_amount is not None:
            expected = (body.expected_amount.amount_minor, body.expected_amount.currency)
        pin = body.pin if body.pin is not None else pin
    view = services.orders.accept(household, proposal_id, idempotency_key, expected_amount=expected, pin=pin)
    return public(view, services, request)


def proposal_public(p: Proposal) -> ProposalPublic:
    return ProposalPublic(
        proposal_id=p.id,
        offer_id=p.offer_id,
        fridge_id=p.fridge_id,
        item_id=p.item_id,
        status=cast(ProposalStatus, p.status),
        price=Money(amount_minor=p.price_minor, currency=p.currency),
        original_price=(
            Money(amount_minor=p.original_price_minor, currency=p.currency)
            if p.original_price_minor is not None
            else None
        ),
        reason=PreviewReason(kind=cast(TriggerKind, p.reason_kind), text=p.reason_text),
        explanation=p.explanation,
        created_at=p.created_at,
        expires_at=p.expires_at,
        closed_at=p.closed_at,
    )


@router.post("/{proposal_id}/dismiss")
def dismiss(
    proposal_id: Annotated[str, Path(max_length=40, pattern=ID_PATTERN)],
    household: CurrentHousehold,
    services: ServicesDep,
) -> ProposalPublic:
    """Not interested: the proposal leaves the door screen, and its offer stays away from this product
    for the offer's cooldown. Dismissing again answers the same; an accepted or expired one is a 409.
    """
    return proposal_public(services.offers.dismiss(household.household_id, proposal_id))
