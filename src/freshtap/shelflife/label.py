"""What a date printed on the label means in time.

A label date is read as the end of that day in UTC (00:00 UTC of the next day): the fridge does
not know the household's time zone, and UTC keeps the model free of one. A GS1 AI 17 date
(`expiry`, use-by) is a hard deadline. A GS1 AI 15 date (`best_before`) is a quality date: past
it, the item is `expiring` with `past_best_before` set for `BEST_BEFORE_GRACE`, then `expired`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

__all__ = ["BEST_BEFORE_GRACE", "label_day_end"]

BEST_BEFORE_GRACE = timedelta(hours=72)
"""How long a best-before item stays `expiring` (with `past_best_before`) before it is `expired`.

Our choice, not a regulation: a best-before date promises quality, not safety (FSIS, "Food
Product Dating"), and three days is short enough that a chilled item is used or checked soon.
"""


def label_day_end(day: date) -> datetime:
    """The end of `day` in UTC: the first instant after it (the last instant there is, for 9999-12-31)."""
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
