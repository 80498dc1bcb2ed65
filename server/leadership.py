"""Which server worker runs the scheduled work (freshness refresh, stuck-payment reconciliation).

Every worker runs a scheduler thread; before each tick it asks its `TickLease` whether it leads.
On PostgreSQL the lease is a session-level advisory lock (`pg_try_advisory_lock`) held on one
dedicated connection for as long as the worker lives: exactly one worker holds it, the others
stand by, and when the leader dies PostgreSQL drops its session and with it the lock, so another
worker takes over at its next tick. Nothing is written, nothing expires on a timer, and no
coordinator of freshtap's own is involved. On SQLite there is only ever one worker
(`AlwaysLeader`).

    worker A  ── pg_try_advisory_lock(k) ─▶ true   (leads; ticks)
    worker B  ── pg_try_advisory_lock(k) ─▶ false  (stands by; asks again next tick)
    A dies    ── PostgreSQL ends A's session, the lock is free
    worker B  ── pg_try_advisory_lock(k) ─▶ true   (leads from its next tick)

The lease makes a tick run in one worker at a time; it is not what makes a tick's effects happen
once. A leader cut off from PostgreSQL notices only at its next check, so for a moment two
workers may both believe they lead; the work itself stays safe under that (row locks, unique
constraints and idempotency keys), the lease just keeps N workers from doing it N times.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Protocol

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

__all__ = [
    "SCHEDULER_LEASE",
    "AdvisoryLockLease",
    "AlwaysLeader",
    "TickLease",
    "advisory_key",
    "expose_leadership",
    "tick_lease_for",
]

log = logging.getLogger(__name__)

SCHEDULER_LEASE = "freshtap.scheduler"
"""The name of the scheduler's lease; its advisory-lock key is `advisory_key(SCHEDULER_LEASE)`."""


class TickLease(Protocol):
    """Whether this worker may run the scheduled work now."""

    def acquire(self) -> bool:
        """True if this worker leads now, taking the lease if it is free. Never blocks, never raises."""
        ...

    @property
    def leading(self) -> bool:
        """What the last `acquire` found (False before the first)."""
        ...

    def release(self) -> None:
        """Give the lease up (on shutdown) so another worker takes over at its next tick."""
        ...


class AlwaysLeader:
    """The lease of a worker that is alone by construction (SQLite, one process)."""

    def __init__(self) -> None:
        self._leading = False

    def acquire(self) -> bool:
        self._leading = True
        return True

    @property
    def leading(self) -> bool:
        return self._leading

    def release(self) -> None:
        self._leading = False


def advisory_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name` (the first 8 bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


class AdvisoryLockLease:
    """A PostgreSQL session-level advisory lock, held on a connection of its own.

    `acquire` checks that the connection (and so the lock) is still alive when it leads, and tries
    to take the lock when it does not; a connection that broke is dropped and the lease is lost
    until a new connection gets the lock again. Advisory locks are per database, so workers share
    a lease exactly when they share a database.
    """

    def __init__(self, engine: Engine, name: str = SCHEDULER_LEASE) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError(f"advisory locks need PostgreSQL, not {engine.dialect.name}")
        self._engine = engine
        self.name = name
        self.key = advisory_key(name)
        self._connection: Connection | None = None
        self._leading = False
        self._lock = threading.Lock()

    @property
    def leading(self) -> bool:
        return self._leading

    def acquire(self) -> bool:
        with self._lock:
            try:
                self._leading = self._still_held() if self._leading else self._try_take()
            except DBAPIError as exc:
                if self._leading:
                    log.warning("lost the %s lease: %s", self.name, exc.orig)
                self._leading = False
                self._drop_connection()
            return self._leading

    def _connect(self) -> Connection:
        if self._connection is None:
            # Autocommit: the lock belongs to the session, and no transaction stays open idle.
            self._connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    def _try_take(self) -> bool:
        taken = bool(self._connect().execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar())
        if taken:
            log.info("this worker now leads %s", self.name)
        return taken

    def _still_held(self) -> bool:
        # The lock lives exactly as long as the session; ask the server that it still holds it.
        # pg_locks shows a bigint key as its high half in `classid` and its low half in `objid`.
        held = self._connect().execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objsubid = 1"
                " AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid)"
            ),
            {"high": (self.key >> 32) & 0xFFFFFFFF, "low": self.key & 0xFFFFFFFF},
        ).scalar()
        if not held:
            log.warning("the %s lease vanished from this worker's session", self.name)
        return bool(held)

    def release(self) -> None:
        with self._lock:
            if self._connection is not None and self._leading:
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                except DBAPIError as exc:
                    log.info("could not release %s (the session is gone, and the lock with it): %s", self.name, exc)
            self._leading = False
            self._drop_connection()

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.invalidate()  # never hand a connection that may hold the lock back to the pool
            connection.close()
        except DBAPIError:
            pass


def tick_lease_for(engine: Engine) -> TickLease:
    """The lease for workers on this database: an advisory lock on PostgreSQL, else always leader."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLockLease(engine)
    return AlwaysLeader()


def expose_leadership(lease: TickLease, registry: CollectorRegistry) -> Gauge:
    """`freshtap_scheduler_leader`: 1 in the one worker that runs the scheduled work, 0 elsewhere."""
    gauge = Gauge(
        "freshtap_scheduler_leader",
        "1 while this worker holds the scheduler lease (runs the scheduled work); 0 while it stands by.",
        registry=registry,
    )
    gauge.set_function(lambda: 1.0 if lease.leading else 0.0)
    return gauge
