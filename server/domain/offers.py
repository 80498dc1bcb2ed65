"""Which merchant offer to propose for which item: pure matching over frozen data.

Given a fridge's present items (with the server's freshness), the active offers and the live
proposals, `plan_proposals` says which proposals to open and which to withdraw. It never opens two
proposals for one item, and when several offers match one item it picks deterministically: the
lowest price, then the oldest offer, then the offer id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal

__all__ = [
    "ItemView",
    "LiveProposal",
    "NewProposal",
    "OfferRule",
    "ProposalPlan",
    "TriggerKind",
    "in_quiet_hours",
    "plan_proposals",
    "reason_text",
]

TriggerKind = Literal["expiring", "low_fill", "runout"]


@dataclass(frozen=True)
class ItemView:
    item_id: str
    name: str
    gtin: str | None
    category: str
    fill: float | None
    expires_at: datetime | None
    runout_at: datetime | None = None


@dataclass(frozen=True)
class OfferRule:
    offer_id: str
    merchant_id: str
    product_id: str
    match_gtin: str | None
    match_category: str | None
    trigger_kind: TriggerKind
    within_hours: float | None
    below: float | None
    price_minor: int
    currency: str
    created_at: datetime
    max_per_household_per_week: int | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None


@dataclass(frozen=True)
class LiveProposal:
    proposal_id: str
    item_id: str
    offer_id: str
    expires_at: datetime


@dataclass(frozen=True)
class NewProposal:
    item: ItemView
    offer: OfferRule
    reason_kind: TriggerKind
    reason_text: str


@dataclass(frozen=True)
class ProposalPlan:
    create: tuple[NewProposal, ...]
    withdraw: tuple[str, ...]
    """Proposal ids to close: their item is gone, their offer no longer matches, or they lapsed."""


def _matches(offer: OfferRule, item: ItemView) -> bool:
    if offer.match_gtin is not None:
        return item.gtin == offer.match_gtin
    if offer.match_category is not None:
        return item.category.lower() == offer.match_category.lower()
    return False


def _triggered(offer: OfferRule, item: ItemView, now: datetime) -> bool:
    if offer.trigger_kind == "expiring":
        if item.expires_at is None or offer.within_hours is None:
            return False
        return item.expires_at - now <= timedelta(hours=offer.within_hours)
    if offer.trigger_kind == "low_fill":
        return item.fill is not None and offer.below is not None and item.fill < offer.below
    if item.runout_at is None or offer.within_hours is None:
        return False
    return item.runout_at - now <= timedelta(hours=offer.within_hours)


def _hours_text(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours <= 0:
        return "has expired"
    if hours < 1:
        return "expires in under an hour"
    if hours < 48:
        return f"expires in {round(hours)} h"
    return f"expires in {round(hours / 24)} days"


def reason_text(kind: TriggerKind, item: ItemView, now: datetime) -> str:
    """A short sentence for the door screen saying why this offer is shown."""
    if kind == "expiring" and item.expires_at is not None:
        return f"{item.name} {_hours_text(item.expires_at - now)}"
    if kind == "low_fill" and item.fill is not None:
        return f"{item.name} is at {round(item.fill * 100)}%"
    if kind == "runout" and item.runout_at is not None:
        hours = max(0.0, (item.runout_at - now).total_seconds() / 3600)
        return f"{item.name} runs out in about {round(hours)} h"
    return item.name


def in_quiet_hours(offer: OfferRule, local_now: time) -> bool:
    """Whether `local_now` (the household's wall time) falls in the offer's quiet hours.

    Quiet hours may wrap midnight (22:00-07:00); start == end means none.
    """
    start, end = offer.quiet_start, offer.quiet_end
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= local_now < end
    return local_now >= start or local_now < end


def _allowed(offer: OfferRule, weekly_counts: Mapping[str, int], local_now: time) -> bool:
    cap = offer.max_per_household_per_week
    if cap is not None and weekly_counts.get(offer.offer_id, 0) >= cap:
        return False
    return not in_quiet_hours(offer, local_now)


def _choose(candidates: list[OfferRule]) -> OfferRule:
    return min(candidates, key=lambda o: (o.price_minor, o.created_at, o.offer_id))


def plan_proposals(
    items: list[ItemView],
    offers: list[OfferRule],
    live: list[LiveProposal],
    now: datetime,
    *,
    local_now: time | None = None,
    weekly_counts: Mapping[str, int] | None = None,
) -> ProposalPlan:
    """Proposals to open and to withdraw for one fridge at `now`.

    `local_now` is the household's wall-clock time (for quiet hours; defaults to `now`'s UTC time);
    `weekly_counts` maps an offer id to how many proposals it made this household in the last 7 days.
    """
    local = local_now if local_now is not None else now.time()
    counts = weekly_counts or {}
    by_item = {item.item_id: item for item in items}
    offers_by_id = {offer.offer_id: offer for offer in offers}
    withdraw: list[str] = []
    covered: set[str] = set()
    for proposal in live:
        item = by_item.get(proposal.item_id)
        offer = offers_by_id.get(proposal.offer_id)
        still_valid = (
            item is not None
            and offer is not None
            and proposal.expires_at > now
            and _matches(offer, item)
            and _triggered(offer, item, now)
        )
        if still_valid:
            covered.add(proposal.item_id)
        else:
            withdraw.append(proposal.proposal_id)
    create: list[NewProposal] = []
    for item in sorted(items, key=lambda i: i.item_id):
        if item.item_id in covered:
            continue
        candidates = [
            o for o in offers if _matches(o, item) and _triggered(o, item, now) and _allowed(o, counts, local)
        ]
        if not candidates:
            continue
        chosen = _choose(candidates)
        counts = {**counts, chosen.offer_id: counts.get(chosen.offer_id, 0) + 1}
        create.append(NewProposal(item, chosen, chosen.trigger_kind, reason_text(chosen.trigger_kind, item, now)))
    return ProposalPlan(create=tuple(create), withdraw=tuple(sorted(withdraw)))
