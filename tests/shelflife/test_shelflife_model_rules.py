"""The model's rules, one example each. Durations come from the packaged table, not from here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from freshtap.contract import Basis, FreshnessState
from freshtap.settings import FreshnessSettings
from freshtap.shelflife import (
    BEST_BEFORE_GRACE,
    ItemFacts,
    TemperatureSpan,
    assess,
    category_life,
    find_product,
    label_day_end,
    next_transition,
    rate_law,
    spoilage_rate,
)

H = timedelta(hours=1)
ADDED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def milk(**changes: object) -> ItemFacts:
    base: dict[str, object] = {
        "name": "Whole milk 1 L",
        "category": "dairy",
        "added_at": ADDED,
        "label_expiry": date(2026, 11, 25),
        "expiry_kind": "expiry",
    }
    base.update(changes)
    return ItemFacts(**base)  # type: ignore[arg-type]  # a test's loose kwargs


def yogurt_hours() -> float:
    product = find_product("Yogurt", "dairy")
    assert product is not None and product.refrigerate is not None
    return product.refrigerate.min_hours


# --- label ------------------------------------------------------------------------------------


def test_label_date_ends_at_the_end_of_that_day_utc(settings: FreshnessSettings) -> None:
    result = assess(milk(), NOW, settings)
    assert result.expires_at == datetime(2026, 11, 26, tzinfo=UTC) == label_day_end(date(2026, 11, 25))
    assert result.basis is Basis.LABEL
    assert "25 Nov" in result.explanation and "label" in result.explanation


def test_use_by_is_expired_from_the_first_instant_after_the_day(settings: FreshnessSettings) -> None:
    end = label_day_end(date(2026, 11, 25))
    assert assess(milk(), end - timedelta(microseconds=1), settings).state is FreshnessState.EXPIRING
    assert assess(milk(), end, settings).state is FreshnessState.EXPIRED
    assert not assess(milk(), end, settings).past_best_before


def test_missing_expiry_kind_is_read_as_use_by(settings: FreshnessSettings) -> None:
    assert assess(milk(expiry_kind=None), NOW, settings).expires_at == label_day_end(date(2026, 11, 25))


def test_label_beats_the_reference(settings: FreshnessSettings) -> None:
    far = (ADDED + timedelta(days=60)).date()
    result = assess(ItemFacts("Greek yogurt", "dairy", ADDED, label_expiry=far), NOW, settings)
    assert result.basis is Basis.LABEL
    assert result.expires_at == label_day_end(far)


def test_best_before_grace(settings: FreshnessSettings) -> None:
    facts = milk(expiry_kind="best_before")
    end = label_day_end(date(2026, 11, 25))
    before = assess(facts, end - H, settings)
    assert not before.past_best_before
    during = assess(facts, end + H, settings)
    assert during.past_best_before and during.state is FreshnessState.EXPIRING
    assert during.expires_at == end + BEST_BEFORE_GRACE
    assert during.best_before_at == end
    assert "best-before" in during.explanation
    after = assess(facts, end + BEST_BEFORE_GRACE, settings)
    assert after.state is FreshnessState.EXPIRED


def test_best_before_is_at_least_expiring_even_with_long_thresholds() -> None:
    wide = FreshnessSettings(use_soon_hours=10, expiring_hours=5)
    end = label_day_end(date(2026, 11, 25))
    assert assess(milk(expiry_kind="best_before"), end + H, wide).state is FreshnessState.EXPIRING


def test_item_added_after_its_use_by_date_is_expired(settings: FreshnessSettings) -> None:
    late = milk(added_at=datetime(2026, 11, 27, tzinfo=UTC))
    result = assess(late, datetime(2026, 11, 27, 1, tzinfo=UTC), settings)
    assert result.state is FreshnessState.EXPIRED
    assert result.expires_at == label_day_end(date(2026, 11, 25))


# --- reference, opening, fallback ---------------------------------------------------------------


def test_reference_from_purchase(settings: FreshnessSettings) -> None:
    result = assess(ItemFacts("Greek yogurt", "dairy", ADDED), NOW, settings)
    assert result.basis is Basis.REFERENCE
    assert result.reference_name == "Yogurt"
    assert result.expires_at == ADDED + yogurt_hours() * H
    assert "FoodKeeper Yogurt" in result.explanation


def test_explicit_reference_product(settings: FreshnessSettings) -> None:
    yogurt = find_product("Yogurt", "dairy")
    assert yogurt is not None
    result = assess(ItemFacts("Skyr", "dairy", ADDED, reference_product_id=yogurt.id), NOW, settings)
    assert result.reference_product_id == yogurt.id


def test_opening_starts_the_after_opening_clock(settings: FreshnessSettings) -> None:
    product = find_product("Milk", "dairy")
    assert product is not None and product.refrigerate_after_opening is not None
    opened = ADDED + 2 * H
    far = date(2026, 12, 31)
    result = assess(milk(opened_at=opened, label_expiry=far), NOW, settings)
    assert result.basis is Basis.OPENED
    assert result.expires_at == opened + product.refrigerate_after_opening.min_hours * H
    assert "opened 3.1 days ago" in result.explanation


def test_the_earliest_deadline_governs(settings: FreshnessSettings) -> None:
    # Opened long ago: the after-opening clock ends before the label date.
    result = assess(milk(opened_at=ADDED - timedelta(days=30)), NOW, settings)
    assert result.basis is Basis.OPENED
    assert result.expires_at is not None and result.expires_at < label_day_end(date(2026, 11, 25))


def test_category_fallback(settings: FreshnessSettings) -> None:
    life = category_life("dairy")
    assert life is not None and life.refrigerate_hours is not None
    result = assess(ItemFacts("Mystery dessert", "dairy", ADDED), NOW, settings)
    assert result.basis is Basis.REFERENCE and result.reference_product_id is None
    assert result.expires_at == ADDED + life.refrigerate_hours * H
    assert "typical dairy" in result.explanation


def test_product_without_fridge_time_falls_back_to_category(settings: FreshnessSettings) -> None:
    life = category_life("dairy")
    assert life is not None and life.refrigerate_hours is not None
    result = assess(milk(label_expiry=None, expiry_kind=None), NOW, settings)
    assert result.reference_name is not None and result.reference_name.startswith("Milk")
    assert result.expires_at == ADDED + life.refrigerate_hours * H
    assert "no fridge time from purchase" in result.explanation


def test_nothing_known(settings: FreshnessSettings) -> None:
    result = assess(ItemFacts("Mystery box", "stuff", ADDED), NOW, settings)
    assert result.state is FreshnessState.FRESH
    assert result.expires_at is None
    assert "unknown" in result.explanation
    assert next_transition(ItemFacts("Mystery box", "stuff", ADDED), NOW, settings) is None


# --- temperature --------------------------------------------------------------------------------


def test_rate_law() -> None:
    law = rate_law("dairy")
    assert spoilage_rate(-18, law.q10) == 0
    assert spoilage_rate(-12, law.q10) == 0
    assert spoilage_rate(0, law.q10) == 1
    assert spoilage_rate(4, law.q10) == 1
    assert spoilage_rate(14, law.q10) == pytest.approx(law.q10)
    assert spoilage_rate(24, law.q10) == pytest.approx(law.q10**2)
    assert rate_law("no such group") == rate_law("default")


def test_warmth_brings_the_deadline_forward(settings: FreshnessSettings) -> None:
    facts = ItemFacts("Greek yogurt", "dairy", ADDED)
    start = ADDED + 24 * H
    warm = [TemperatureSpan(start, start + 6 * H, 12.0)]
    result = assess(facts, NOW, settings, warm)
    rate = rate_law("dairy").rate(12.0)
    lost = 6 * (rate - 1)
    assert result.basis is Basis.TEMPERATURE
    assert result.hours_lost_to_temperature == pytest.approx(lost)
    assert result.expires_at is not None
    expected = ADDED + (yogurt_hours() - lost) * H
    assert abs(result.expires_at - expected) < timedelta(milliseconds=1)
    assert "6 h above 4 °C (up to 12 °C)" in result.explanation
    assert f"took {round(lost)} h off" in result.explanation


def test_warmth_shortens_a_label_date(settings: FreshnessSettings) -> None:
    start = ADDED + 24 * H
    result = assess(milk(), NOW, settings, [TemperatureSpan(start, start + 6 * H, 20.0)])
    assert result.basis is Basis.TEMPERATURE
    assert result.expires_at is not None and result.expires_at < label_day_end(date(2026, 11, 25))


def test_cold_readings_change_nothing(settings: FreshnessSettings) -> None:
    facts = ItemFacts("Greek yogurt", "dairy", ADDED)
    cold = [TemperatureSpan(ADDED, NOW, 2.0)]
    assert assess(facts, NOW, settings, cold) == assess(facts, NOW, settings)


def test_frozen_time_pauses_the_reference(settings: FreshnessSettings) -> None:
    facts = ItemFacts("Greek yogurt", "dairy", ADDED)
    frozen = [TemperatureSpan(ADDED + H, ADDED + 25 * H, -18.0)]
    result = assess(facts, NOW, settings, frozen)
    assert result.expires_at == ADDED + (yogurt_hours() + 24) * H
    assert result.basis is Basis.REFERENCE


def test_freezer_compartment_without_readings_has_no_deadline(settings: FreshnessSettings) -> None:
    facts = ItemFacts("Greek yogurt", "dairy", ADDED, compartment="freezer")
    result = assess(facts, NOW, settings)
    assert result.expires_at is None and result.state is FreshnessState.FRESH
    assert "frozen" in result.explanation


def test_a_warm_freezer_counts(settings: FreshnessSettings) -> None:
    facts = ItemFacts("Greek yogurt", "dairy", ADDED, compartment="freezer")
    thawed = [TemperatureSpan(ADDED, ADDED + 48 * H, 5.0)]
    result = assess(facts, NOW, settings, thawed)
    assert result.expires_at is None  # after the thaw the freezer is assumed frozen again
    long_thaw = [TemperatureSpan(ADDED, ADDED + 10 * yogurt_hours() * H, 5.0)]
    assert assess(facts, NOW, settings, long_thaw).expires_at is not None


def test_frozen_time_never_extends_a_label(settings: FreshnessSettings) -> None:
    frozen = [TemperatureSpan(ADDED, ADDED + 100 * H, -18.0)]
    assert assess(milk(), NOW, settings, frozen).expires_at == label_day_end(date(2026, 11, 25))


# --- states and transitions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours_left", "state"),
    [
        (200.0, FreshnessState.FRESH),
        (96.0, FreshnessState.FRESH),
        (95.9, FreshnessState.USE_SOON),
        (48.0, FreshnessState.USE_SOON),
        (47.9, FreshnessState.EXPIRING),
        (0.1, FreshnessState.EXPIRING),
        (0.0, FreshnessState.EXPIRED),
        (-5.0, FreshnessState.EXPIRED),
    ],
)
def test_states_from_hours_left(
    settings: FreshnessSettings, hours_left: float, state: FreshnessState
) -> None:
    end = label_day_end(date(2026, 11, 25))
    assert assess(milk(), end - hours_left * H, settings).state is state


def test_due_soon_override(settings: FreshnessSettings) -> None:
    end = label_day_end(date(2026, 11, 25))
    assert assess(milk(), end - 100 * H, settings).state is FreshnessState.FRESH
    assert assess(milk(), end - 100 * H, settings, due_soon_hours=120).state is FreshnessState.USE_SOON


def test_next_transition_walks_every_state(settings: FreshnessSettings) -> None:
    now = ADDED
    seen = [assess(milk(), now, settings).state]
    while (step := next_transition(milk(), now, settings)) is not None:
        assert step > now
        assert assess(milk(), step - timedelta(microseconds=1), settings).state is seen[-1]
        now = step
        seen.append(assess(milk(), now, settings).state)
    assert seen == [
        FreshnessState.FRESH,
        FreshnessState.USE_SOON,
        FreshnessState.EXPIRING,
        FreshnessState.EXPIRED,
    ]


def test_next_transition_for_best_before() -> None:
    # Short thresholds: the best-before date passes while the item is still fresh by the clock.
    short = FreshnessSettings(use_soon_hours=24, expiring_hours=12)
    facts = milk(expiry_kind="best_before", added_at=datetime(2026, 11, 24, tzinfo=UTC))
    now = datetime(2026, 11, 24, 1, tzinfo=UTC)
    assert assess(facts, now, short).state is FreshnessState.FRESH
    step = next_transition(facts, now, short)
    assert step == label_day_end(date(2026, 11, 25))
    assert assess(facts, step, short).state is FreshnessState.EXPIRING


def test_explanation_example(settings: FreshnessSettings) -> None:
    start = datetime(2026, 11, 22, 1, tzinfo=UTC)
    facts = milk(opened_at=ADDED + H)
    result = assess(facts, NOW, settings, [TemperatureSpan(start, start + 6 * H, 12.0)])
    assert result.explanation.startswith("expires in ")
    for part in ("use by 25 Nov on the label", "opened 3.2 days ago", "6 h above 4 °C (up to 12 °C)"):
        assert part in result.explanation


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        ItemFacts("Milk", "dairy", datetime(2026, 11, 20))
    with pytest.raises(ValueError, match="end before"):
        TemperatureSpan(NOW, NOW - H, 4.0)
    with pytest.raises(ValueError, match="finite"):
        TemperatureSpan(NOW - H, NOW, float("nan"))
    with pytest.raises(ValueError, match="aware"):
        assess(milk(), NOW.replace(tzinfo=None), FreshnessSettings())
    with pytest.raises(ValueError, match="aware"):
        next_transition(milk(), NOW.replace(tzinfo=None), FreshnessSettings())


@pytest.mark.parametrize("kind", ["expiry", "best_before"])
def test_the_last_date_there_is_does_not_overflow(settings: FreshnessSettings, kind: str) -> None:
    facts = milk(label_expiry=date.max, expiry_kind=kind)
    result = assess(facts, NOW, settings)
    assert result.state is FreshnessState.FRESH
    assert result.expires_at is not None and result.expires_at.year == 9999
    assert result.expires_at <= label_day_end(date.max)
    assert next_transition(facts, NOW, settings) is not None
    late = result.expires_at - timedelta(microseconds=1)
    assert next_transition(facts, late, settings) in (None, result.expires_at)
