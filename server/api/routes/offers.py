"""A merchant's replenishment offers: create, list, edit, and preview what they would do now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from freshtap.contract import Money
from freshtap.server.api.deps import CurrentMerchant, ServicesDep
from freshtap.server.api.offer_schemas import (
    OfferPreview,
    PreviewItemPublic,
    PreviewMatchPublic,
    PreviewReason,
)
from freshtap.server.api.schemas import (
    ID_PATTERN,
    AmountOffDiscount,
    OfferCreate,
    OfferPublic,
    OfferUpdate,
    PercentDiscount,
)
from freshtap.server.services.offers import PreviewResult
from freshtap.server.store.models import Offer

router = APIRouter(prefix="/api/v1/offers", tags=["merchant"])

OfferId = Annotated[str, Path(max_length=40, pattern=ID_PATTERN)]


def public(offer: Offer, default_cooldown_hours: float) -> OfferPublic:
    match: dict[str, str | int]
    if offer.match_gtin:
        match = {"gtin": offer.match_gtin}
    elif offer.match_foodkeeper_id is not None:
        match = {"foodkeeper_product_id": offer.match_foodkeeper_id}
    else:
        match = {"category": offer.match_category or ""}
    trigger: dict[str, str | float] = {"kind": offer.trigger_kind}
    if offer.trigger_within_hours is not None:
        trigger["within_hours"] = offer.trigger_within_hours
    if offer.trigger_below is not None:
        trigger["below"] = offer.trigger_below
    price = (
        Money(amount_minor=offer.price_minor, currency=offer.currency)
        if offer.price_minor is not None and offer.currency
        else None
    )
    quiet = {"start": offer.quiet_start, "end": offer.quiet_end} if offer.quiet_start and offer.quiet_end else None
    discount: PercentDiscount | AmountOffDiscount | None = None
    if offer.discount_percent is not None:
        discount = PercentDiscount(kind="percent", percent=offer.discount_percent)
    elif offer.discount_minor is not None:
        discount = AmountOffDiscount(kind="amount_off", amount_minor=offer.discount_minor)
    cooldown = offer.cooldown_hours_after_dismissal
    return OfferPublic(
        id=offer.id,
        merchant_id=offer.merchant_id,
        product_id=offer.product_id,
        match=match,
        trigger=trigger,
        price=price,
        max_per_household_per_week=offer.max_per_household_per_week,
        quiet_hours=quiet,
        active=offer.active,
        created_at=offer.created_at,
        discount=discount,
        valid_from=offer.valid_from,
        valid_until=offer.valid_until,
        cooldown_hours_after_dismissal=cooldown if cooldown is not None else default_cooldown_hours,
        updated_at=offer.updated_at,
    )


def _preview(result: PreviewResult) -> OfferPreview:
    return OfferPreview(
        evaluated_at=result.evaluated_at,
        eligible=result.eligible,
        total=result.total,
        matches=[
            PreviewMatchPublic(
                fridge_id=m.fridge_id,
                item=PreviewItemPublic(
                    item_id=m.item.item_id, name=m.item.name, gtin=m.item.gtin, category=m.item.category
                ),
                reason=PreviewReason(kind=m.reason_kind, text=m.reason_text),
                price=Money(amount_minor=m.price_minor, currency=m.currency),
                eligible=m.eligible,
                blocked_by=m.blocked_by,
                explanation=m.explanation,
            )
            for m in result.matches
        ],
    )


@router.post("", status_code=201)
def create_offer(data: OfferCreate, merchant: CurrentMerchant, services: ServicesDep) -> OfferPublic:
    offer = services.catalog.create_offer(merchant.merchant_id, data)
    if offer.active:
        services.offers.wake_matching(offer)
    return public(offer, services.settings.offers.cooldown_hours_after_dismissal)


@router.post("/preview")
def preview_draft(data: OfferCreate, merchant: CurrentMerchant, services: ServicesDep) -> OfferPreview:
    """What an offer with this body would propose now, item by item, and what holds each back; writes nothing.

    Fridges are named by id only. `matches` is capped (eligible ones first); `eligible` and `total`
    count them all.
    """
    return _preview(services.offers.preview_draft(merchant.merchant_id, data))


@router.get("")
def list_offers(
    merchant: CurrentMerchant,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[OfferPublic]:
    default = services.settings.offers.cooldown_hours_after_dismissal
    return [public(o, default) for o in services.catalog.list_offers(merchant.merchant_id, limit, offset)]


@router.get("/{offer_id}")
def get_offer(offer_id: OfferId, merchant: CurrentMerchant, services: ServicesDep) -> OfferPublic:
    offer = services.catalog.get_offer(merchant.merchant_id, offer_id)
    return public(offer, services.settings.offers.cooldown_hours_after_dismissal)


@router.patch("/{offer_id}")
def update_offer(offer_id: OfferId, data: OfferUpdate, merchant: CurrentMerchant, services: ServicesDep) -> OfferPublic:
    """Change the sent fields only (unknown ones, `merchant_id` included, are a 422).

    Proposals the change makes invalid (deactivated, outside the new validity window) are withdrawn
    at once and their fridges' offers republished; a new price applies to new proposals.
    """
    offer = services.offers.update_offer(merchant.merchant_id, offer_id, data)
    return public(offer, services.settings.offers.cooldown_hours_after_dismissal)


@router.get("/{offer_id}/preview")
def preview_offer(offer_id: OfferId, merchant: CurrentMerchant, services: ServicesDep) -> OfferPreview:
    """What this offer would propose now (as if active), item by item; writes nothing."""
    return _preview(services.offers.preview_saved(merchant.merchant_id, offer_id))
