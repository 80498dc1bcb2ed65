"""An item's temperature history as a timeline, and the moment a shelf-life clock runs out.

A clock starts at some instant with a budget of reference hours (hours at 4 °C) and spends them
at the rate the rate law gives for each stretch of the timeline. Stretches with no reading are
taken at the compartment's nominal rate: 0 in a freezer, 1 anywhere else. The same nominal rate
is assumed after the last reading, so a clock's deadline does not depend on when it is asked.

Spans are used as given, wherever they lie in time. Where spans overlap, the one that starts
first keeps the overlap. Integration is exact over piecewise-constant rates, so splitting a span
in two changes nothing but float rounding.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from freshtap.shelflife.facts import TemperatureSpan

__all__ = ["Rate", "Segment", "Timeline", "hours_between"]

Rate = Callable[[float | None], float]
"""Reference hours used per hour, given a stretch's temperature (None: no reading)."""


def hours_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600.0


def _after(when: datetime, hours: float) -> datetime:
    """`when` plus `hours`, held to the first or last representable instant."""
    try:
        return when + timedelta(hours=hours)
    except OverflowError:
        edge = datetime.max if hours > 0 else datetime.min
        return edge.replace(tzinfo=when.tzinfo)


@dataclass(frozen=True, slots=True)
class Segment:
    start: datetime
    end: datetime
    temp_c: float


class Timeline:
    """Non-overlapping temperature segments in time order."""

    def __init__(self, spans: Sequence[TemperatureSpan]) -> None:
        segments: list[Segment] = []
        covered: datetime | None = None
        for span in sorted(spans, key=lambda s: (s.start, s.end)):
            start = span.start if covered is None else max(span.start, covered)
            if span.end > start:
                segments.append(Segment(start, span.end, span.temp_c))
            covered = span.end if covered is None else max(covered, span.end)
        self.segments: tuple[Segment, ...] = tuple(segments)
        self._ends = [s.end for s in segments]

    def _from(self, start: datetime) -> Sequence[Segment]:
        return self.segments[bisect_right(self._ends, start) :]

    def pieces(self, start: datetime, end: datetime | None) -> list[tuple[datetime, datetime, float | None]]:
        """(from, to, temperature or None for no reading) covering [start, end); open-ended if end is None.

        The last piece runs to `end`, or, with `end` None, is the open gap after the last
        reading, returned with `to` equal to its `from`.
        """
        out: list[tuple[datetime, datetime, float | None]] = []
        cursor = start
        for seg in self._from(start):
            if end is not None and seg.start >= end:
                break
            if seg.start > cursor:
                out.append((cursor, seg.start, None))
                cursor = seg.start
            stop = seg.end if end is None else min(seg.end, end)
            out.append((cursor, stop, seg.temp_c))
            cursor = stop
        if end is None:
            out.append((cursor, cursor, None))
        elif cursor < end:
            out.append((cursor, end, None))
        return out

    def deadline(self, start: datetime, budget_hours: float, rate: Rate) -> datetime | None:
        """When a clock started at `start` with `budget_hours` has spent them (None: never).

        A budget of zero or less ran out before the clock started, at `start + budget_hours`
        (an item added after its label date).
        """
        if budget_hours <= 0:
            return _after(start, budget_hours)
        remaining = budget_hours
        pieces = self.pieces(start, None)
        for index, (begin, stop, temp) in enumerate(pieces):
            speed = rate(temp)
            if index == len(pieces) - 1:  # the open gap after the last reading
                return _after(begin, remaining / speed) if speed > 0 else None
            used = speed * hours_between(begin, stop)
            if used >= remaining and speed > 0:
                return _after(begin, remaining / speed)
            remaining -= used
        return None  # pragma: no cover - the last piece always returns

    def spent(self, start: datetime, end: datetime, rate: Rate) -> float:
        """Reference hours spent between `start` and `end` at `rate`."""
        if end <= start:
            return 0.0
        return sum(rate(temp) * hours_between(a, b) for a, b, temp in self.pieces(start, end))
