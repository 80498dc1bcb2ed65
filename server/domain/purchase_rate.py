"""The purchase rate limit as a pure rule: may a household buy once more now, and if not, when.

A sliding window: at most `max_per_window` purchases in any `window`. When the window is full,
the answer is how long until enough of the oldest purchases in it have aged out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from freshtap.server.domain.errors import DomainError

__all__ = ["PurchaseRate", "PurchaseRateExceeded", "retry_after_seconds"]


@dataclass(frozen=True)
class PurchaseRate:
    max_per_window: int
    window: timedelta


class PurchaseRateExceeded(DomainError):
    """429: the household bought too often; `retry_after_seconds` says when it may again."""

    status = 429
    title = "Too many purchases"
    type_slug = "purchase-rate"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


def retry_after_seconds(recent: Iterable[datetime], now: datetime, rule: PurchaseRate) -> int | None:
    """None if one more purchase is allowed at `now`; else whole seconds (at least 1) to wait.

    `recent` are the times of the household's counted purchases; those at or before
    `now - window` no longer count.
    """
    start = now - rule.window
    in_window = sorted(at for at in recent if at > start)
    if len(in_window) < rule.max_per_window:
        return None
    # One more is allowed once only max_per_window - 1 remain, i.e. when this one ages out.
    must_leave = in_window[len(in_window) - rule.max_per_window]
    return max(1, math.ceil((must_leave + rule.window - now).total_seconds()))
