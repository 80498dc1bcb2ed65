"""Turning inventory into live proposals, and keeping each fridge's retained offers list equal to them.

`refresh_fridge` recomputes the freshness and run-out forecast of a fridge's items, asks the pure
planner which proposals to open or withdraw, applies that in the caller's transaction, sets each
item's `next_check_at` to the next instant something changes with no new data, and says whether
the live list changed; `publish_offers` then sends the whole live list, retained, to the fridge.

`next_check_at` is the earliest of: the item's next freshness transition; the instant a
matching offer's `expiring` or `runout` trigger starts to hold (`expires_at` or `runout_at`
minus `within_hours`); a matching offer's `valid_from` or `valid_until`; and, for an item held
back although an offer's trigger holds, the end of that offer's quiet hours, the moment its
weekly cap frees up, or the end of a dismissal's cooldown. The scheduler
(`IngestService.refresh_due`) wakes a fridge when one of its items is due. A proposal never
outlives its offer's `valid_until` (its `expires_at` is capped there), so it lapses on time too.

A proposal records its effective (discounted) price, the list price when a discount applies,
why its offer won (`explanation`) and the item key a dismissal's cooldown applies to.

An item the household already bought a replacement for (an accepted proposal made since the
item was added) is not proposed again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import cast

from sqlmodel import Session, col, select

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
from freshtap.server.domain.offers import (
    WEEK,
    HouseholdContext,
    ItemView,
    LiveProposal,
    NewProposal,
    OfferRule,
    PastProposal,
    TriggerKind,
    cooldown_ends,
    in_quiet_hours,
    item_key,
    matches,
    plan_proposals,
)
from freshtap.server.services.freshness import (
    catalog_references,
    load_windows,
    refresh_item_freshness,
    temperature_history,
)
from freshtap.server.services.offer_rules import household_context, offer_rules_for
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.services.runout import forecast_runouts
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import (
    Fridge,
    Household,
    InventoryRecord,
    Merchant,
    Product,
    Proposal,
)
from freshtap.settings import Settings

__all__ = ["item_view", "live_offers_message", "publish_offers", "refresh_fridge"]

_TICK = timedelta(microseconds=1)


def _trigger_starts(rule: OfferRule, item: ItemView) -> datetime | None:
    """When a time-driven trigger starts to hold for `item` with no new data (None: not time-driven)."""
    if rule.within_hours is None:
        return None
    if rule.trigger_kind == "expiring" and item.expires_at is not None:
        return item.expires_at - timedelta(hours=rule.within_hours)
    if rule.trigger_kind == "runout" and item.runout_at is not None:
        return item.runout_at - timedelta(hours=rule.within_hours)
    return None


def _holds(rule: OfferRule, item: ItemView, now: datetime) -> bool:
    if rule.trigger_kind == "low_fill":
        return item.fill is not None and rule.below is not None and item.fill < rule.below
    starts = _trigger_starts(rule, item)
    return starts is not None and starts <= now


def _quiet_ends(rule: OfferRule, now: datetime, zone: tzinfo) -> datetime | None:
    """The next end of `rule`'s quiet hours after `now`, if `now` is inside them."""
    end = rule.quiet_end
    if end is None or not in_quiet_hours(rule, now.astimezone(zone).time()):
        return None
    local = now.astimezone(zone)
    candidate = datetime.combine(local.date(), end, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return candidate.astimezone(UTC)


def _next_check(
    item: ItemView,
    freshness_check: datetime | None,
    rules: list[OfferRule],
    covered: bool,
    now: datetime,
    household: HouseholdContext,
    cap_frees: Mapping[str, datetime],
) -> datetime | None:
    """The earliest instant after `now` at which this item's freshness or offers can change by time alone."""
    wakes = [freshness_check] if freshness_check is not None else []
    for rule in rules:
        if not matches(rule, item):
            continue
        # A validity window opening or closing changes what may be shown.
        wakes.extend(w for w in (rule.valid_from, rule.valid_until) if w is not None)
        starts = _trigger_starts(rule, item)
        if starts is not None and starts > now:
            wakes.append(starts)
        elif not covered and _holds(rule, item, now):
            # Triggered but not proposed: held back by quiet hours, the weekly cap or a cooldown.
            quiet = _quiet_ends(rule, now, household.zone)
            if quiet is not None:
                wakes.append(quiet)
            if rule.offer_id in cap_frees:
                wakes.append(cap_frees[rule.offer_id])
            cooled = cooldown_ends(rule, item, household.dismissals)
            if cooled is not None:
                wakes.append(cooled)
    later = [w for w in wakes if w > now]
    return min(later) if later else None


def _bought(session: Session, fridge_id: str, records: Sequence[InventoryRecord]) -> set[str]:
    """Items for which the household accepted a proposal since the item was added."""
    added = {r.item_id: r.added_at for r in records}
    accepted = session.exec(
        select(Proposal.item_id, Proposal.created_at).where(
            Proposal.fridge_id == fridge_id, Proposal.status == "accepted"
        )
    ).all()
    return {item_id for item_id, created_at in accepted if item_id in added and created_at >= added[item_id]}


def _cap_frees(
    rules: list[OfferRule], recent: Sequence[PastProposal], created: Sequence[NewProposal], now: datetime
) -> dict[str, datetime]:
    """When each offer whose weekly cap is reached (counting this round's proposals) may propose again."""
    made = [*recent, *(PastProposal(new.offer.offer_id, now) for new in created)]
    frees: dict[str, datetime] = {}
    for rule in rules:
        cap = rule.max_per_household_per_week
        if cap is None:
            continue
        inside = sorted(p.created_at for p in made if p.offer_id == rule.offer_id and p.created_at >= now - WEEK)
        if len(inside) >= cap:
            # Below the cap again once all but cap - 1 of them have left the rolling window.
            frees[rule.offer_id] = inside[len(inside) - cap] + WEEK + _TICK
    return frees


def refresh_fridge(session: Session, fridge_id: str, now: datetime, settings: Settings) -> bool:
    """Recompute freshness, run-out and proposals for one fridge; True if its live offers changed."""
    fridge = session.get(Fridge, fridge_id)
    if fridge is None:
        return False
    records = session.exec(
        select(InventoryRecord).where(InventoryRecord.fridge_id == fridge_id, col(InventoryRecord.present))
    ).all()
    oldest = min((r.added_at for r in records), default=now)
    temps = temperature_history(session, fridge_id, oldest)
    windows = load_windows(session, fridge_id)
    runouts = forecast_runouts(session, fridge_id, [r.item_id for r in records], now)
    references = catalog_references(session, {r.gtin for r in records if r.gtin})
    for record in records:
        refresh_item_freshness(
            record,
            now,
            settings.freshness,
            temps,
            windows.hours_for(record.gtin, record.category),
            references.get(record.gtin or ""),
        )
        record.runout_at = runouts.get(record.item_id)
        record.updated_at = now
        session.add(record)

    views = {r.item_id: item_view(r, references.get(r.gtin or "")) for r in records}
    bought = _bought(session, fridge_id, records)
    rules = offer_rules_for(
        session,
        {r.gtin for r in records if r.gtin},
        {r.category for r in records},
        set(references.values()),
        settings.offers.cooldown_hours_after_dismissal,
    )
    live_rows = session.exec(select(Proposal).where(Proposal.fridge_id == fridge_id, Proposal.status == "live")).all()
    live = [LiveProposal(p.id, p.item_id, p.offer_id, p.expires_at) for p in live_rows]
    household = household_context(session, session.get(Household, fridge.household_id), rules, now)
    plan = plan_proposals(
        [view for item_id, view in views.items() if item_id not in bought], rules, live, now, household
    )

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
        until = new.offer.valid_until
        session.add(
            Proposal(
                id=new_id("pr"),
                offer_id=new.offer.offer_id,
                fridge_id=fridge_id,
                household_id=fridge.household_id,
                item_id=new.item.item_id,
                merchant_id=new.offer.merchant_id,
                product_id=new.offer.product_id,
                price_minor=new.price_minor,
                original_price_minor=new.offer.price_minor if new.price_minor != new.offer.price_minor else None,
                currency=new.offer.currency,
                reason_kind=new.reason_kind,
                reason_text=new.reason_text,
                explanation=new.explanation,
                item_key=item_key(new.item),
                status="live",
                created_at=now,
                expires_at=min(now + ttl, until) if until is not None else now + ttl,
            )
        )

    withdrawn = set(plan.withdraw)
    covered = {p.item_id for p in live_rows if p.id not in withdrawn} | {n.item.item_id for n in plan.create}
    frees = _cap_frees(rules, household.recent, plan.create, now)
    for record in records:
        if record.item_id in bought:
            continue  # only its freshness can still change
        freshness_check = record.next_check_at
        record.next_check_at = _next_check(
            views[record.item_id], freshness_check, rules, record.item_id in covered, now, household, frees
        )
    return bool(plan.create or plan.withdraw)


def item_view(record: InventoryRecord, foodkeeper_product_id: int | None) -> ItemView:
    """The planner's view of a stored item (with the FoodKeeper product its GTIN is listed as)."""
    return ItemView(
        item_id=record.item_id,
        name=record.name,
        gtin=record.gtin,
        category=record.category,
        fill=record.fill,
        expires_at=record.expires_at,
        runout_at=record.runout_at,
        foodkeeper_product_id=foodkeeper_product_id,
    )


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
            reason=OfferReason(
                kind=cast(TriggerKind, p.reason_kind), text=p.reason_text, explanation=p.explanation or None
            ),
            expires_at=p.expires_at,
            original_price=(
                Money(amount_minor=p.original_price_minor, currency=p.currency)
                if p.original_price_minor is not None
                else None
            ),
        )
        for p, product, merchant in rows
    ]
    return OffersMessage(
        v=1, type="offers", fridge_id=fridge_id, at=now.replace(microsecond=0), body=OffersBody(offers=entries)
    )


def publish_offers(session: Session, publisher: FridgePublisher, fridge_id: str, now: datetime) -> None:
    publisher.publish(fridge_id, Channel.OFFERS, encode(live_offers_message(session, fridge_id, now)), retain=True)
