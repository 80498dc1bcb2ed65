"""The catalog and the household model: valid GTINs, deterministic stock, plausible ageing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from freshtap.gtin import is_valid_gtin14
from freshtap.shelflife import label_day_end
from freshtap.simulator.catalog import CATALOG, gtin14, product_by_gtin
from freshtap.simulator.household import Household, label_date_near

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def test_catalog_gtins_are_valid_and_unique() -> None:
    gtins = [p.gtin for p in CATALOG]
    assert all(is_valid_gtin14(g) for g in gtins)
    assert len(set(gtins)) == len(gtins)
    assert gtin14("013435") == "09506000134352"  # the contract's own example milk


def test_same_seed_same_fridge_contents() -> None:
    a = Household(random.Random("7:f-001:stock")).initial_stock(NOW)
    b = Household(random.Random("7:f-001:stock")).initial_stock(NOW)
    c = Household(random.Random("8:f-001:stock")).initial_stock(NOW)
    assert a == b
    assert a != c


def test_every_fridge_starts_with_something_due_within_two_days() -> None:
    for n in range(50):
        items = Household(random.Random(f"1:f-{n}:stock")).initial_stock(NOW)
        assert 4 <= len(items) <= 6
        assert len({i.item_id for i in items}) == len(items)
        deadlines = [label_day_end(i.label_expiry) for i in items if i.label_expiry]
        assert min(deadlines) - NOW <= timedelta(hours=48)
        assert all(d > NOW for d in deadlines)
        for item in items:
            assert item.added_at <= NOW
            assert item.opened_at is None or item.added_at <= item.opened_at <= NOW


def test_label_date_is_the_day_ending_nearest_the_deadline() -> None:
    in_20_hours = label_date_near(NOW + timedelta(hours=20), NOW)
    assert label_day_end(in_20_hours) == datetime(2026, 11, 24, tzinfo=UTC)
    assert label_day_end(label_date_near(NOW + timedelta(hours=2), NOW)) > NOW


def test_items_get_used_up_and_restocked_over_a_week() -> None:
    household = Household(random.Random("3:f-9:stock"))
    items = {i.item_id: i for i in household.initial_stock(NOW)}
    kinds: set[str] = set()
    now = NOW
    for _ in range(7 * 24):
        now += timedelta(hours=1)
        for action in household.step(items, now, 1.0):
            kinds.add(action.kind)
            if action.kind == "remove":
                items.pop(action.item_id)
            elif action.kind == "add":
                assert action.item is not None
                items[action.item_id] = action.item
            elif action.kind == "fill":
                items[action.item_id] = items[action.item_id].model_copy(update={"fill": action.fill})
            elif action.kind == "open":
                items[action.item_id] = items[action.item_id].model_copy(update={"opened_at": now})
    assert {"fill", "remove"} <= kinds
    assert all(product_by_gtin(i.gtin or "") is not None for i in items.values())
