"""A merchant's replenishment offers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from freshtap.contract import Money
from freshtap.server.api.deps import CurrentMerchant, ServicesDep
from freshtap.server.api.schemas import ID_PATTERN, OfferCreate, OfferPublic
from freshtap.server.store.models import Offer

router = APIRouter(prefix="/api/v1/offers", tags=["merchant"])


def public(offer: Offer) -> OfferPublic:
    match = {"gtin": offer.match_gtin} if offer.match_gtin else {"category": offer.match_category or ""}
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
    )


@router.post("", status_code=201)
def create_offer(data: OfferCreate, merchant: CurrentMerchant, services: ServicesDep) -> OfferPublic:
    return public(services.catalog.create_offer(merchant.merchant_id, data))


@router.get("")
def list_offers(
    merchant: CurrentMerchant,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[OfferPublic]:
    return [public(o) for o in services.catalog.list_offers(merchant.merchant_id, limit, offset)]


@router.get("/{offer_id}")
def get_offer(
    offer_id: Annotated[str, Path(max_length=40, pattern=ID_PATTERN)], merchant: CurrentMerchant, services: ServicesDep
) -> OfferPublic:
    return public(services.catalog.get_offer(merchant.merchant_id, offer_id))
