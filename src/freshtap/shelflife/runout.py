"""When an item will run out, from its fill level (shelf load cells) over time.

Only readings since the last refill count: a reading more than `RUNOUT_REFILL_JUMP` above the one before
it starts a new series (small upward steps are load-cell noise and stay in). Over that series,
a least-squares line of fill against time gives the consumption rate; the item runs out where
the line reaches zero. No forecast (None) with fewer than `RUNOUT_MIN_POINTS` readings, all at one
instant, or a line that is not falling. A run-out the line puts before `now` is returned as
`now`: by the readings, it is gone or about to be.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

__all__ = ["RUNOUT_MIN_POINTS", "RUNOUT_REFILL_JUMP", "forecast_runout"]

RUNOUT_MIN_POINTS = 3
RUNOUT_REFILL_JUMP = 0.05
"""A rise in fill (fraction of full) larger than this between two readings is a refill."""


def forecast_runout(fills: Sequence[tuple[datetime, float]], now: datetime) -> datetime | None:
    """When the fill level is forecast to reach zero, from `(when, fill)` readings up to `now`."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    readings = sorted((when, fill) for when, fill in fills if when <= now)
    start = 0
    for index in range(1, len(readings)):
        if readings[index][1] - readings[index - 1][1] > RUNOUT_REFILL_JUMP:
            start = index
    series = readings[start:]
    if len(series) < RUNOUT_MIN_POINTS:
        return None
    origin = series[0][0]
    xs = [(when - origin).total_seconds() / 3600.0 for when, _ in series]
    ys = [fill for _, fill in series]
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    if slope >= 0:
        return None
    empty_at = origin + timedelta(hours=mean_x - mean_y / slope)
    return max(empty_at, now)
