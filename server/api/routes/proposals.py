"""One-tap purchase of a proposal shown on the door screen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Path, Request

from freshtap.server.api.deps import CurrentHousehold, ServicesDep
from freshtap.server.api.payment_responses import ACCEPT_RESPONSES
from freshtap.server.api.routes.orders import public
from freshtap.server.api.schemas import ID_PATTERN, AcceptRequest, OrderPublic

router = APIRouter(prefix="/api/v1/proposals", tags=["household"])


@router.post("/{proposal_id}/accept", responses=ACCEPT_RESPONSES)
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
    """
    expected = None
    pin = pin_header
    if body is not None:
        if body.expected_amount is not None:
            expected = (body.expected_amount.amount_minor, body.expected_amount.currency)
        pin = body.pin if body.pin is not None else pin
    view = services.orders.accept(household, proposal_id, idempotency_key, expected_amount=expected, pin=pin)
    return public(view, services, request)
