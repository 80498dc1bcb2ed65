"""Tracking of queued messages until the broker acknowledges them (or the drop policy removes them).

A `Delivery` is what `Uplink.publish` hands back for a message it queued: `wait(timeout)` returns
True once the broker has acknowledged the message (PUBACK for QoS 1, written to the socket for
QoS 0), False on timeout or when the queue's drop policy removed it (`dropped`). Its `id` is the
message's row in the on-disk queue, which outlives connections: a message queued while offline
is acknowledged after the reconnect.

A message is registered while its row is being written, before the uplink can see (let alone
send) it, so an outcome never arrives before its registration. Outcomes for ids nobody
registered — messages left in the queue by an earlier process — are ignored.
"""

from __future__ import annotations

import threading
from typing import Literal

__all__ = ["Delivery", "DeliveryTracker"]

Outcome = Literal["acknowledged", "dropped"]


class Delivery:
    """One queued message on its way to the broker."""

    def __init__(self, id: int, outcome: Outcome | None = None) -> None:
        self.id = id
        self._done = threading.Event()
        self._outcome: Outcome | None = None
        if outcome is not None:
            self._settle(outcome)

    @property
    def mid(self) -> int:
        """The same as `id` (kept for callers of the in-memory queue's API)."""
        return self.id

    @property
    def acknowledged(self) -> bool:
        return self._outcome == "acknowledged"

    @property
    def dropped(self) -> bool:
        return self._outcome == "dropped"

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True when the broker acknowledged the message."""
        self._done.wait(timeout)
        return self.acknowledged

    def _settle(self, outcome: Outcome) -> None:
        if self._outcome is None:
            self._outcome = outcome
            self._done.set()

    def __repr__(self) -> str:
        return f"Delivery(id={self.id}, outcome={self._outcome})"


class DeliveryTracker:
    """Matches outcomes (by queue id) to the `Delivery` objects registered for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, Delivery] = {}

    def register(self, id: int) -> Delivery:
        delivery = Delivery(id)
        with self._lock:
            self._pending[id] = delivery
        return delivery

    def acknowledge(self, id: int) -> None:
        self._settle(id, "acknowledged")

    def drop(self, id: int) -> None:
        """The message is gone without being sent (drop policy, or its transaction rolled back)."""
        self._settle(id, "dropped")

    def _settle(self, id: int, outcome: Outcome) -> None:
        with self._lock:
            delivery = self._pending.pop(id, None)
        if delivery is not None:
            delivery._settle(outcome)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
