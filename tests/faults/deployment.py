"""freshtap deployed on one machine, for fault and scale-out tests: Mosquitto with persistence,
PostgreSQL, provisioned fridges, and server workers, either in this process (`start_server`) or as
`freshtap server` subprocesses an operator would run (`spawn_worker`), which a test can SIGKILL.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from freshtap.clock import SystemClock
from freshtap.server.runtime import ServerRuntime
from freshtap.server.services import accounts
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from freshtap.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, free_port
from tests.faults.broker import BrokerSettings, DurableBroker
from tests.faults.device_fleet import ConfirmingFleet
from tests.faults.fleet import PublishingFleet
from tests.faults.ledger import FaultReport, duplicate_effects, stored_keys
from tests.stack import FRESHTAP, wait_until

__all__ = ["SERVER_PASSWORD", "FaultStack", "MakeStack", "Worker", "fault_stack_factory"]

SERVER_PASSWORD = "s3rver-pass-for-fault-tests"


@dataclass
class Worker:
    """`freshtap server` as a subprocess, as an operator runs a worker."""

    process: subprocess.Popen[str]
    http: str
    log: Path

    def metrics(self) -> str:
        return httpx.get(f"{self.http}/metrics", timeout=5).text

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.http}{path}", timeout=5)

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        return self.process.wait(30)


@dataclass
class FaultStack:
    workdir: Path
    database_url: str
    engine: Engine
    broker: DurableBroker
    fridges: dict[str, str]
    _runtimes: list[ServerRuntime] = field(default_factory=list)
    _fleets: list[PublishingFleet | ConfirmingFleet] = field(default_factory=list)
    _workers: list[Worker] = field(default_factory=list)

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "mqtt_url": self.broker.url,
            "server_mqtt_password": SERVER_PASSWORD,
            "http_port": 0,
            "data_dir": self.workdir / "data",
            **overrides,
        }
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def start_server(self, **overrides: Any) -> ServerRuntime:
        runtime = ServerRuntime(self.settings(**overrides), SystemClock())
        self._runtimes.append(runtime)
        runtime.start()
        return runtime

    def confirming_fleet(self) -> ConfirmingFleet:
        """Fridges on the device's own uplink and outbox, waiting for the server's confirmations."""
        fleet = ConfirmingFleet(self.broker.url, self.fridges, self.workdir / "devices")
        self._fleets.append(fleet)
        fleet.connect()
        return fleet

    def fleet(self, window: int = 100) -> PublishingFleet:
        fleet = PublishingFleet("127.0.0.1", self.broker.port, self.fridges, window=window)
        self._fleets.append(fleet)
        fleet.connect()
        return fleet

    def worker_env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHTAP_")}
        env.update(
            FRESHTAP_DATABASE_URL=self.database_url,
            FRESHTAP_MQTT_URL=self.broker.url,
            FRESHTAP_SERVER_MQTT_PASSWORD=SERVER_PASSWORD,
            FRESHTAP_DATA_DIR=str(self.workdir / "data"),
        )
        env.update(extra)  # may override any of the above (a worker in a namespace reaches them elsewhere)
        return env

    def spawn_worker(self, prefix: tuple[str, ...] = (), **extra: str) -> Worker:
        """Start `freshtap server` and return once it says where it listens (it is subscribed by then)."""
        return self.spawn_workers(1, prefix, **extra)[0]

    def spawn_workers(self, count: int, prefix: tuple[str, ...] = (), **extra: str) -> list[Worker]:
        """Start `count` workers at once (each takes a second or two to import and migrate).

        `prefix` goes before the command (`ip netns exec NAME`, to run a worker in a namespace).
        """
        launched = []
        for _ in range(count):
            number = len(self._workers) + len(launched)
            log = (self.workdir / f"worker-{number}.log").open("w", encoding="utf-8")
            process = subprocess.Popen(
                [*prefix, FRESHTAP, "server"],
                env=self.worker_env(**{"FRESHTAP_HTTP_PORT": str(free_port()), **extra}),
                cwd=self.workdir,
                stdout=subprocess.PIPE,
                stderr=log,  # a file, not a pipe nobody reads: a chatty worker must never block on it
                text=True,
            )
            log.close()
            launched.append((process, self.workdir / f"worker-{number}.log"))
        workers = []
        for process, log_path in launched:
            assert process.stdout is not None
            banner = process.stdout.readline()
            match = re.search(r"HTTP (http://\S+)", banner)
            if match is None:
                process.kill()
                process.wait(10)
                raise AssertionError(
                    f"freshtap server did not start: {banner!r}\n{log_path.read_text(errors='replace')[-3000:]}"
                )
            worker = Worker(process, match.group(1), log_path)
            self._workers.append(worker)
            workers.append(worker)
        return workers

    def stored(self) -> set[tuple[str, int]]:
        return stored_keys(self.engine)

    def wait_stored(self, keys: dict[str, int] | Iterable[tuple[str, int]], stall: float = 60.0) -> None:
        """Wait until every (fridge, seq) in `keys` is stored, for as long as storing makes progress.

        A backlog of thousands takes the server minutes on a busy machine; what fails the wait is
        `stall` seconds without a single message stored.
        """
        wanted = set(keys.items()) if isinstance(keys, dict) else set(keys)
        progress = {"count": -1, "at": time.monotonic()}

        def done_or_stalled() -> bool:
            stored = self.stored()
            if wanted <= stored:
                return True
            if len(stored) != progress["count"]:
                progress.update(count=len(stored), at=time.monotonic())
            elif time.monotonic() - progress["at"] > stall:
                missing = sorted(wanted - stored)
                raise AssertionError(
                    f"{len(missing)} acknowledged messages never stored (first: {missing[:8]}); {len(stored)}"
                    f" stored in all, none for {stall:.0f}s; broker log:\n{self.broker.log_tail()}"
                )
            return False

        wait_until(done_or_stalled, timeout=3600, interval=0.2)

    def report(
        self,
        case: str,
        fleet: PublishingFleet | ConfirmingFleet,
        duplicates_suppressed: int,
        faults: list[str],
        **notes: object,
    ) -> FaultReport:
        ours = {key for key in self.stored() if key[0] in self.fridges}
        return FaultReport(
            case=case,
            sent=fleet.sent,
            acknowledged=len(fleet.acked),
            stored=len(ours),
            duplicates_suppressed=duplicates_suppressed,
            lost=len(fleet.acked - ours),
            duplicate_effects=duplicate_effects(self.engine),
            faults=faults,
            notes=dict(notes),
        ).publish()

    def close(self) -> None:
        for fleet in self._fleets:
            fleet.close()
        for runtime in self._runtimes:
            runtime.stop()
        # `stop` waits 10 s for the ingest thread; on a loaded machine it may still be storing what
        # it had received. Let it finish before the database goes away under it.
        wait_until(lambda: not any(t.name == "freshtap-ingest" for t in threading.enumerate()), timeout=120)
        for worker in self._workers:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait(10)
            if worker.process.stdout is not None:
                worker.process.stdout.close()
        if self.broker.running:
            self.broker.stop(signal.SIGTERM)
        self.engine.dispose()


MakeStack = Callable[..., FaultStack]


def fault_stack_factory(request: pytest.FixtureRequest, tmp_path: Path, mosquitto_binary: str) -> MakeStack:
    """`make_fault_stack(fridges=10, broker=BrokerSettings(...))`: provisioned and configured, broker started.

    The database is a fresh one on the shared PostgreSQL unless `database_url` names another.
    """
    made: list[FaultStack] = []

    def make(
        fridges: int = 10,
        broker: BrokerSettings | None = None,
        start_broker: bool = True,
        database_url: str | None = None,
    ) -> FaultStack:
        postgres_url = database_url or _another_database(request, first=not made)
        engine = create_db_engine(postgres_url)
        migrate(engine)
        sessions = session_factory(engine)
        logins: dict[str, str] = {}
        for n in range(fridges):
            made_fridge = accounts.provision_fridge(
                sessions, SystemClock(), household_name=f"home {n}", payment_method="pm_sandbox_ok",
                fridge_id=f"f-fault-{n:03d}",
            )
            logins[made_fridge.fridge_id] = made_fridge.password
        workdir = tmp_path / f"stack{len(made)}"
        durable = DurableBroker(
            mosquitto_binary,
            workdir / "mosquitto",
            free_port(),
            server_username="freshtap-server",
            server_password=SERVER_PASSWORD,
            fridges=logins,
            settings=broker or BrokerSettings(),
        )
        stack = FaultStack(workdir, postgres_url, engine, durable, logins)
        made.append(stack)
        # Registered after the database fixture was set up, so it runs before that drops the database.
        request.node.addfinalizer(stack.close)
        if start_broker:
            durable.start()
        return stack

    return make


def _another_database(request: pytest.FixtureRequest, *, first: bool) -> str:
    """The test's fresh database (`postgres_url`); a second stack in one test gets one more, dropped after."""
    url: str = request.getfixturevalue("postgres_url")
    if first:
        return url
    name = f"freshtap_t_{secrets.token_hex(5)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.node.addfinalizer(drop)
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
