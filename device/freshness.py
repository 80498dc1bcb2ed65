"""The fridge's own view of each item's freshness, from the shared shelf-life model.

The server recomputes freshness authoritatively; the device fills `freshness` so the door
screen works offline. Only a known deadline is published: when the model has none (no label
date, no reference), the item's `freshness` stays null rather than claiming "fresh".

With the compartment's measured temperatures (`temperatures`, spans from the item's `added_at`
on), warmth brings the deadline forward as the model's rate law says, and the basis becomes
`temperature`; without them the model assumes the compartment held its nominal temperature.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from freshtap.contract import FreshnessInfo, InventoryItem
from freshtap.settings import FreshnessSettings
from freshtap.shelflife import ItemFacts, TemperatureSpan, assess

__all__ = ["facts_of", "with_freshness"]


def facts_of(item: InventoryItem) -> ItemFacts:
    """What the shelf-life model is told about an inventory item."""
    return ItemFacts(
        name=item.name,
        category=item.category,
        added_at=item.added_at,
        gtin=item.gtin,
        opened_at=item.opened_at,
        label_expiry=item.label_expiry,
        expiry_kind=item.expiry_kind,
        compartment=item.compartment,
    )


def with_freshness(
    item: InventoryItem,
    now: datetime,
    thresholds: FreshnessSettings,
    temperatures: Sequence[TemperatureSpan] = (),
) -> InventoryItem:
    """`item` with `freshness` as the model assesses it at `now`, given its compartment's `temperatures`."""
    facts = facts_of(item)
    assessment = assess(facts, now, thresholds, temperatures)
    if assessment.expires_at is None:
        freshness = None
    else:
        freshness = FreshnessInfo(
            state=assessment.state, expires_at=assessment.expires_at, basis=assessment.basis
        )
    if freshness == item.freshness:
        return item
    return item.model_copy(update={"freshness": freshness})
