"""The one clock every component reads time from.

`SystemClock` is wall time; `AcceleratedClock` runs `speed` times faster from a chosen start, so
the demo and the simulator can live a week in minutes; `ManualClock` only moves when a test
moves it. All return aware UTC datetimes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["AcceleratedClock", "Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...

    def real_seconds(self, simulated_seconds: float) -> float:
        """How many wall-clock seconds `simulated_seconds` of this clock's time take."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds(self, simulated_seconds: float) -> float:
        return simulated_seconds


class AcceleratedClock:
    """Time that starts at `start` and runs `speed` times faster than the wall clock."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._origin
        return self._start + timedelta(seconds=elapsed * self.speed)

    def real_seconds(self, simulated_seconds: float) -> float:
        return simulated_seconds / self.speed


class ManualClock:
    """A clock for tests: it stands still until `advance` or `set` moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime(2026, 11, 23, 12, 0, tzinfo=UTC)).astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, value: datetime) -> None:
        with self._lock:
            self._now = value.astimezone(UTC)

    def real_seconds(self, simulated_seconds: float) -> float:
        return 0.0
