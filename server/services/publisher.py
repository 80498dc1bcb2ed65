"""The seam through which the server sends to fridges (the MQTT link in production)."""

from __future__ import annotations

import threading
from typing import Protocol

from freshtap.contract import Channel

__all__ = ["FridgePublisher", "RecordingPublisher"]


class FridgePublisher(Protocol):
    def publish(self, fridge_id: str, channel: Channel, payload: bytes, *, retain: bool) -> None: ...


class RecordingPublisher:
    """Keeps what would have been sent; for HTTP-only tests and tools that run without a broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Channel, bytes, bool]] = []
        self._lock = threading.Lock()

    def publish(self, fridge_id: str, channel: Channel, payload: bytes, *, retain: bool) -> None:
        with self._lock:
            self.sent.append((fridge_id, channel, payload, retain))
