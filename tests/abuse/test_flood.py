"""Issue 9's acceptance: one fridge flooding while 99 publish normally, on both brokers.

The flooder is held to its quota (stored ≈ burst + rate * duration); the 99 lose nothing and
their p99 ingest latency (publish → stored) stays within 1.2x of a run without the flooder.
The fast version runs in `make test`; the 60-s one at 1,000 messages/s is `make faults`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from freshtap.settings import BrokerLimitSettings
from tests.abuse.flood import FloodReport, measure_flood

RATE, BURST = 20.0, 10
# The p99 of a few hundred samples is its handful of slowest. In a 5-s run the flood's first
# moments (the flooder's burst, then the broker holding its socket back) are a large share of
# them, and on the embedded broker they share one interpreter with the server: measured here on
# a quiet machine the fleet's p99 went from ~4 ms to 75-180 ms for that moment. The fast run
# therefore only checks that the others do not fall behind (an unthrottled flooder puts them
# seconds behind) and that nothing is lost; the 1.2x acceptance is the 60-s run (make faults),
# which allows 2 ms and passed on both brokers (docs/security.md).
FAST_NOISE = 0.25
QUIET_NOISE = 0.002


def limits(*, ban_after: float = 0.0, dynsec: bool = False) -> BrokerLimitSettings:
    return BrokerLimitSettings(
        publish_rate=RATE,
        publish_burst=BURST,
        flood_ban_after_seconds=ban_after,
        ingest_grace_seconds=0.0,
        mosquitto_dynsec=dynsec,
    )


def check(report: FloodReport, noise: float) -> None:
    assert not report.baseline.missing, f"lost without a flood: {report.baseline.missing}"
    assert not report.flooded.missing, f"lost during the flood: {report.flooded.missing}"
    base, flooded = report.baseline.p(0.99), report.flooded.p(0.99)
    assert flooded <= 1.2 * base + noise, f"p99 {flooded * 1000:.1f} ms vs {base * 1000:.1f} ms without the flood"
    quota = BURST + RATE * report.duration
    assert report.flooder_sent >= 5 * quota or report.flooder_sent < quota  # it really flooded (or was held back)
    # What it had sent within its quota still arrives during the half second the driver waits after.
    assert report.flooder_stored <= quota + RATE * 1.0 + 5, f"{report.flooder_stored} stored, quota {quota:.0f}"
    assert report.flooder_stored >= 0.5 * RATE * report.duration


def database(tmp_path: Path) -> str:
    # SQLite for both brokers: the test measures what a flooder does to the others through the
    # broker and the ingest path, not the database (PostgreSQL ingest is covered in tests/server).
    return f"sqlite:///{tmp_path / 'flood.db'}"


@pytest.mark.parametrize("backend", ["embedded", pytest.param("mosquitto", marks=pytest.mark.services)])
def test_a_flooder_is_held_to_its_quota_and_the_others_do_not_notice(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    binary = request.getfixturevalue("mosquitto_binary") if backend == "mosquitto" else None
    report = measure_flood(
        backend,
        tmp_path,
        database(tmp_path),
        duration=5.0,
        limits=limits(),
        flood_rate=300.0,
        mosquitto_binary=binary,
    )
    check(report, FAST_NOISE)


@pytest.mark.faults
@pytest.mark.timeout(600)  # two 60-s phases and their drains
@pytest.mark.parametrize("backend", ["embedded", pytest.param("mosquitto", marks=pytest.mark.services)])
def test_a_flooder_at_1000_per_second_for_60_s(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    binary = request.getfixturevalue("mosquitto_binary") if backend == "mosquitto" else None
    report = measure_flood(
        backend,
        tmp_path,
        database(tmp_path),
        duration=60.0,
        limits=limits(),
        flood_rate=1000.0,
        mosquitto_binary=binary,
    )
    check(report, QUIET_NOISE)


@pytest.mark.services
def test_a_flooder_that_persists_is_banned_on_mosquitto(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # On the embedded broker this is tests/broker/test_limits_embedded.py's flood ban.
    binary = request.getfixturevalue("mosquitto_binary")
    report = measure_flood(
        "mosquitto",
        tmp_path,
        database(tmp_path),
        duration=3.0,
        limits=limits(ban_after=1.0, dynsec=True),
        fleet=10,
        flood_rate=300.0,
        mosquitto_binary=binary,
    )
    assert not report.flooded.missing
    assert report.flooder_refused_at_reconnect
    assert report.flooder_stored <= BURST + RATE * 1.5 + 5
