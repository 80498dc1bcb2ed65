"""Every benchmark runs end to end with `--quick` (tiny sizes): the harness works, its output parses.

Speed is never asserted here. The runs start together (most of their time is spent waiting
for servers and brokers to come up) and each test then checks one of them. A configuration
whose service is missing is skipped, or fails under FRESHTAP_REQUIRE_SERVICES=1 (the benchmark
itself exits non-zero then).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import missing_service, services_required

BENCH = Path(__file__).resolve().parents[2] / "bench"

# Arguments beyond --quick: one backend each where a benchmark has several (ingest covers the
# Mosquitto + PostgreSQL path, the others the embedded one), to keep the whole smoke run short.
ARGS: dict[str, list[str]] = {
    "bench_ingest.py": ["--backends", "mosquitto+postgres"],
    "bench_offer_latency.py": ["--backends", "amqtt+sqlite"],
    "bench_accept.py": ["--backends", "amqtt+sqlite"],
    "bench_labels.py": [],
    "bench_render.py": [],
    "bench_memory.py": [],
    "bench_fleet.py": [],
}
# Every script in bench/ runs, including ones added later (with --quick alone, any figures).
RUNS = {path.name: ARGS.get(path.name, []) for path in sorted(BENCH.glob("bench_*.py"))}
# Which figures each run must report (benchmark name, how many RESULT lines at least).
EXPECTED: dict[str, tuple[str | None, int]] = {
    "bench_ingest.py": ("ingest", 1),
    "bench_offer_latency.py": ("offer_latency", 2),
    "bench_accept.py": ("accept", 2),
    "bench_labels.py": ("labels", 3),
    "bench_render.py": ("render", 4),
    "bench_memory.py": ("memory", 1),
    "bench_fleet.py": ("fleet", 1),
    "bench_flood.py": ("flood", 1),
}


@dataclass
class Run:
    process: subprocess.Popen[str]
    output: str = ""

    def finish(self, timeout: float) -> Run:
        if self.process.returncode is None:
            try:
                self.output, _ = self.process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.output, _ = self.process.communicate()
                pytest.fail(f"benchmark did not finish within {timeout:.0f} s:\n{self.output[-3000:]}")
        return self


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, Run]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHTAP_") or k in (
        "FRESHTAP_REQUIRE_SERVICES", "FRESHTAP_TEST_POSTGRES_URL")}
    started = {
        script: Run(
            subprocess.Popen(
                [sys.executable, str(BENCH / script), "--quick", *args],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=BENCH.parent,
            )
        )
        for script, args in RUNS.items()
    }
    try:
        yield started
    finally:
        for run in started.values():
            if run.process.poll() is None:
                run.process.kill()
                run.process.communicate()


def results(output: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in output.splitlines() if line.startswith("JSON ")]


def test_the_issue_benchmarks_are_all_there() -> None:
    assert set(ARGS) <= set(RUNS), set(ARGS) - set(RUNS)


@pytest.mark.parametrize("script", list(RUNS))
def test_quick_run_reports_figures_against_a_baseline(script: str, runs: dict[str, Run]) -> None:
    run = runs[script].finish(timeout=180)
    skipped = [line for line in run.output.splitlines() if line.startswith("SKIP ")]
    if run.process.returncode == 3 and services_required():
        pytest.fail(f"{script}: a required service is missing:\n{run.output[-2000:]}")
    assert run.process.returncode == 0, run.output[-3000:]
    name, at_least = EXPECTED.get(script, ("*", 1))
    if name is None:  # not measurable yet: says so and why
        assert skipped and "not built yet" in skipped[0]
        return
    found = [r for r in results(run.output) if name in ("*", r["benchmark"])]
    if not found and skipped:
        missing_service(f"{script}: {skipped[0]}")
    assert len(found) >= at_least, run.output[-3000:]
    for figure in found:
        assert math.isfinite(figure["value"]) and figure["value"] > 0, figure
        assert math.isfinite(figure["baseline"]) and figure["baseline"] > 0, figure
        assert figure["ratio"] == pytest.approx(figure["value"] / figure["baseline"])
        assert isinstance(figure["met"], bool) or figure["target"] is None
        assert f"RESULT {figure['benchmark']} [{figure['config']}] {figure['name']}" in run.output


def test_the_ingest_run_stored_every_timed_message(runs: dict[str, Run]) -> None:
    """The server's figure counts messages it actually applied, not merely received."""
    run = runs["bench_ingest.py"].finish(timeout=180)
    found = [r for r in results(run.output) if r["benchmark"] == "ingest"]
    if not found:
        missing_service("ingest: " + next((x for x in run.output.splitlines() if x.startswith("SKIP")), "no result"))
    extra = found[0]["extra"]
    # --quick times a fixed batch: one warm-up snapshot per fridge, then the timed ones, each handled
    # once: applied, or superseded by a newer snapshot of its fridge in the same ingest batch (stale).
    outcomes = extra["outcomes"]
    assert set(outcomes) <= {"applied", "stale"} and outcomes.get("applied", 0) >= extra["fridges"], extra
    assert sum(outcomes.values()) == extra["fridges"] + extra["messages"], extra
    assert extra["baseline_invalid"] == 0
