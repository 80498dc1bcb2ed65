"""How every benchmark reports: one figure, its baseline from the same run, and their ratio.

Each line a benchmark prints that carries a result starts with `RESULT` and is followed by a
JSON object on a line starting `JSON ` (for `docs/benchmarks.md` and the smoke test to read).
A configuration whose outside service is missing is reported as `SKIP` with the reason, or
fails the run under `FRESHTAP_REQUIRE_SERVICES=1` (the test suite's rule).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = [
    "Figure",
    "ServiceMissing",
    "console",
    "parser",
    "percentile",
    "progress",
    "report",
    "skip",
]

console = Console(stderr=False, highlight=False, soft_wrap=True)


class ServiceMissing(RuntimeError):
    """An outside service (Mosquitto, PostgreSQL) a configuration needs is not there."""


@dataclass(frozen=True)
class Figure:
    """One measured figure against its baseline from the same run.

    `ratio` is figure / baseline. `target` states the issue's target in words and `met` whether
    this figure meets it (None where the issue sets none).
    """

    benchmark: str
    config: str
    name: str
    value: float
    unit: str
    baseline_name: str
    baseline: float
    target: str | None = None
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.nan


def parser(description: str) -> argparse.ArgumentParser:
    """The arguments every benchmark takes (`--quick`, `--json`)."""
    made = argparse.ArgumentParser(description=description)
    made.add_argument("--quick", action="store_true", help="tiny sizes: a seconds-long run that proves the harness")
    made.add_argument("--json", dest="json_out", default=None, help="also append each result as a JSON line here")
    return made


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}"


def report(figure: Figure, json_out: str | None = None) -> None:
    verdict = "" if figure.met is None else ("  target met" if figure.met else "  TARGET MISSED")
    target = f"  (target: {figure.target})" if figure.target else ""
    console.print(
        f"RESULT {figure.benchmark} [{figure.config}] {figure.name}: {_number(figure.value, figure.unit)}"
        f"  | baseline {figure.baseline_name}: {_number(figure.baseline, figure.unit)}"
        f"  | ratio {figure.ratio:.3f}{target}{verdict}",
        markup=False,
    )
    record = {**asdict(figure), "ratio": figure.ratio}
    line = json.dumps(record, default=str)
    print("JSON " + line, flush=True)
    if json_out:
        with open(json_out, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def skip(benchmark: str, config: str, reason: str) -> None:
    """Report a configuration that could not run; under FRESHTAP_REQUIRE_SERVICES=1 that ends the run."""
    console.print(f"SKIP {benchmark} [{config}]: {reason}", markup=False)
    if os.environ.get("FRESHTAP_REQUIRE_SERVICES") == "1":
        console.print("FRESHTAP_REQUIRE_SERVICES=1: a missing service fails the benchmark", markup=False)
        sys.exit(3)


@contextmanager
def progress(transient: bool = True) -> Iterator[Progress]:
    """A rich progress display for long phases (drawn only on a terminal)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
        disable=not console.is_terminal,
    ) as bar:
        yield bar
