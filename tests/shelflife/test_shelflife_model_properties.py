"""Properties of the shelf-life model that must hold for any facts and temperature history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from freshtap.contract import FreshnessState
from freshtap.settings import FreshnessSettings
from freshtap.shelflife import ItemFacts, TemperatureSpan, assess, label_day_end, next_transition

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
TOLERANCE = timedelta(milliseconds=1)
NEVER = datetime.max.replace(tzinfo=UTC)
THRESHOLDS = FreshnessSettings()
ORDER = list(FreshnessState)
PROPERTY = settings(max_examples=60, deadline=None)

ITEMS = [
    ("Greek yogurt", "dairy"),
    ("Whole milk 1 L", "dairy"),
    ("Chicken breast", "poultry"),
    ("Salmon fillet", "seafood"),
    ("Strawberries", "fruit"),
    ("Mystery dessert", "dairy"),
    ("Cheddar", "dairy"),
    ("Orange juice", "beverages"),
]


def later_or_equal(a: datetime | None, b: datetime | None) -> bool:
    """a >= b - tolerance, with None meaning never."""
    return (a or NEVER) >= (b or NEVER) - TOLERANCE


@st.composite
def histories(draw: st.DrawFn, low: float = -25.0, high: float = 30.0) -> list[TemperatureSpan]:
    """Time-ordered spans from around T0, with gaps, over up to a few weeks."""
    cursor = T0 + draw(st.floats(-24, 48)) * H
    spans: list[TemperatureSpan] = []
    for _ in range(draw(st.integers(0, 6))):
        cursor += draw(st.sampled_from([0.0, 0.0, 2.5, 30.0])) * H
        length = draw(st.floats(0.1, 72)) * H
        spans.append(TemperatureSpan(cursor, cursor + length, draw(st.floats(low, high))))
        cursor += length
    return spans


@st.composite
def item_facts(
    draw: st.DrawFn, label: bool | None = None, opened: bool | None = None, compartment: str | None = None
) -> ItemFacts:
    name, category = draw(st.sampled_from(ITEMS))
    with_label = draw(st.booleans()) if label is None else label
    with_opened = draw(st.booleans()) if opened is None else opened
    return ItemFacts(
        name=name,
        category=category,
        added_at=T0,
        label_expiry=(T0.date() + timedelta(days=draw(st.integers(-2, 30)))) if with_label else None,
        expiry_kind=draw(st.sampled_from(["expiry", "best_before", None])) if with_label else None,
        opened_at=(T0 + draw(st.floats(0, 300)) * H) if with_opened else None,
        compartment=compartment or draw(st.sampled_from(["fridge", "door", "freezer"])),
    )


moments = st.floats(0, 900).map(lambda h: T0 + h * H)


@PROPERTY
@given(item_facts(), histories(), st.data(), moments)
def test_warmer_never_lengthens_life(
    facts: ItemFacts, spans: list[TemperatureSpan], data: st.DataObject, now: datetime
) -> None:
    if not spans:
        return
    index = data.draw(st.integers(0, len(spans) - 1))
    warmer = list(spans)
    warmer[index] = replace(spans[index], temp_c=spans[index].temp_c + data.draw(st.floats(0, 30)))
    before = assess(facts, now, THRESHOLDS, spans)
    after = assess(facts, now, THRESHOLDS, warmer)
    assert later_or_equal(before.expires_at, after.expires_at)
    if before.expires_at is None or abs(before.expires_at - (after.expires_at or NEVER)) > TOLERANCE:
        assert ORDER.index(after.state) >= ORDER.index(before.state)


@PROPERTY
@given(item_facts(opened=False), histories(), st.floats(0, 300), moments)
def test_opening_never_lengthens_life(
    facts: ItemFacts, spans: list[TemperatureSpan], opened_after: float, now: datetime
) -> None:
    closed = assess(facts, now, THRESHOLDS, spans)
    opened = assess(replace(facts, opened_at=T0 + opened_after * H), now, THRESHOLDS, spans)
    assert later_or_equal(closed.expires_at, opened.expires_at)


@PROPERTY
@given(item_facts(label=True), histories(), moments)
def test_a_use_by_date_bounds_everything(
    facts: ItemFacts, spans: list[TemperatureSpan], now: datetime
) -> None:
    facts = replace(facts, expiry_kind="expiry")
    assert facts.label_expiry is not None
    result = assess(facts, now, THRESHOLDS, spans)
    assert result.expires_at is not None
    assert result.expires_at <= label_day_end(facts.label_expiry)
    if now >= label_day_end(facts.label_expiry):
        assert result.state is FreshnessState.EXPIRED


@PROPERTY
@given(
    item_facts(label=False, opened=False, compartment="fridge"),
    histories(low=-11.0, high=30.0),
    st.data(),
    st.floats(0.5, 500),
    st.floats(-30, -12),
)
def test_frozen_time_does_not_count(
    facts: ItemFacts, spans: list[TemperatureSpan], data: st.DataObject, frozen_hours: float, frozen_c: float
) -> None:
    # Insert a frozen stretch at a span boundary and push everything after it later: the
    # deadline moves by exactly the frozen time, or not at all if it came before.
    boundaries = [T0] + [s.end for s in spans if s.end > T0]
    cut = data.draw(st.sampled_from(boundaries))
    pause = frozen_hours * H
    shifted = [s if s.end <= cut else replace(s, start=s.start + pause, end=s.end + pause) for s in spans]
    with_frozen = [*shifted, TemperatureSpan(cut, cut + pause, frozen_c)]
    if any(s.start < cut < s.end for s in spans):
        return  # the cut must not split a span (it only does when spans started before T0)
    base = assess(facts, T0, THRESHOLDS, spans).expires_at
    moved = assess(facts, T0, THRESHOLDS, with_frozen).expires_at
    assert base is not None and moved is not None
    expected = base + pause if base > cut else base
    assert abs(moved - expected) <= TOLERANCE


@PROPERTY
@given(item_facts(), histories(), st.data(), moments)
def test_batching_of_readings_does_not_matter(
    facts: ItemFacts, spans: list[TemperatureSpan], data: st.DataObject, now: datetime
) -> None:
    if not spans:
        return
    index = data.draw(st.integers(0, len(spans) - 1))
    span = spans[index]
    middle = span.start + (span.end - span.start) * data.draw(st.floats(0.01, 0.99))
    split = [*spans[:index], replace(span, end=middle), replace(span, start=middle), *spans[index + 1 :]]
    reordered = list(reversed(split))
    one = assess(facts, now, THRESHOLDS, spans)
    for other in (assess(facts, now, THRESHOLDS, split), assess(facts, now, THRESHOLDS, reordered)):
        if one.expires_at is None:
            assert other.expires_at is None
        else:
            assert other.expires_at is not None and abs(other.expires_at - one.expires_at) <= TOLERANCE
        assert abs(other.hours_lost_to_temperature - one.hours_lost_to_temperature) < 1e-6
        assert other.basis is one.basis


@PROPERTY
@given(item_facts(), histories(), moments, st.sampled_from([None, 24.0, 200.0]))
def test_next_transition_is_exact(
    facts: ItemFacts, spans: list[TemperatureSpan], now: datetime, due_soon: float | None
) -> None:
    state = assess(facts, now, THRESHOLDS, spans, due_soon).state
    step = next_transition(facts, now, THRESHOLDS, spans, due_soon)
    if step is None:
        assert assess(facts, now + timedelta(days=3650), THRESHOLDS, spans, due_soon).state is state
        return
    assert step > now
    assert assess(facts, step - timedelta(microseconds=1), THRESHOLDS, spans, due_soon).state is state
    assert assess(facts, step, THRESHOLDS, spans, due_soon).state is not state


@PROPERTY
@given(item_facts(), histories(), moments, st.floats(0, 500))
def test_states_only_move_forward_in_time(
    facts: ItemFacts, spans: list[TemperatureSpan], now: datetime, later: float
) -> None:
    first = assess(facts, now, THRESHOLDS, spans)
    second = assess(facts, now + later * H, THRESHOLDS, spans)
    assert second.expires_at == first.expires_at  # the deadline does not depend on when you ask
    assert ORDER.index(second.state) >= ORDER.index(first.state)


def test_label_dates_are_dates() -> None:
    assert label_day_end(date(2026, 12, 31)) == datetime(2027, 1, 1, tzinfo=UTC)
