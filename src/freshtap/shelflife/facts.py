"""What the shelf-life model is told about one item and the temperatures it lived through.

Plain frozen data, built by the device or the server from the inventory and telemetry they hold;
the model reads nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

__all__ = ["ExpiryKind", "ItemFacts", "TemperatureSpan"]

ExpiryKind = Literal["expiry", "best_before"]
"""`expiry`: GS1 AI 17, a use-by date; `best_before`: GS1 AI 15, a quality date."""


def _require_aware(name: str, value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """One item as the fridge knows it.

    `reference_product_id` names a FoodKeeper product explicitly; without it the model looks the
    product up by `name`, then falls back to `category`.
    """

    name: str
    category: str
    added_at: datetime
    gtin: str | None = None
    opened_at: datetime | None = None
    label_expiry: date | None = None
    expiry_kind: ExpiryKind | None = None
    reference_product_id: int | None = None
    compartment: str = "fridge"

    def __post_init__(self) -> None:
        _require_aware("added_at", self.added_at)
        _require_aware("opened_at", self.opened_at)


@dataclass(frozen=True, slots=True)
class TemperatureSpan:
    """The compartment holding the item was at `temp_c` from `start` to `end`."""

    start: datetime
    end: datetime
    temp_c: float

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end < self.start:
            raise ValueError("a temperature span must not end before it starts")
        if not math.isfinite(self.temp_c):
            raise ValueError("a temperature must be a finite number")
