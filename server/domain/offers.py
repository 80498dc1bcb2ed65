"""Which merchant offer to propose for which item: pure rules over frozen data, time passed in.

`plan_proposals` says, for one fridge at `now`, which proposals to open and which to withdraw;
`preview_offer` says, for one offer (saved or a draft), what it would do to each item it matches
now and what holds it back. Both use the same rules:

- An offer *matches* an item by GTIN, by category (case-insensitive) or by FoodKeeper product
  (the item's GTIN listed in a merchant catalog with that FoodKeeper product id), and is
  *triggered* by `expiring` (expiry within N h), `low_fill` (fill below a fraction) or `runout`
  (forecast run-out within N h).
- A live proposal is withdrawn when its item left, its offer is gone or inactive, it lapsed,
  the offer no longer matches or triggers, the offer is outside its validity window
  (`valid_from` <= now < `valid_until`), the household opted out of offers, or muted the item's
  category.
- A new proposal is held back (`Block`) by, in this order: opt-out, a muted category, the
  validity window, the dismissal cooldown (no proposal from an offer for an item key within
  `cooldown_hours` after the household dismissed that offer for that key), the weekly cap
  (proposals of that offer to the household in the *rolling* last 7 days, both ends included),
  and quiet hours (in the household's own time zone; a window may wrap midnight).
- Never two live proposals for one item: an item that has one keeps it; a better offer that
  appears later waits until that one closes.
- Several eligible offers for one item: the lowest effective price wins, then the earliest
  `valid_until` (an offer about to end goes first; none counts as never ending), then the oldest
  offer, then the offer id; the winner carries a short explanation ("cheapest of 3 matching
  offers").

The *item key* that a dismissal cools down is the item's GTIN, or `category:<name>` for an item
without one; so dismissing the milk offer for one bottle keeps that offer away from milk, but not
from the yoghurt the same category offer also matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

__all__ = [
    "WEEK",
    "Block",
    "Dismissal",
    "HouseholdContext",
    "ItemView",
    "LiveProposal",
    "NewProposal",
    "OfferRule",
    "PastProposal",
    "PreviewItem",
    "PreviewMatch",
    "ProposalPlan",
    "TriggerKind",
    "block_for",
    "choose",
    "cooldown_ends",
    "effective_price",
    "in_quiet_hours",
    "item_key",
    "matches",
    "plan_proposals",
    "preview_offer",
    "reason_text",
    "triggered",
    "valid_at",
    "weekly_count",
]

TriggerKind = Literal["expiring", "low_fill", "runout"]
Block = Literal[
    "quiet_hours", "weekly_cap", "cooldown", "muted", "opted_out", "outside_validity", "better_offer"
]

WEEK = timedelta(days=7)
"""The weekly cap's window: rolling, the last 7 days up to and including now."""


@dataclass(frozen=True)
class ItemView:
    item_id: str
    name: str
    gtin: str | None
    category: str
    fill: float | None
    expires_at: datetime | None
    runout_at: datetime | None = None
    foodkeeper_product_id: int | None = None


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
    """The list price before any discount: the offer's own price, else the product's."""
    currency: str
    created_at: datetime
    max_per_household_per_week: int | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    match_foodkeeper: int | None = None
    discount_percent: float | None = None
    discount_minor: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    cooldown_hours: float = 72.0


@dataclass(frozen=True)
class LiveProposal:
    proposal_id: str
    item_id: str
    offer_id: str
    expires_at: datetime


@dataclass(frozen=True)
class PastProposal:
    """A proposal made to the household (any status), for the weekly cap."""

    offer_id: str
    created_at: datetime


@dataclass(frozen=True)
class Dismissal:
    """The household dismissed `offer_id`'s proposal for an item with this key at `at`."""

    offer_id: str
    item_key: str
    at: datetime


@dataclass(frozen=True)
class HouseholdContext:
    zone: tzinfo = UTC
    opted_in: bool = True
    muted_categories: frozenset[str] = frozenset()
    """Lower-case category names."""
    recent: tuple[PastProposal, ...] = ()
    """Proposals made to the household in the last 7 days (all its fridges)."""
    dismissals: tuple[Dismissal, ...] = ()


@dataclass(frozen=True)
class NewProposal:
    item: ItemView
    offer: OfferRule
    reason_kind: TriggerKind
    reason_text: str
    price_minor: int = 0
    """The effective price, after the discount."""
    explanation: str = ""
    """Why this offer among those that matched ("cheapest of 3 matching offers")."""


@dataclass(frozen=True)
class ProposalPlan:
    create: tuple[NewProposal, ...]
    withdraw: tuple[str, ...]
    """Proposal ids to close: their item is gone, their offer no longer applies, or they lapsed."""


@dataclass(frozen=True)
class PreviewItem:
    """One present item of one fridge, with what `preview_offer` needs to know around it."""

    fridge_id: str
    item: ItemView
    household: HouseholdContext
    competitors: tuple[OfferRule, ...] = ()
    """Other active offers (any merchant); those that do not match the item are ignored."""
    live_offer_id: str | None = None
    """The offer of the item's live proposal, if it has one."""


@dataclass(frozen=True)
class PreviewMatch:
    fridge_id: str
    item: ItemView
    reason_kind: TriggerKind
    reason_text: str
    price_minor: int
    currency: str
    eligible: bool
    blocked_by: Block | None
    explanation: str


# --- matching ---------------------------------------------------------------------------------


def item_key(item: ItemView) -> str:
    """What a dismissal cools down: the GTIN, or the category for an item without one."""
    return item.gtin if item.gtin else f"category:{item.category.lower()}"


def matches(offer: OfferRule, item: ItemView) -> bool:
    if offer.match_gtin is not None:
        return item.gtin == offer.match_gtin
    if offer.match_category is not None:
        return item.category.lower() == offer.match_category.lower()
    if offer.match_foodkeeper is not None:
        return item.foodkeeper_product_id == offer.match_foodkeeper
    return False


def triggered(offer: OfferRule, item: ItemView, now: datetime) -> bool:
    if offer.trigger_kind == "expiring":
        if item.expires_at is None or offer.within_hours is None:
            return False
        return item.expires_at - now <= timedelta(hours=offer.within_hours)
    if offer.trigger_kind == "low_fill":
        return item.fill is not None and offer.below is not None and item.fill < offer.below
    if item.runout_at is None or offer.within_hours is None:
        return False
    return item.runout_at - now <= timedelta(hours=offer.within_hours)


def valid_at(offer: OfferRule, now: datetime) -> bool:
    """Inside the validity window: `valid_from` <= now < `valid_until` (an open end is unbounded)."""
    if offer.valid_from is not None and now < offer.valid_from:
        return False
    return offer.valid_until is None or now < offer.valid_until


def effective_price(offer: OfferRule) -> int:
    """The list price less the discount (a percentage rounds half up to a minor unit), never below 0."""
    price = offer.price_minor
    if offer.discount_percent is not None:
        off = (Decimal(price) * Decimal(str(offer.discount_percent)) / 100).quantize(Decimal(1), ROUND_HALF_UP)
        price -= int(off)
    if offer.discount_minor is not None:
        price -= offer.discount_minor
    return max(0, price)


# --- what holds a proposal back ----------------------------------------------------------------


def in_quiet_hours(offer: OfferRule, local_now: time) -> bool:
    """Whether `local_now` (the household's wall time) falls in the offer's quiet hours.

    Quiet hours may wrap midnight (22:00-07:00); start == end means none.
    """
    start, end = offer.quiet_start, offer.quiet_end
    if start is None or end is None or start == end:
        return False
    local_now = local_now.replace(tzinfo=None)
    if start < end:
        return start <= local_now < end
    return local_now >= start or local_now < end


def weekly_count(offer_id: str, recent: Iterable[PastProposal], now: datetime) -> int:
    """Proposals of `offer_id` in the rolling window [now - 7 days, now]."""
    return sum(1 for p in recent if p.offer_id == offer_id and now - WEEK <= p.created_at <= now)


def cooldown_ends(offer: OfferRule, item: ItemView, dismissals: Iterable[Dismissal]) -> datetime | None:
    """When the latest dismissal of `offer` for this item's key stops holding it back (None: never dismissed)."""
    key = item_key(item)
    latest = max((d.at for d in dismissals if d.offer_id == offer.offer_id and d.item_key == key), default=None)
    return None if latest is None else latest + timedelta(hours=offer.cooldown_hours)



def _withdrawing_block(offer: OfferRule, item: ItemView, household: HouseholdContext, now: datetime) -> Block | None:
    """What ends a live proposal as well as holding a new one back."""
    if not household.opted_in:
        return "opted_out"
    if item.category.lower() in household.muted_categories:
        return "muted"
    if not valid_at(offer, now):
        return "outside_validity"
    return None


def block_for(
    offer: OfferRule,
    item: ItemView,
    household: HouseholdContext,
    now: datetime,
    extra_counts: Mapping[str, int] | None = None,
) -> Block | None:
    """Why `offer` may not open a proposal for `item` now (None: it may).

    `extra_counts` adds proposals this planning round already made (not yet in `household.recent`).
    """
    withdrawing = _withdrawing_block(offer, item, household, now)
    if withdrawing is not None:
        return withdrawing
    ends = cooldown_ends(offer, item, household.dismissals)
    if ends is not None and now < ends:
        return "cooldown"
    cap = offer.max_per_household_per_week
    if cap is not None:
        made = weekly_count(offer.offer_id, household.recent, now) + (extra_counts or {}).get(offer.offer_id, 0)
        if made >= cap:
            return "weekly_cap"
    if in_quiet_hours(offer, now.astimezone(household.zone).time()):
        return "quiet_hours"
    return None


# --- choosing among merchants ------------------------------------------------------------------

_NEVER = datetime.max.replace(tzinfo=UTC)


def _rank(offer: OfferRule) -> tuple[int, datetime, datetime, str]:
    return (effective_price(offer), offer.valid_until or _NEVER, offer.created_at, offer.offer_id)


def choose(candidates: Sequence[OfferRule]) -> tuple[OfferRule, str]:
    """The winning offer among eligible candidates, and a short explanation of the choice."""
    ranked = sorted(candidates, key=_rank)
    best = ranked[0]
    n = len(ranked)
    if n == 1:
        return best, "the only matching offer"
    head = f"cheapest of {n} matching offers"
    runner = _rank(ranked[1])
    mine = _rank(best)
    if mine[0] < runner[0]:
        return best, head
    if mine[1] < runner[1]:
        return best, f"{head} (tied on price; ends soonest)"
    if mine[2] < runner[2]:
        return best, f"{head} (tied on price; listed first)"
    return best, f"{head} (tied on price; lowest offer id)"


# --- texts -------------------------------------------------------------------------------------


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


_BLOCK_TEXT: dict[Block, str] = {
    "opted_out": "the household has not opted in to offers",
    "muted": "the household muted this category",
    "outside_validity": "the offer is outside its validity window",
    "cooldown": "the household dismissed this offer for this product recently",
    "weekly_cap": "the weekly cap for this household is reached",
    "quiet_hours": "it is the household's quiet hours",
    "better_offer": "another offer wins for this item",
}


# --- planning one fridge -----------------------------------------------------------------------


def plan_proposals(
    items: Sequence[ItemView],
    offers: Sequence[OfferRule],
    live: Sequence[LiveProposal],
    now: datetime,
    household: HouseholdContext | None = None,
) -> ProposalPlan:
    """Proposals to open and to withdraw for one fridge at `now` (the module docstring has the rules)."""
    hh = household or HouseholdContext()
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
            and proposal.item_id not in covered
            and matches(offer, item)
            and triggered(offer, item, now)
            and _withdrawing_block(offer, item, hh, now) is None
        )
        if still_valid:
            covered.add(proposal.item_id)
        else:
            withdraw.append(proposal.proposal_id)
    create: list[NewProposal] = []
    made: dict[str, int] = {}
    for item in sorted(items, key=lambda i: i.item_id):
        if item.item_id in covered:
            continue
        candidates = [
            o
            for o in offers
            if matches(o, item) and triggered(o, item, now) and block_for(o, item, hh, now, made) is None
        ]
        if not candidates:
            continue
        chosen, why = choose(candidates)
        covered.add(item.item_id)
        made[chosen.offer_id] = made.get(chosen.offer_id, 0) + 1
        create.append(
            NewProposal(
                item,
                chosen,
                chosen.trigger_kind,
                reason_text(chosen.trigger_kind, item, now),
                price_minor=effective_price(chosen),
                explanation=why,
            )
        )
    return ProposalPlan(create=tuple(create), withdraw=tuple(sorted(withdraw)))


# --- previewing one offer ----------------------------------------------------------------------


def _preview_one(offer: OfferRule, entry: PreviewItem, now: datetime) -> PreviewMatch:
    item, hh = entry.item, entry.household
    kind = offer.trigger_kind

    def result(block: Block | None, explanation: str) -> PreviewMatch:
        return PreviewMatch(
            fridge_id=entry.fridge_id,
            item=item,
            reason_kind=kind,
            reason_text=reason_text(kind, item, now),
            price_minor=effective_price(offer),
            currency=offer.currency,
            eligible=block is None,
            blocked_by=block,
            explanation=explanation,
        )

    withdrawing = _withdrawing_block(offer, item, hh, now)
    if withdrawing is not None:
        return result(withdrawing, _BLOCK_TEXT[withdrawing])
    if entry.live_offer_id == offer.offer_id:
        return result(None, "shown now")
    if entry.live_offer_id is not None:
        return result("better_offer", "another offer is already shown for this item")
    block = block_for(offer, item, hh, now)
    if block is not None:
        return result(block, _BLOCK_TEXT[block])
    rivals = [
        o
        for o in entry.competitors
        if o.offer_id != offer.offer_id
        and matches(o, item)
        and triggered(o, item, now)
        and block_for(o, item, hh, now) is None
    ]
    chosen, why = choose([offer, *rivals])
    if chosen.offer_id != offer.offer_id:
        return result("better_offer", f"another offer wins ({why})")
    return result(None, why)


def preview_offer(offer: OfferRule, entries: Iterable[PreviewItem], now: datetime) -> list[PreviewMatch]:
    """What `offer` would do now to each item it matches and triggers for (others are left out).

    Every match says whether the offer would be shown (`eligible`) and, if not, the first rule that
    holds it back. Items are judged one by one: the weekly cap counts proposals already made, not
    the ones this preview would add.
    """
    return [
        _preview_one(offer, entry, now)
        for entry in entries
        if matches(offer, entry.item) and triggered(offer, entry.item, now)
    ]

