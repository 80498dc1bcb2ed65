"""The model's answer about one item, and how hours remaining name a freshness state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from freshtap.contract import Basis, FreshnessState
from freshtap.settings import FreshnessSettings

__all__ = ["Assessment", "state_for_hours"]


@dataclass(frozen=True, slots=True)
class Assessment:
    """How fresh an item is at one moment, when it stops being safe, and why.

    `expires_at` is when the state becomes `expired` (None: no deadline is known). `basis` names
    the clock that set `expires_at`, or `temperature` when warmth brought it forward.
    `past_best_before` is true once a best-before (GS1 AI 15) date has passed; the item is then
    at least `expiring` until `BEST_BEFORE_GRACE` later, then `expired`. `reference_product_id`
    and `reference_name` name the FoodKeeper product looked up (None: no match), whether or not
    its durations set the deadline; `hours_lost_to_temperature` is how many hours of shelf life
    time above 4 °C used up beyond the hours that passed.
    """

    state: FreshnessState
    expires_at: datetime | None
    basis: Basis
    explanation: str
    past_best_before: bool = False
    reference_product_id: int | None = None
    reference_name: str | None = None
    hours_lost_to_temperature: float = 0.0
    best_before_at: datetime | None = None
    """When a best-before date passes (the end of the label day, brought forward by warmth)."""


def state_for_hours(
    hours_left: float | None, thresholds: FreshnessSettings, due_soon_hours: float | None = None
) -> FreshnessState:
    """The state that `hours_left` until the deadline names (None: no deadline, fresh).

    `due_soon_hours` overrides `thresholds.use_soon_hours` for one product.
    """
    if hours_left is None:
        return FreshnessState.FRESH
    use_soon = thresholds.use_soon_hours if due_soon_hours is None else due_soon_hours
    if hours_left <= 0:
        return FreshnessState.EXPIRED
    if hours_left < thresholds.expiring_hours:
        return FreshnessState.EXPIRING
    if hours_left < use_soon:
        return FreshnessState.USE_SOON
    return FreshnessState.FRESH
