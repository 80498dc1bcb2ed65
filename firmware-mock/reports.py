"""What the emulated fridge reports, before it is put on the wire (protocol.py does that).

Times are the fridge's own real-time clock (`at`), which a clock-jump fault can knock off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["CoolingChange", "DoorChange", "LoadReading", "Report", "TempReading", "Tick"]


@dataclass(frozen=True)
class Tick:
    """The heartbeat sent once per sample interval."""

    at: datetime


@dataclass(frozen=True)
class TempReading:
    at: datetime
    compartment: str
    temp_c: float | None
    """None when the sensor gave nothing (`error` says why)."""
    error: str | None = None


@dataclass(frozen=True)
class DoorChange:
    at: datetime
    open: bool
    cycle: int
    """How many times the door has been opened since power-on (the controller's counter)."""


@dataclass(frozen=True)
class LoadReading:
    at: datetime
    compartment: str
    slot: int
    grams: float | None
    error: str | None = None


@dataclass(frozen=True)
class CoolingChange:
    at: datetime
    compartment: str
    on: bool


Report = Tick | TempReading | DoorChange | LoadReading | CoolingChange
