"""How one simulated household stocks and uses its fridge: pure decisions over a random stream.

`Household` draws from its own seeded `random.Random`, so a fleet with the same seed fills the
same fridges with the same items and makes the same choices, given the same times. It never
touches MQTT: it returns `Action`s (open, use up, throw away, buy again) that the virtual fridge
applies to its agent and reports as events.

Label dates are whole days read as the end of that day in UTC (as `freshtap.shelflife` reads
them); a product due "in about 20 h" gets the date whose day-end is nearest to that.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from freshtap.contract import InventoryItem

from .catalog import CATALOG, Product, product_by_gtin

__all__ = ["Action", "Habits", "Household", "label_date_near"]

_USED_UP_BELOW = 0.05
_RESTOCK_CHANCE = 0.6
_DISCARD_AFTER = timedelta(days=1)  # households throw expired food away a day late, on average


def label_date_near(deadline: datetime, now: datetime) -> date:
    """The label date whose end of day (UTC) is nearest `deadline`, but still after `now`."""
    day = (deadline - timedelta(hours=12)).date()
    while datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC) <= now:
        day += timedelta(days=1)
    return day


def _label_deadline(item: InventoryItem) -> datetime | None:
    if item.label_expiry is None:
        return None
    return datetime.combine(item.label_expiry + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


@dataclass(frozen=True)
class Action:
    """One change the household makes; `item` is set for `add`, `fill` for `fill`."""

    kind: Literal["add", "open", "fill", "remove"]
    item_id: str
    item: InventoryItem | None = None
    fill: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Habits:
    """How much a household eats and when (from a scenario's profile; the defaults eat as the catalog says)."""

    appetite: float = 1.0
    weekend_factor: float = 1.0
    variance: float = 0.0
    """Sigma of the log-normal day-to-day variation of use."""
    away: frozenset[date] = frozenset()
    """Days away (holidays): nothing is opened or used."""

    def use_factor(self, day: date, draw: float) -> float:
        """The multiplier on the catalog's use for `day`; `draw` is a standard normal deviate."""
        if day in self.away:
            return 0.0
        factor = self.appetite * (self.weekend_factor if day.weekday() >= 5 else 1.0)
        return factor * math.exp(self.variance * draw - self.variance**2 / 2)


class Household:
    def __init__(self, rng: random.Random, habits: Habits | None = None) -> None:
        self._rng = rng
        self._habits = habits or Habits()

    def new_item(
        self,
        product: Product,
        now: datetime,
        taken_ids: Iterable[str] = (),
        *,
        hours_to_label: float | None = None,
        added_hours_ago: float = 0.0,
        opened_hours_ago: float | None = None,
        fill: float | None = 1.0,
    ) -> InventoryItem:
        """A package of `product` bought `added_hours_ago` and maybe opened `opened_hours_ago`."""
        rng = self._rng
        hours = rng.uniform(*product.label_hours) if hours_to_label is None else hours_to_label
        opened_at = None if opened_hours_ago is None else now - timedelta(hours=opened_hours_ago)
        added_hours_ago = max(added_hours_ago, opened_hours_ago or 0.0)
        return InventoryItem(
            item_id=self._new_id(set(taken_ids)),
            gtin=product.gtin,
            name=product.name,
            category=product.category,
            quantity=product.quantity,
            unit=product.unit,
            fill=fill,
            compartment=product.compartment,
            added_at=now - timedelta(hours=added_hours_ago),
            opened_at=opened_at,
            label_expiry=label_date_near(now + timedelta(hours=hours), now),
            expiry_kind=product.expiry_kind,
            batch=f"L{rng.randrange(10**5):05d}",
        )

    def initial_stock(self, now: datetime) -> list[InventoryItem]:
        """What the fridge holds when the simulation starts: one item due within two days, plus 3-5 more."""
        rng = self._rng
        items: list[InventoryItem] = []
        urgent = rng.choice([p for p in CATALOG if p.short_dated])
        items.append(
            self.new_item(
                urgent,
                now,
                hours_to_label=rng.uniform(14, 40),
                added_hours_ago=rng.uniform(24, 72),
                opened_hours_ago=rng.uniform(6, 24),
                fill=round(rng.uniform(0.25, 0.6), 2),
            )
        )
        others = rng.sample([p for p in CATALOG if p is not urgent], k=rng.randint(3, 5))
        for product in others:
            opened = rng.random() < 0.4
            items.append(
                self.new_item(
                    product,
                    now,
                    [i.item_id for i in items],
                    added_hours_ago=rng.uniform(0, 96),
                    opened_hours_ago=rng.uniform(2, 72) if opened else None,
                    fill=round(rng.uniform(0.3, 0.95), 2) if opened else 1.0,
                )
            )
        return items

    def step(self, items: Mapping[str, InventoryItem], now: datetime, hours: float) -> list[Action]:
        """What the household does to its items over the last `hours` ending at `now`."""
        rng = self._rng
        actions: list[Action] = []
        taken = set(items)
        habits = self._habits
        factor = habits.use_factor(now.date(), rng.gauss(0.0, 1.0) if habits.variance else 0.0)
        for item in items.values():
            product = product_by_gtin(item.gtin) if item.gtin else None
            if product is None:
                continue
            deadline = _label_deadline(item)
            if deadline is not None and now > deadline + _DISCARD_AFTER:
                actions.append(Action("remove", item.item_id, reason="expired"))
                actions.extend(self._maybe_restock(product, now, taken))
                continue
            days = hours / 24 * factor
            if item.opened_at is None:
                if days > 0 and rng.random() < 1 - math.exp(-product.opens_per_day * days):
                    actions.append(Action("open", item.item_id))
                continue
            fill = item.fill if item.fill is not None else 1.0
            fill = round(max(0.0, fill - product.use_per_day * days * rng.uniform(0.5, 1.5)), 3)
            if fill < _USED_UP_BELOW:
                actions.append(Action("remove", item.item_id, reason="used_up"))
                actions.extend(self._maybe_restock(product, now, taken))
            elif fill != item.fill:
                actions.append(Action("fill", item.item_id, fill=fill))
        return actions

    def _maybe_restock(self, product: Product, now: datetime, taken: set[str]) -> list[Action]:
        if self._rng.random() >= _RESTOCK_CHANCE:
            return []
        item = self.new_item(product, now, taken)
        taken.add(item.item_id)
        return [Action("add", item.item_id, item=item)]

    def _new_id(self, taken: set[str]) -> str:
        while True:
            candidate = f"{self._rng.getrandbits(32):08x}"
            if candidate not in taken:
                return candidate
