"""Tracking of outgoing publishes until the broker acknowledges them.

A `Delivery` is what `Uplink.publish` hands back: `wait(timeout)` returns True once the broker
has acknowledged the message (PUBACK for QoS 1, written to the socket for QoS 0). Messages
published while offline keep their packet id and are acknowledged after the reconnect.

The broker's acknowledgement can arrive on the network thread before the publishing thread has
registered its `Delivery` (paho assigns the packet id inside `publish`), so acknowledgements for
ids nobody has registered yet are remembered until the registration comes.
"""

from __future__ import annotations

import threading

__all__ = ["Delivery", "DeliveryTracker"]


class Delivery:
    """One publish on its way to the broker."""

    def __init__(self, mid: int) -> None:
        self.mid = mid
        self._done = threading.Event()

    @property
    def acknowledged(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True when the broker acknowledged the message."""
        return self._done.wait(timeout)

    def _acknowledge(self) -> None:
        self._done.set()

    def __repr__(self) -> str:
        return f"Delivery(mid={self.mid}, acknowledged={self.acknowledged})"


class DeliveryTracker:
    """Matches acknowledgements (by packet id) to `Delivery` objects, whichever comes first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, Delivery] = {}
        self._early: set[int] = set()

    def register(self, mid: int) -> Delivery:
        delivery = Delivery(mid)
        with self._lock:
            if mid in self._early:
                self._early.discard(mid)
                delivery._acknowledge()
            else:
                self._pending[mid] = delivery
        return delivery

    def acknowledge(self, mid: int) -> None:
        with self._lock:
            delivery = self._pending.pop(mid, None)
            if delivery is None:
                self._early.add(mid)
        if delivery is not None:
            delivery._acknowledge()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def clear(self) -> None:
        """Forget everything (after the client that owned the packet ids is gone)."""
        with self._lock:
            self._pending.clear()
            self._early.clear()
