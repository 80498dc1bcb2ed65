"""When to raise `door_left_open` and `temperature_alarm`: a small state machine, fed in time order.

- Door: open for longer than `door_after` raises one `door_left_open` per opening.
- Temperature: a compartment warmer than its limit (`chilled_limit_c` for the fridge, door and
  crisper, `frozen_limit_c` for the freezer) for longer than `warm_after` raises one
  `temperature_alarm` per excursion; the excursion ends once it is 1 °C back under the limit.
- Sensors: a temperature sensor that is `stuck` or has `no_signal` raises one
  `temperature_alarm` with `fault` in its detail per episode (the fridge cannot tell how cold it
  is, which is worth telling).

`AlarmWatch.door(...)`, `.temperature(...)` and `.sensor(...)` return the alarms due now as
`(kind, detail)` pairs; the caller publishes them. Pure: times are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from freshtap.contract import EventKind

from .sensor_health import SensorStatus

__all__ = ["Alarm", "AlarmLimits", "AlarmWatch"]

Alarm = tuple[EventKind, dict[str, Any]]

_FROZEN = frozenset({"freezer"})


@dataclass(frozen=True)
class AlarmLimits:
    door_after: timedelta = timedelta(minutes=2)
    warm_after: timedelta = timedelta(minutes=15)
    chilled_limit_c: float = 8.0
    frozen_limit_c: float = -12.0

    def limit(self, compartment: str) -> float:
        return self.frozen_limit_c if compartment in _FROZEN else self.chilled_limit_c


class AlarmWatch:
    def __init__(self, limits: AlarmLimits | None = None) -> None:
        self.limits = limits or AlarmLimits()
        self._door_since: datetime | None = None
        self._door_cycle = 0
        self._door_raised = False
        self._warm_since: dict[str, datetime] = {}
        self._warm_raised: set[str] = set()
        self._faults: dict[str, str] = {}

    def door(self, now: datetime, is_open: bool, cycle: int) -> list[Alarm]:
        if not is_open:
            self._door_since = None
            self._door_raised = False
            return []
        if self._door_since is None or cycle != self._door_cycle:
            self._door_since, self._door_cycle, self._door_raised = now, cycle, False
        if not self._door_raised and now - self._door_since >= self.limits.door_after:
            self._door_raised = True
            seconds = int((now - self._door_since).total_seconds())
            return [(EventKind.DOOR_LEFT_OPEN, {"cycle": cycle, "open_seconds": seconds})]
        return []

    def temperature(self, now: datetime, compartment: str, temp_c: float) -> list[Alarm]:
        limit = self.limits.limit(compartment)
        if temp_c <= limit - 1.0:
            self._warm_since.pop(compartment, None)
            self._warm_raised.discard(compartment)
            return []
        if temp_c <= limit:
            return []
        since = self._warm_since.setdefault(compartment, now)
        if compartment not in self._warm_raised and now - since >= self.limits.warm_after:
            self._warm_raised.add(compartment)
            minutes = int((now - since).total_seconds() // 60)
            return [
                (
                    EventKind.TEMPERATURE_ALARM,
                    {"compartment": compartment, "temp_c": round(temp_c, 1), "limit_c": limit, "minutes": minutes},
                )
            ]
        return []

    def sensor(self, compartment: str, status: SensorStatus) -> list[Alarm]:
        if status in ("ok", "unknown"):
            self._faults.pop(compartment, None)
            return []
        if self._faults.get(compartment) == status:
            return []
        self._faults[compartment] = status
        return [(EventKind.TEMPERATURE_ALARM, {"compartment": compartment, "fault": status})]
