"""Turning inventory into live proposals, and keeping each fridge's retained offers list equal to them.

`refresh_fridge` recomputes the freshness of a fridge's items, asks the pure planner which
proposals to open or withdraw, applies that in the caller's transaction, and says whether the
live list changed; `publish_offers` then sends the whole live list, retained, to the fridge.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from freshtap.contract import (
    Channel,
    Money,
    OfferEntry,
    OfferMerchant,
    OfferProduct,
    OfferReason,
    OffersBody,
    OffersMessage,
    encode,
)
from freshtap.server.domain.offers import ItemView, LiveProposal, OfferRule, TriggerKind, plan_proposals
from freshtap.server.services.freshness import refresh_item_freshness, temperature_history
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import (
    Fridge,
    Household,
    InventoryRecord,
    Merchant,
    Offer,
    Product,
    Proposal,
)
from freshtap.settings import Settings

__all__ = ["live_offers_message", "publish_offers", "refresh_fridge"]


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _parse_hhmm(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def _local_time(household: Household | None, now: datetime) -> time:
    try:
        zone = ZoneInfo(household.timezone) if household else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).time()


def refresh_fridge(session: Session, fridge_id: str, now: datetime, settings: Settings) -> bool:
    """Recompute freshness and proposals for one fridge; True if its live offers changed."""
    fridge = session.get(Fridge, fridge_id)
    if fridge is None:
        return False
    records = session.exec(
        select(InventoryRecord).where(InventoryRecord.fridge_id == fridge_id, col(InventoryRecord.present))
    ).all()
    oldest = min((_aware(r.added_at) for r in records), default=now)
    temps = temperature_history(session, fridge_id, oldest)
    for record in records:
        refresh_item_freshness(record, now, settings.freshness, temps)
        record.updated_at = now
        session.add(record)

    items = [
        ItemView(
            item_id=r.item_id,
            name=r.name,
            gtin=r.gtin,
            category=r.category,
            fill=r.fill,
            expires_at=_aware(r.expires_at) if r.expires_at else None,
        )
        for r in records
    ]
    gtins = {r.gtin for r in records if r.gtin}
    categories = {r.category.lower() for r in records}
    rows = session.exec(
        select(Offer, Product)
        .join(Product, col(Product.id) == col(Offer.product_id))
        .where(
            col(Offer.active),
            or_(col(Offer.match_gtin).in_(gtins), func.lower(col(Offer.match_category)).in_(categories)),
        )
    ).all()
    rules = [
        OfferRule(
            offer_id=offer.id,
            merchant_id=offer.merchant_id,
            product_id=offer.product_id,
            match_gtin=offer.match_gtin,
            match_category=offer.match_category,
            trigger_kind=cast(TriggerKind, offer.trigger_kind),
            within_hours=offer.trigger_within_hours,
            below=offer.trigger_below,
            price_minor=offer.price_minor if offer.price_minor is not None else product.price_minor,
            currency=offer.currency or product.currency,
            created_at=_aware(offer.created_at),
            max_per_household_per_week=offer.max_per_household_per_week,
            quiet_start=_parse_hhmm(offer.quiet_start),
            quiet_end=_parse_hhmm(offer.quiet_end),
        )
        for offer, product in rows
    ]
    live_rows = session.exec(select(Proposal).where(Proposal.fridge_id == fridge_id, Proposal.status == "live")).all()
    live = [LiveProposal(p.id, p.item_id, p.offer_id, _aware(p.expires_at)) for p in live_rows]
    week_ago = now - timedelta(days=7)
    counts = dict(
        session.exec(
            select(Proposal.offer_id, func.count())
            .where(Proposal.household_id == fridge.household_id, col(Proposal.created_at) >= week_ago)
            .group_by(Proposal.offer_id)
        ).all()
    )
    household = session.get(Household, fridge.household_id)
    plan = plan_proposals(items, rules, live, now, local_now=_local_time(household, now), weekly_counts=counts)

    by_id = {p.id: p for p in live_rows}
    for proposal_id in plan.withdraw:
        proposal = by_id[proposal_id]
        proposal.status = "expired"
        proposal.closed_at = now
        session.add(proposal)
    if plan.withdraw:
        session.flush()  # free the one-live-per-item slot before opening new ones
    ttl = timedelta(hours=settings.offers.proposal_ttl_hours)
    for new in plan.create:
        session.add(
            Proposal(
                id=new_id("pr"),
                offer_id=new.offer.offer_id,
                fridge_id=fridge_id,
                household_id=fridge.household_id,
                item_id=new.item.item_id,
                merchant_id=new.offer.merchant_id,
                product_id=new.offer.product_id,
                price_minor=new.offer.price_minor,
                currency=new.offer.currency,
                reason_kind=new.reason_kind,
                reason_text=new.reason_text,
                status="live",
                created_at=now,
                expires_at=now + ttl,
            )
        )
    return bool(plan.create or plan.withdraw)


def live_offers_message(session: Session, fridge_id: str, now: datetime) -> OffersMessage:
    """The `offers` message for one fridge: every live proposal, oldest first."""
    rows = session.exec(
        select(Proposal, Product, Merchant)
        .join(Product, col(Product.id) == col(Proposal.product_id))
        .join(Merchant, col(Merchant.id) == col(Proposal.merchant_id))
        .where(Proposal.fridge_id == fridge_id, Proposal.status == "live")
        .order_by(col(Proposal.created_at), col(Proposal.id))
    ).all()
    entries = [
        OfferEntry(
            proposal_id=p.id,
            offer_id=p.offer_id,
            item_id=p.item_id,
            product=OfferProduct(gtin=product.gtin, name=product.name),
            merchant=OfferMerchant(id=merchant.id, name=merchant.name),
            price=Money(amount_minor=p.price_minor, currency=p.currency),
            reason=OfferReason(kind=cast(TriggerKind, p.reason_kind), text=p.reason_text),
            expires_at=_aware(p.expires_at),
        )
        for p, product, merchant in rows
    ]
    return OffersMessage(
        v=1, type="offers", fridge_id=fridge_id, at=now.replace(microsecond=0), body=OffersBody(offers=entries)
    )


def publish_offers(session: Session, publisher: FridgePublisher, fridge_id: str, now: datetime) -> None:
    publisher.publish(fridge_id, Channel.OFFERS, encode(live_offers_message(session, fridge_id, now)), retain=True)
