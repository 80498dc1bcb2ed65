"""What a fleet run did, counted from many threads and read as one consistent snapshot."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["FleetStats", "StatsRecorder"]


@dataclass(frozen=True)
class FleetStats:
    published: int
    """Messages handed to the fridges' uplinks (inventory, telemetry, events)."""
    published_by_type: Mapping[str, int]
    publish_errors: int
    offers_seen: int
    """Distinct proposals that reached a fridge's screen."""
    declined: int
    """Proposals the household chose not to buy, or that had already expired."""
    accepts_ok: int
    accepts_failed: int
    accept_failures: Mapping[str, int]
    """Failed accepts by reason: `http_<status>`, `transport`, `bad_response`, `stopped`."""
    orders_by_status: Mapping[str, int]
    tick_errors: int
    fridges_online: int


class StatsRecorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._published: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()
        self._orders: Counter[str] = Counter()

    def published(self, message_type: str) -> None:
        with self._lock:
            self._published[message_type] += 1

    def count(self, name: str) -> None:
        """One of `publish_errors`, `offers_seen`, `declined`, `tick_errors`."""
        with self._lock:
            self._counts[name] += 1

    def accept_ok(self, order_status: str) -> None:
        with self._lock:
            self._counts["accepts_ok"] += 1
            self._orders[order_status] += 1

    def accept_failed(self, reason: str) -> None:
        with self._lock:
            self._counts["accepts_failed"] += 1
            self._failures[reason] += 1

    def snapshot(self, fridges_online: int = 0) -> FleetStats:
        with self._lock:
            c = self._counts
            return FleetStats(
                published=sum(self._published.values()),
                published_by_type=dict(self._published),
                publish_errors=c["publish_errors"],
                offers_seen=c["offers_seen"],
                declined=c["declined"],
                accepts_ok=c["accepts_ok"],
                accepts_failed=c["accepts_failed"],
                accept_failures=dict(self._failures),
                orders_by_status=dict(self._orders),
                tick_errors=c["tick_errors"],
                fridges_online=fridges_online,
            )
