"""The shelf-life model: one item's facts, its temperatures and `now` in; its freshness out.

Pure: no clock reads, no I/O beyond the packaged FoodKeeper table. The rules (docs/shelf-life.md):

- Clocks. A label date (GS1 AI 17 use-by, or AI 15 best-before plus `BEST_BEFORE_GRACE`) starts
  a clock at `added_at` that ends at the end of the label day; without a label date, the
  FoodKeeper refrigerator life from purchase (the product's, else the category's fallback) does.
  Opening starts a second clock with the FoodKeeper after-opening life. The earliest governs.
- Temperature. Clocks spend reference hours (hours at 4 °C) at the Q10 rate of `rate_law`.
  Reference clocks pause while frozen; label clocks never run slower than real time, so a label
  date is never extended, only brought forward by warmth.
- Basis. `label`, `reference` or `opened` names the clock that governs; `temperature` when
  warmth brought the deadline earlier than it would be at 4 °C.
- States from hours left until `expires_at`: <= 0 expired, < `expiring_hours` expiring,
  < `use_soon_hours` (or `due_soon_hours`) use_soon, else fresh; past a best-before date, at
  least expiring.

The deadlines depend on the facts and temperatures only, never on `now`; only the state and
the wording do. That is what lets `next_transition` name the exact instant a state changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from freshtap.contract import Basis, FreshnessState
from freshtap.settings import FreshnessSettings
from freshtap.shelflife.assessment import Assessment, state_for_hours
from freshtap.shelflife.categories import CATEGORY_WORDS, category_rule, normalise_category
from freshtap.shelflife.explanation import ago, hours_text, sentence, until
from freshtap.shelflife.facts import ItemFacts, TemperatureSpan
from freshtap.shelflife.label import BEST_BEFORE_GRACE, label_day_end
from freshtap.shelflife.rate_law import REFERENCE_TEMP_C, RateLaw, rate_law
from freshtap.shelflife.reference import ReferenceProduct, load_reference
from freshtap.shelflife.timeline import Rate, Timeline, hours_between

__all__ = ["FREEZER_COMPARTMENTS", "assess", "next_transition"]

FREEZER_COMPARTMENTS = frozenset({"freezer"})
"""Compartments whose unmeasured time counts as frozen (rate 0); any other is a fridge (rate 1)."""

# When two clocks end at the same instant, the first of these names the basis.
_PRIORITY = {Basis.LABEL: 0, Basis.OPENED: 1, Basis.REFERENCE: 2}
_ORDER = [FreshnessState.FRESH, FreshnessState.USE_SOON, FreshnessState.EXPIRING, FreshnessState.EXPIRED]
_SAME_INSTANT = timedelta(seconds=1)
_LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Clock:
    basis: Basis
    start: datetime
    budget_hours: float
    is_label: bool
    reason: str
    """What the explanation says about this clock; `{added}`/`{opened}` are filled in with `now`."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    """Everything about an item that does not depend on `now`."""

    expires_at: datetime | None
    basis: Basis
    best_before_at: datetime | None
    product: ReferenceProduct | None
    hours_lost: float
    reasons: tuple[str, ...]
    warmth: str | None
    known: bool


@dataclass(frozen=True, slots=True)
class _Rates:
    actual: Rate
    actual_label: Rate
    nominal: Rate
    nominal_label: Rate


def _rates(law: RateLaw, frozen_when_unmeasured: bool) -> _Rates:
    gap = 0.0 if frozen_when_unmeasured else 1.0

    def actual(temp: float | None) -> float:
        return gap if temp is None else law.rate(temp)

    def actual_label(temp: float | None) -> float:
        return max(actual(temp), 1.0)

    def nominal(temp: float | None) -> float:
        return min(actual(temp), 1.0)

    def nominal_label(temp: float | None) -> float:
        return 1.0

    return _Rates(actual, actual_label, nominal, nominal_label)


def _require_aware(now: datetime) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def _product(facts: ItemFacts) -> ReferenceProduct | None:
    table = load_reference()
    if facts.reference_product_id is not None:
        chosen = table.product(facts.reference_product_id)
        if chosen is not None:
            return chosen
    return table.find(facts.name, facts.category)


def _law(facts: ItemFacts, product: ReferenceProduct | None) -> RateLaw:
    rule = category_rule(facts.category)
    if rule is not None:
        return rate_law(rule.rate_group)
    if product is not None:
        table = load_reference()
        for word, other in CATEGORY_WORDS.items():
            if product.category_id in table.foodkeeper_category_ids(word):
                return rate_law(other.rate_group)
    return rate_law("default")


def _clocks(facts: ItemFacts, product: ReferenceProduct | None) -> list[_Clock]:
    clocks: list[_Clock] = []
    category = normalise_category(facts.category)
    fallback = load_reference().category_life(facts.category)
    if facts.label_expiry is not None:
        end = label_day_end(facts.label_expiry)
        if facts.expiry_kind == "best_before":
            grace = hours_text(BEST_BEFORE_GRACE.total_seconds() / 3600)
            reason = f"best before {facts.label_expiry:%d %b} on the label, then {grace} grace"
            end = min(end, _LATEST - BEST_BEFORE_GRACE) + BEST_BEFORE_GRACE
        else:
            reason = f"use by {facts.label_expiry:%d %b} on the label"
        clocks.append(_Clock(Basis.LABEL, facts.added_at, hours_between(facts.added_at, end), True, reason))
    elif product is not None and product.refrigerate is not None:
        life = product.refrigerate
        reason = f"FoodKeeper {product.label}: {life.describe()} in the fridge; added {{added}}"
        clocks.append(_Clock(Basis.REFERENCE, facts.added_at, life.min_hours, False, reason))
    elif fallback is not None and fallback.refrigerate_hours is not None:
        hours = fallback.refrigerate_hours
        reason = f"typical {category} life {hours_text(hours)} in the fridge (FoodKeeper); added {{added}}"
        if product is not None:
            reason = f"FoodKeeper {product.label} has no fridge time from purchase; {reason}"
        clocks.append(_Clock(Basis.REFERENCE, facts.added_at, hours, False, reason))
    if facts.opened_at is not None:
        if product is not None and product.refrigerate_after_opening is not None:
            life = product.refrigerate_after_opening
            reason = f"opened {{opened}}; FoodKeeper {product.label}: {life.describe()} after opening"
            clocks.append(_Clock(Basis.OPENED, facts.opened_at, life.min_hours, False, reason))
        elif fallback is not None and fallback.after_opening_hours is not None:
            hours = fallback.after_opening_hours
            reason = f"opened {{opened}}; typical {category} life {hours_text(hours)} after opening"
            clocks.append(_Clock(Basis.OPENED, facts.opened_at, hours, False, reason))
    return clocks


def _warmth(timeline: Timeline, start: datetime, end: datetime | None, hours_lost: float) -> str | None:
    if hours_lost <= 0 or not timeline.segments:
        return None
    stop = end if end is not None else timeline.segments[-1].end
    if stop <= start:
        return None
    warm = [(a, b, t) for a, b, t in timeline.pieces(start, stop) if t is not None and t > REFERENCE_TEMP_C]
    if not warm:
        return None
    hours = sum(hours_between(a, b) for a, b, _ in warm)
    peak = max(t for _, _, t in warm)
    return f"{hours_text(hours)} above 4 °C (up to {peak:.0f} °C) took {hours_text(hours_lost)} off"


def _outcome(facts: ItemFacts, temperatures: Sequence[TemperatureSpan]) -> _Outcome:
    product = _product(facts)
    clocks = _clocks(facts, product)
    if not clocks:
        return _Outcome(None, Basis.REFERENCE, None, product, 0.0, (), None, False)
    timeline = Timeline(temperatures)
    rates = _rates(_law(facts, product), facts.compartment.strip().lower() in FREEZER_COMPARTMENTS)

    def ends(clock: _Clock, nominal: bool) -> datetime | None:
        if clock.is_label:
            rate = rates.nominal_label if nominal else rates.actual_label
        else:
            rate = rates.nominal if nominal else rates.actual
        return timeline.deadline(clock.start, clock.budget_hours, rate)

    actual = [(ends(c, nominal=False), c) for c in clocks]
    never = _LATEST
    expires_at, governing = min(actual, key=lambda pair: (pair[0] or never, _PRIORITY[pair[1].basis]))
    best_nominal: datetime | None = None
    for clock in clocks:
        candidate = ends(clock, nominal=True)
        if candidate is not None and (best_nominal is None or candidate < best_nominal):
            best_nominal = candidate

    basis = governing.basis
    if expires_at is not None and (best_nominal is None or expires_at < best_nominal - _SAME_INSTANT):
        basis = Basis.TEMPERATURE
    stop = (
        expires_at if expires_at is not None else (timeline.segments[-1].end if timeline.segments else None)
    )
    hours_lost = 0.0
    if stop is not None:
        fast = rates.actual_label if governing.is_label else rates.actual
        slow = rates.nominal_label if governing.is_label else rates.nominal
        hours_lost = max(
            0.0, timeline.spent(governing.start, stop, fast) - timeline.spent(governing.start, stop, slow)
        )

    best_before_at: datetime | None = None
    if facts.label_expiry is not None and facts.expiry_kind == "best_before":
        budget = hours_between(facts.added_at, label_day_end(facts.label_expiry))
        best_before_at = timeline.deadline(facts.added_at, budget, rates.actual_label)

    ordered = sorted(actual, key=lambda pair: (pair[1] is not governing, pair[0] or never))
    return _Outcome(
        expires_at=None if expires_at is None else expires_at.astimezone(UTC),
        basis=basis,
        best_before_at=None if best_before_at is None else best_before_at.astimezone(UTC),
        product=product,
        hours_lost=hours_lost,
        reasons=tuple(c.reason for _, c in ordered),
        warmth=_warmth(timeline, governing.start, expires_at, hours_lost),
        known=True,
    )


def _state(
    outcome: _Outcome, now: datetime, thresholds: FreshnessSettings, due_soon_hours: float | None
) -> tuple[FreshnessState, bool]:
    hours_left = None if outcome.expires_at is None else hours_between(now, outcome.expires_at)
    state = state_for_hours(hours_left, thresholds, due_soon_hours)
    past_best_before = outcome.best_before_at is not None and outcome.best_before_at <= now
    if past_best_before and _ORDER.index(state) < _ORDER.index(FreshnessState.EXPIRING):
        state = FreshnessState.EXPIRING
    return state, past_best_before


def _explain(facts: ItemFacts, outcome: _Outcome, now: datetime, past_best_before: bool) -> str:
    if not outcome.known:
        found = (
            f"FoodKeeper {outcome.product.label} gives no fridge time"
            if outcome.product is not None
            else f"no FoodKeeper product matches {facts.name!r}"
        )
        return f"freshness unknown: no label date, {found} and category {facts.category!r} has no fallback"
    added = ago(facts.added_at, now)
    opened = ago(facts.opened_at, now) if facts.opened_at is not None else ""
    reasons = [r.replace("{added}", added).replace("{opened}", opened) for r in outcome.reasons]
    if outcome.warmth:
        reasons.append(outcome.warmth)
    head = until(outcome.expires_at, now)
    if outcome.expires_at is None and facts.compartment.strip().lower() in FREEZER_COMPARTMENTS:
        head = "no expiry while frozen"
    if past_best_before and (outcome.expires_at is None or now < outcome.expires_at):
        head = f"past its best-before date, {head}"
    return sentence(head, reasons)


def assess(
    facts: ItemFacts,
    now: datetime,
    thresholds: FreshnessSettings,
    temperatures: Sequence[TemperatureSpan] = (),
    due_soon_hours: float | None = None,
) -> Assessment:
    """How fresh the item is at `now`, when it expires and why.

    `temperatures` are the spans of the item's compartment (from `added_at` on, gaps allowed);
    `due_soon_hours` overrides `thresholds.use_soon_hours` for this product.
    """
    _require_aware(now)
    outcome = _outcome(facts, temperatures)
    state, past_best_before = _state(outcome, now, thresholds, due_soon_hours)
    return Assessment(
        state=state,
        expires_at=outcome.expires_at,
        basis=outcome.basis,
        explanation=_explain(facts, outcome, now, past_best_before),
        past_best_before=past_best_before,
        reference_product_id=None if outcome.product is None else outcome.product.id,
        reference_name=None if outcome.product is None else outcome.product.label,
        hours_lost_to_temperature=round(outcome.hours_lost, 6),
        best_before_at=outcome.best_before_at,
    )


def next_transition(
    facts: ItemFacts,
    now: datetime,
    thresholds: FreshnessSettings,
    temperatures: Sequence[TemperatureSpan] = (),
    due_soon_hours: float | None = None,
) -> datetime | None:
    """The first instant after `now` (to the microsecond) at which `assess` reports another state.

    Assumes no new facts or temperatures arrive; None when the state will never change.
    """
    _require_aware(now)
    outcome = _outcome(facts, temperatures)
    current, _ = _state(outcome, now, thresholds, due_soon_hours)
    candidates: list[datetime] = []
    if outcome.expires_at is not None:
        use_soon = thresholds.use_soon_hours if due_soon_hours is None else due_soon_hours
        for hours in (use_soon, thresholds.expiring_hours, 0.0):
            candidates.append(outcome.expires_at - timedelta(hours=hours))
    if outcome.best_before_at is not None:
        candidates.append(outcome.best_before_at)
    # A state changes just after a boundary (states use strict `<`), so a boundary at `now`
    # itself, or a microsecond of float rounding either side, still counts.
    tick = timedelta(microseconds=1)
    for candidate in sorted(c for c in candidates if c >= now - 2 * tick):
        for step in range(3):
            if candidate > _LATEST - step * tick:
                break
            instant = candidate + step * tick
            if instant > now and _state(outcome, instant, thresholds, due_soon_hours)[0] != current:
                return instant
    return None
