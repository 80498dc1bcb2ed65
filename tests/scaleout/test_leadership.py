"""The scheduler lease: one worker of many runs the scheduled work, and another takes over when it dies."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, text

from freshtap.server.leadership import (
    AdvisoryLockLease,
    AlwaysLeader,
    advisory_key,
    expose_leadership,
    tick_lease_for,
)
from freshtap.server.store.db import create_db_engine
from tests.stack import wait_until


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_db_engine(postgres_url)
    yield engine
    engine.dispose()


def test_advisory_keys_are_stable_signed_64_bit_and_distinct() -> None:
    key = advisory_key("freshtap.scheduler")
    assert key == advisory_key("freshtap.scheduler")
    assert -(2**63) <= key < 2**63
    assert key != advisory_key("freshtap.outbox")


def test_sqlite_has_one_worker_so_it_always_leads(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'one.db'}")
    lease = tick_lease_for(engine)
    assert isinstance(lease, AlwaysLeader)
    assert not lease.leading
    assert lease.acquire() and lease.leading
    lease.release()
    assert not lease.leading
    with pytest.raises(ValueError, match="PostgreSQL"):
        AdvisoryLockLease(engine)
    engine.dispose()


def test_one_lease_of_many_leads_until_it_lets_go(pg_engine: Engine) -> None:
    leases = [tick_lease_for(pg_engine) for _ in range(3)]
    assert all(isinstance(lease, AdvisoryLockLease) for lease in leases)
    registry = CollectorRegistry()
    expose_leadership(leases[1], registry)

    assert [lease.acquire() for lease in leases] == [True, False, False]
    assert [lease.acquire() for lease in leases] == [True, False, False]  # and keeps leading, tick after tick
    assert registry.get_sample_value("freshtap_scheduler_leader") == 0.0

    leases[0].release()
    assert not leases[0].leading
    assert [lease.acquire() for lease in leases[1:]] == [True, False]
    assert registry.get_sample_value("freshtap_scheduler_leader") == 1.0
    assert leases[0].acquire() is False
    for lease in leases:
        lease.release()


def test_a_leader_whose_session_ends_loses_the_lease_and_another_takes_it(pg_engine: Engine) -> None:
    leader, standby = AdvisoryLockLease(pg_engine), AdvisoryLockLease(pg_engine)
    assert leader.acquire() and not standby.acquire()
    with pg_engine.connect() as admin:
        pid = admin.execute(
            text("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
                 " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                 " AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid)"),
            {"high": (leader.key >> 32) & 0xFFFFFFFF, "low": leader.key & 0xFFFFFFFF},
        ).scalar_one()
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    # The old leader learns it at its next check instead of ticking on; the standby takes over.
    assert wait_until(lambda: standby.acquire(), timeout=10)
    assert leader.acquire() is False and not leader.leading
    standby.release()
    assert wait_until(lambda: leader.acquire(), timeout=10)  # a new connection can lead again
    leader.release()


def test_a_killed_leader_process_frees_the_lease_at_once(pg_engine: Engine, postgres_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LEASE, postgres_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "leading", holder.stderr.read() if holder.stderr else ""
        standby = AdvisoryLockLease(pg_engine)
        assert standby.acquire() is False
        holder.kill()  # SIGKILL: no release, no goodbye; PostgreSQL sees the socket close
        holder.wait(10)
        assert wait_until(lambda: standby.acquire(), timeout=10)
        standby.release()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


_HOLD_LEASE = """
import sys, time
from freshtap.server.leadership import AdvisoryLockLease
from freshtap.server.store.db import create_db_engine
lease = AdvisoryLockLease(create_db_engine(sys.argv[1]))
assert lease.acquire()
print("leading", flush=True)
time.sleep(600)
"""
