"""Tables for freshness over time: fill readings, what became of each item, due-soon windows.

- `FillReading`: an item's fill level (shelf load cells) as inventory snapshots reported it; the
  run-out forecast is fitted to these (services/runout.py).
- `ItemHistory`: one row per item that left a fridge, classified as used up, thrown away or
  taken out when it left (services/waste.py; the rule is in docs/shelf-life.md), with the value
  of what was wasted when a price is known.
- `DueSoonWindow`: a household's own `use_soon` window for one product (GTIN) or category in
  one fridge, used as `due_soon_hours` by the shelf-life model.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from freshtap.server.store.columns import timestamp as _ts

__all__ = ["DueSoonWindow", "FillReading", "ItemHistory"]


class FillReading(SQLModel, table=True):
    """One fill level of one item, at the time the device observed it."""

    __table_args__ = (Index("ix_fillreading_item_at", "fridge_id", "item_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    fridge_id: str = Field(max_length=64)
    item_id: str = Field(max_length=64)
    at: datetime = _ts()
    fill: float


class ItemHistory(SQLModel, table=True):
    """An item that left a fridge, and what the server concluded about it when it left.

    `outcome` is `used_up`, `thrown_away` or `taken_out`; `wasted_fraction` is the part of the
    item thrown away (its last fill, or 1 when unknown; 0 unless thrown away); `value_minor` and
    `currency` price that part (None: no price known), from `price_source` (`order` or `catalog`).
    """

    __table_args__ = (
        UniqueConstraint("fridge_id", "item_id", "added_at", name="uq_itemhistory_item"),
        Index("ix_itemhistory_household_removed", "household_id", "removed_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    household_id: str = Field(foreign_key="household.id", max_length=40)
    fridge_id: str = Field(foreign_key="fridge.id", index=True, max_length=64)
    item_id: str = Field(max_length=64)
    gtin: str | None = Field(default=None, max_length=14)
    name: str = Field(max_length=200)
    category: str = Field(max_length=64)
    added_at: datetime = _ts()
    opened_at: datetime | None = _ts(nullable=True)
    removed_at: datetime = _ts()
    expires_at: datetime | None = _ts(nullable=True)
    freshness_state: str = Field(max_length=16)
    """The server's freshness state at `removed_at`."""
    fill: float | None = None
    """The last fill level reported before the item left."""
    outcome: str = Field(max_length=16)
    wasted_fraction: float = 0.0
    value_minor: int | None = None
    currency: str | None = Field(default=None, max_length=3)
    price_source: str | None = Field(default=None, max_length=16)
    via: str = Field(max_length=16)
    """How the server learned it left: `snapshot` (missing from inventory) or `event` (item_removed)."""


class DueSoonWindow(SQLModel, table=True):
    """A household's `use_soon` window, in hours before expiry, for a GTIN or a category in one fridge."""

    fridge_id: str = Field(foreign_key="fridge.id", primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=16)
    """`gtin` or `category`."""
    key: str = Field(primary_key=True, max_length=64)
    """The GTIN-14, or the category in lower case."""
    hours: float
    updated_at: datetime = _ts()
