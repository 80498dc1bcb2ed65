"""Fault injection for the emulated fridge: what a test can break, and how each fault shows on the wire.

| fault | call | on the wire |
|---|---|---|
| sensor dropout | `drop(sensor)` | the sensor's lines carry `err=no_signal` instead of a value |
| stuck value | `stick(sensor)` | the sensor repeats the value it last reported, exactly |
| camera failure | `fail_camera(compartment)` | `CAPTURE` is answered `ERR code=camera_fault` |
| clock jump | `jump_clock(delta)` | every `t=` from now on is off by the sum of the jumps |
| cooling failure | `fail_cooling(compartment)` | the thermostat calls for cold, none comes; the air warms |
| line noise | `garble(lines)` | the next `lines` lines go out with one byte flipped (a bad CRC) |

Sensors are named `temp:<compartment>` and `load:<compartment>:<slot>`; `heal(sensor)` (or
`heal_all()`) ends dropouts and sticking. Thread-safe: a test thread injects while the
firmware's threads read.
"""

from __future__ import annotations

import threading
from datetime import timedelta

__all__ = ["Faults", "load_sensor", "temp_sensor"]


def temp_sensor(compartment: str) -> str:
    return f"temp:{compartment}"


def load_sensor(compartment: str, slot: int) -> str:
    return f"load:{compartment}:{slot}"


class Faults:
    """The faults currently injected into one emulated fridge."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dropped: set[str] = set()
        self._stuck: set[str] = set()
        self._cameras: set[str] = set()
        self._cooling: set[str] = set()
        self._clock_offset = timedelta(0)
        self._garble = 0

    # ---- injecting -------------------------------------------------------------------------

    def drop(self, sensor: str) -> None:
        with self._lock:
            self._dropped.add(sensor)

    def stick(self, sensor: str) -> None:
        with self._lock:
            self._stuck.add(sensor)

    def heal(self, sensor: str) -> None:
        with self._lock:
            self._dropped.discard(sensor)
            self._stuck.discard(sensor)

    def fail_camera(self, compartment: str) -> None:
        with self._lock:
            self._cameras.add(compartment)

    def repair_camera(self, compartment: str) -> None:
        with self._lock:
            self._cameras.discard(compartment)

    def fail_cooling(self, compartment: str) -> None:
        with self._lock:
            self._cooling.add(compartment)

    def repair_cooling(self, compartment: str) -> None:
        with self._lock:
            self._cooling.discard(compartment)

    def jump_clock(self, delta: timedelta) -> None:
        """Move the fridge's real-time clock by `delta` (either way); the jumps add up."""
        with self._lock:
            self._clock_offset += delta

    def garble(self, lines: int) -> None:
        """Corrupt the next `lines` lines the firmware sends."""
        with self._lock:
            self._garble += lines

    def heal_all(self) -> None:
        with self._lock:
            self._dropped.clear()
            self._stuck.clear()
            self._cameras.clear()
            self._cooling.clear()
            self._clock_offset = timedelta(0)
            self._garble = 0

    # ---- reading ---------------------------------------------------------------------------

    def dropped(self, sensor: str) -> bool:
        with self._lock:
            return sensor in self._dropped

    def stuck(self, sensor: str) -> bool:
        with self._lock:
            return sensor in self._stuck

    def camera_failed(self, compartment: str) -> bool:
        with self._lock:
            return compartment in self._cameras

    def cooling_failed(self, compartment: str) -> bool:
        with self._lock:
            return compartment in self._cooling

    @property
    def clock_offset(self) -> timedelta:
        with self._lock:
            return self._clock_offset

    def take_garble(self) -> bool:
        """True (and one fewer left) when the next line should be corrupted."""
        with self._lock:
            if self._garble <= 0:
                return False
            self._garble -= 1
            return True
