"""Whether a temperature sensor can be believed: no signal, or a value stuck exactly in place.

A thermistor read to a hundredth of a degree never repeats itself exactly for long: its noise
alone moves the last digit. `SensorHealth` calls a sensor `stuck` once it has reported the very
same value `stuck_after` times in a row, and `no_signal` once it has reported nothing for
`silent_after` samples; a changed value or a real reading makes it `ok` again. Pure bookkeeping:
the caller feeds it every sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["SensorHealth", "SensorStatus"]

SensorStatus = Literal["ok", "stuck", "no_signal", "unknown"]


@dataclass
class _Track:
    last: float | None = None
    repeats: int = 0
    silent: int = 0


class SensorHealth:
    def __init__(self, stuck_after: int = 30, silent_after: int = 3) -> None:
        if stuck_after < 2 or silent_after < 1:
            raise ValueError("stuck_after >= 2 and silent_after >= 1")
        self._stuck_after = stuck_after
        self._silent_after = silent_after
        self._tracks: dict[str, _Track] = {}

    def sample(self, sensor: str, value: float | None) -> SensorStatus:
        """Record one sample (None: no signal) and return the sensor's status after it."""
        track = self._tracks.setdefault(sensor, _Track())
        if value is None:
            track.silent += 1
        else:
            track.silent = 0
            if track.last is not None and value == track.last:
                track.repeats += 1
            else:
                track.repeats = 1
            track.last = value
        return self.status(sensor)

    def status(self, sensor: str) -> SensorStatus:
        track = self._tracks.get(sensor)
        if track is None:
            return "unknown"
        if track.silent >= self._silent_after:
            return "no_signal"
        if track.repeats >= self._stuck_after:
            return "stuck"
        if track.last is None:
            return "unknown"
        return "ok"

    def trusted(self, sensor: str) -> bool:
        return self.status(sensor) == "ok"
