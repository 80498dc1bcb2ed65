"""The measured temperature of each compartment over time, kept small, for the shelf-life model.

Readings are folded into buckets of `bucket` length (15 minutes) holding the *highest* reading
seen in them: the rate law is steep above 4 °C, so the warmest reading is the safe one to
assume for the whole bucket. Buckets older than `keep` are forgotten. `spans(compartment, since)`
gives the model its `TemperatureSpan`s; a bucket without readings is a gap, which the model fills
with the compartment's nominal temperature. Only readings the agent trusts (not stuck, not
missing) belong here. Thread-safe; serialisable with `to_json` / `from_json`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from freshtap.shelflife import TemperatureSpan

__all__ = ["TemperatureLog"]

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class TemperatureLog:
    def __init__(self, bucket: timedelta = timedelta(minutes=15), keep: timedelta = timedelta(days=14)) -> None:
        if bucket <= timedelta(0) or keep < bucket:
            raise ValueError("need 0 < bucket <= keep")
        self._bucket = bucket
        self._keep = keep
        self._lock = threading.Lock()
        self._buckets: dict[str, dict[int, float]] = {}

    def _index(self, at: datetime) -> int:
        return int((at - _EPOCH) / self._bucket)

    def add(self, compartment: str, at: datetime, temp_c: float) -> None:
        index = self._index(at)
        with self._lock:
            buckets = self._buckets.setdefault(compartment, {})
            current = buckets.get(index)
            buckets[index] = temp_c if current is None else max(current, temp_c)
            oldest = index - int(self._keep / self._bucket)
            if len(buckets) > 1 and min(buckets) < oldest:
                for stale in [i for i in buckets if i < oldest]:
                    del buckets[stale]

    def spans(self, compartment: str, since: datetime) -> Sequence[TemperatureSpan]:
        first = self._index(since)
        with self._lock:
            buckets = sorted((i, t) for i, t in self._buckets.get(compartment, {}).items() if i >= first)
        out = []
        for index, temp in buckets:
            start = _EPOCH + self._bucket * index
            out.append(TemperatureSpan(max(start, since), start + self._bucket, temp))
        return out

    def latest(self, compartment: str) -> float | None:
        with self._lock:
            buckets = self._buckets.get(compartment)
            return None if not buckets else buckets[max(buckets)]

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {c: [[i, t] for i, t in sorted(b.items())] for c, b in self._buckets.items()}

    def load_json(self, data: dict[str, Any] | None) -> None:
        if not data:
            return
        with self._lock:
            for compartment, pairs in data.items():
                buckets = self._buckets.setdefault(str(compartment), {})
                for index, temp in pairs:
                    buckets[int(index)] = max(float(temp), buckets.get(int(index), float("-inf")))
