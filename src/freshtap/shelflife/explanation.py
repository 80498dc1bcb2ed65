"""Words for the model's numbers: the one sentence an `Assessment` carries.

Times are printed in UTC, as the model computes them; durations round to whole hours under two
days and to days (one decimal) above.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["ago", "at", "hours_text", "sentence", "until"]


def hours_text(hours: float) -> str:
    """`40 min`, `6 h`, `3 days`, `2.5 days`."""
    hours = abs(hours)
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{round(hours)} h"
    days = round(hours / 24, 1)
    return f"{days:g} days"


def at(when: datetime) -> str:
    """`24 Nov 09:00 UTC`."""
    return f"{when:%d %b %H:%M} UTC"


def ago(when: datetime, now: datetime) -> str:
    """`3 days ago`, or `in 2 h` for a time still to come."""
    hours = (now - when).total_seconds() / 3600
    return f"{hours_text(hours)} ago" if hours >= 0 else f"in {hours_text(hours)}"


def until(expires_at: datetime | None, now: datetime) -> str:
    """The head of the sentence: `expires in 20 h (24 Nov 09:00 UTC)`, `expired 2 h ago (...)`."""
    if expires_at is None:
        return "no expiry date known"
    hours = (expires_at - now).total_seconds() / 3600
    if hours <= 0:
        return f"expired {hours_text(hours)} ago ({at(expires_at)})"
    return f"expires in {hours_text(hours)} ({at(expires_at)})"


def sentence(head: str, reasons: list[str]) -> str:
    """`head: reason; reason; reason`."""
    return f"{head}: {'; '.join(reasons)}" if reasons else head
