"""What the uplink and its queue raise when they cannot take a message."""

from __future__ import annotations

__all__ = ["QueueFull", "UplinkError"]


class UplinkError(RuntimeError):
    """The uplink cannot take this publish (not started, or not a message this fridge may send)."""


class QueueFull(UplinkError):
    """The queue is full of messages its drop policy may not drop (events, the newest snapshot)."""
