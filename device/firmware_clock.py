"""A clock that follows the fridge's real-time clock, as the firmware reports it, but not its jumps.

For an emulated fridge (or any fridge without NTP) the agent can take its time from the
controller: every report carries `t=`. `observe(t)` moves the clock; within one connection a step
backwards (by more than two seconds), or forwards by more than `max_step` (the firmware reports at least once per sample
interval), is a jump of the controller's clock: it is counted, logged, and absorbed into an
offset, so the agent's time runs on smoothly. When the firmware connects again (`resync`), its
time is taken as it is. The clock never runs backwards.

Time moves with the reports and stands still between them (at most one sample interval, a
minute on the emulated fridge); that keeps a fridge on a test's `ManualClock` exactly on it.
`now()` before the first report raises `ClockNotSet`. A real fridge with a network clock passes
the system clock to the agent instead and keeps a `FirmwareClock` only to count jumps.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

__all__ = ["ClockNotSet", "FirmwareClock"]

log = logging.getLogger(__name__)

_JITTER = timedelta(seconds=2)
"""Reports may come a little out of order (an event stamped before the sample sent ahead of it)."""


class ClockNotSet(RuntimeError):
    """The firmware has not reported its time yet."""


class FirmwareClock:
    def __init__(self, max_step: timedelta = timedelta(minutes=10)) -> None:
        if max_step <= timedelta(0):
            raise ValueError("max_step must be positive")
        self._max_step = max_step
        self._lock = threading.Lock()
        self._now: datetime | None = None
        self._last_reported: datetime | None = None
        self._offset = timedelta(0)
        self._jumps = 0
        self._set = threading.Event()

    @property
    def jumps(self) -> int:
        """Jumps of the controller's clock seen so far."""
        with self._lock:
            return self._jumps

    @property
    def offset(self) -> timedelta:
        """How far the controller's clock is off the agent's time, after the jumps absorbed."""
        with self._lock:
            return self._offset

    def set_max_step(self, max_step: timedelta) -> None:
        with self._lock:
            self._max_step = max_step

    def resync(self, reported: datetime) -> None:
        """Take the firmware's time as it is (a new connection: its clock may have moved for good)."""
        with self._lock:
            self._offset = timedelta(0)
            self._last_reported = reported
            self._advance(reported)

    def observe(self, reported: datetime) -> bool:
        """Move the clock to the firmware's `reported` time; True when that was a jump (absorbed)."""
        with self._lock:
            last = self._last_reported
            self._last_reported = reported
            step = timedelta(0) if last is None else reported - last
            jumped = last is not None and (step < -_JITTER or step > self._max_step)
            if jumped:
                self._offset += step
                self._jumps += 1
            else:
                self._advance(reported - self._offset)
        if jumped:
            log.warning("the fridge's clock jumped by %s; keeping time without it", step)
        return jumped

    def _advance(self, value: datetime) -> None:
        if self._now is None or value > self._now:
            self._now = value
        self._set.set()

    def wait_set(self, timeout: float) -> bool:
        return self._set.wait(timeout)

    def now(self) -> datetime:
        with self._lock:
            if self._now is None:
                raise ClockNotSet("the firmware has not reported its time yet")
            return self._now

    def real_seconds(self, simulated_seconds: float) -> float:
        return simulated_seconds
