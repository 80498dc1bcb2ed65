"""Households' habits from a scenario: weekends, appetite, days away change what the live simulator uses."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from freshtap.simulator.catalog import CATALOG
from freshtap.simulator.household import Habits, Household
from freshtap.simulator.scenario import default_scenario_path, habits_for, load_scenario

MILK = next(p for p in CATALOG if p.name == "Whole milk 1 L")


def used(habits: Habits, day: datetime) -> float:
    household = Household(random.Random(1), habits)
    item = household.new_item(MILK, day, hours_to_label=200, opened_hours_ago=1, fill=1.0)
    actions = household.step({item.item_id: item}, day, hours=24)
    fills = [a.fill for a in actions if a.kind == "fill" and a.fill is not None]
    removed = any(a.kind == "remove" for a in actions)
    return 1.0 - fills[0] if fills else (1.0 if removed else 0.0)


def test_days_away_use_nothing_and_weekends_use_more() -> None:
    saturday = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)
    monday = saturday + timedelta(days=2)
    assert used(Habits(away=frozenset({saturday.date()})), saturday) == 0.0
    assert used(Habits(weekend_factor=2.0), saturday) > used(Habits(), saturday)
    assert used(Habits(weekend_factor=2.0), monday) == used(Habits(), monday)
    assert used(Habits(appetite=0.5), monday) < used(Habits(), monday)


def test_each_fridge_gets_a_profile_and_its_holiday_from_the_scenario() -> None:
    scenario = load_scenario(default_scenario_path())
    habits = [habits_for(scenario, f"f-{n}") for n in range(300)]
    assert {h.appetite for h in habits} == {p.appetite for p in scenario.profiles}
    assert habits_for(scenario, "f-7") == habits_for(scenario, "f-7")
    for h in habits:
        assert all(scenario.start <= d < scenario.start + timedelta(days=scenario.days) for d in h.away)
    assert any(date(2026, 7, 1) <= d <= date(2026, 8, 31) for h in habits for d in h.away)
