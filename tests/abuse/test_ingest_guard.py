"""The ingest side of the publish quota (server/ingest/rate_limit.py), on a real SQLite store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from freshtap.clock import ManualClock
from freshtap.contract import Channel, CompartmentReading, TelemetryBody, TelemetryMessage, encode, topic
from freshtap.server.ingest.rate_limit import IngestRateGuard
from freshtap.server.metrics import Metrics
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from freshtap.server.store.models import Rejection
from freshtap.settings import BrokerLimitSettings

F = "fridge-a"


class Now:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Bans:
    def __init__(self) -> None:
        self.banned: list[tuple[str, float]] = []

    def ban(self, username: str, seconds: float) -> None:
        self.banned.append((username, seconds))


def message(clock: ManualClock, seq: int, age: float = 0.0) -> bytes:
    return encode(
        TelemetryMessage(
            type="telemetry",
            fridge_id=F,
            seq=seq,
            at=clock.now() - timedelta(seconds=age),
            body=TelemetryBody(compartments=[CompartmentReading(id="fridge", temp_c=3.8)], door_open=False),
        )
    )


def make(tmp_path: Path, **limits: object) -> tuple[IngestRateGuard, ManualClock, Now, Bans, Metrics, object]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'g.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    clock, now, bans, metrics = ManualClock(), Now(), Bans(), Metrics()
    settings = BrokerLimitSettings(publish_rate=10, publish_burst=5, ingest_grace_seconds=0, **limits)  # type: ignore[arg-type]
    return IngestRateGuard(settings, sessions, clock, metrics, bans, monotonic=now), clock, now, bans, metrics, sessions


def test_over_quota_is_refused_counted_and_recorded_once_per_streak(tmp_path: Path) -> None:
    guard, clock, now, _, metrics, sessions = make(tmp_path)
    handled: list[str] = []
    handle = guard.wrap(lambda t, p: handled.append(t))
    t = topic(F, Channel.TELEMETRY)
    for seq in range(50):  # all at once: the burst passes, the rest is refused
        handle(t, message(clock, seq))
    assert len(handled) == 5
    now.t += 1.0  # the rate refilled ten; the streak ends with the next admitted one
    handle(t, message(clock, 99))
    assert len(handled) == 6
    assert metrics.rejected.labels(reason="rate_limited")._value.get() == 45
    with sessions() as session:  # type: ignore[operator]
        rows = session.exec(select(Rejection).order_by(Rejection.id)).all()
    assert [r.reason for r in rows] == ["rate_limited", "rate_limited"]
    assert rows[0].payload == message(clock, 5) and "44 more" in rows[1].detail


def test_a_replayed_offline_queue_passes(tmp_path: Path) -> None:
    guard, clock, _, bans, _, _ = make(tmp_path, flood_ban_after_seconds=0.5)
    t = topic(F, Channel.TELEMETRY)
    assert all(guard.admit(t, message(clock, seq, age=3600 - seq)) for seq in range(50))
    assert not bans.banned


def test_a_persistent_flooder_is_banned_once(tmp_path: Path) -> None:
    guard, clock, now, bans, _, _ = make(tmp_path, flood_ban_after_seconds=2.0, ban_seconds=300)
    t = topic(F, Channel.TELEMETRY)
    for i in range(1000):  # 250/s for 4 s
        guard.admit(t, message(clock, i))
        now.t += 0.004
    assert bans.banned == [(F, 300.0)]
