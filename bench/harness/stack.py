"""The pieces a benchmark stands up: a scratch database, provisioned accounts, a Mosquitto with
freshtap's passwords and ACL, a `freshtap server` process, and a standalone embedded broker.

The server always runs as its own process (`freshtap server`), as it is deployed, so the load
generator never shares its interpreter; figures read from its `/metrics` and `/proc`.
Accounts are made the way `freshtap admin` makes them: with `freshtap.server.services.accounts`
on the database directly.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import pwd
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "BENCH_DIR",
    "SERVER_PASSWORD",
    "SERVER_USERNAME",
    "VALIDATOR_USERNAME",
    "Backend",
    "Mosquitto",
    "ServerProcess",
    "StandaloneBroker",
    "backend_from_name",
    "create_merchant",
    "helper_command",
    "merchant_offers",
    "provision_fridges",
    "rss_kib",
    "scratch_database",
    "wait_for",
    "workdir",
]

BENCH_DIR = Path(__file__).resolve().parents[1]
SERVER_USERNAME = "freshtap-server"
SERVER_PASSWORD = "bench-" + secrets.token_urlsafe(12)
VALIDATOR_USERNAME = "freshtap-bench-validator"
"""A second account with the server's rights, for the baselines on Mosquitto."""
POSTGRES_ADMIN_URL = os.environ.get("FRESHTAP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FRESHTAP = str(Path(sys.executable).with_name("freshtap"))


@dataclass(frozen=True)
class Backend:
    """A broker and a database: `amqtt+sqlite`, `mosquitto+sqlite` or `mosquitto+postgres`."""

    broker: str
    database: str

    @property
    def name(self) -> str:
        return f"{self.broker}+{self.database}"


def backend_from_name(name: str) -> Backend:
    broker, _, database = name.partition("+")
    if broker not in ("amqtt", "mosquitto") or database not in ("sqlite", "postgres"):
        raise ValueError(f"unknown backend {name!r}: amqtt+sqlite, mosquitto+sqlite or mosquitto+postgres")
    return Backend(broker, database)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `predicate` until it is truthy; `TimeoutError` naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"freshtap-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def scratch_database(kind: str, directory: Path, postgres_url: str | None = None) -> Iterator[str]:
    """A migrated, empty database: a SQLite file in `directory`, or PostgreSQL.

    For PostgreSQL, `postgres_url` names an existing empty database to use as it is; without it
    a scratch database is created next to `FRESHTAP_TEST_POSTGRES_URL` and dropped afterwards.
    Raises `ServiceMissing` when PostgreSQL is not reachable.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    from freshtap.server.store.db import create_db_engine, migrate

    from .report import ServiceMissing

    if kind == "sqlite":
        url = f"sqlite:///{directory / 'freshtap.db'}"
        engine = create_db_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
        return
    if postgres_url is not None:
        engine = create_db_engine(postgres_url)
        migrate(engine)
        engine.dispose()
        yield postgres_url
        return
    name = f"freshtap_bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        raise ServiceMissing(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc.orig}") from None
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = create_db_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Fridge:
    fridge_id: str
    password: str


def provision_fridges(database_url: str, count: int, prefix: str = "bench", workers: int = 4) -> list[Fridge]:
    """`count` fridges, each in a household of its own with a sandbox card that succeeds."""
    from freshtap.clock import SystemClock
    from freshtap.server.services import accounts
    from freshtap.server.store.db import create_db_engine, session_factory

    engine = create_db_engine(database_url)
    sessions = session_factory(engine)
    clock = SystemClock()

    def one(index: int) -> Fridge:
        made = accounts.provision_fridge(
            sessions,
            clock,
            household_name=f"household {index}",
            payment_method="pm_sandbox_ok",
            fridge_id=f"{prefix}-{index:05d}",
        )
        return Fridge(made.fridge_id, made.password)

    try:
        # argon2 hashing dominates and releases the GIL: a few threads use both cores.
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, range(count)))
    finally:
        engine.dispose()


def create_merchant(database_url: str, name: str = "Bench Grocers") -> str:
    """A merchant; returns its API key."""
    from freshtap.clock import SystemClock
    from freshtap.server.services import accounts
    from freshtap.server.store.db import create_db_engine, session_factory

    engine = create_db_engine(database_url)
    try:
        return accounts.create_merchant(session_factory(engine), SystemClock(), name).api_key
    finally:
        engine.dispose()


def merchant_offers(http_url: str, api_key: str, within_hours: float = 36) -> int:
    """Every catalog product with an `expiring` offer, over the public HTTP API; returns how many."""
    from freshtap.simulator.catalog import CATALOG

    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=http_url, headers=headers, timeout=30) as api:
        for entry in CATALOG:
            product = api.post(
                "/api/v1/products",
                json={
                    "gtin": entry.gtin,
                    "name": entry.name,
                    "category": entry.category,
                    "price": {"amount_minor": 1290, "currency": "CNY"},
                },
            )
            product.raise_for_status()
            api.post(
                "/api/v1/offers",
                json={
                    "product_id": product.json()["id"],
                    "match": {"gtin": entry.gtin},
                    "trigger": {"kind": "expiring", "within_hours": within_hours},
                },
            ).raise_for_status()
    return len(CATALOG)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, in KiB (Linux `/proc`; psutil elsewhere)."""
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        match = re.search(r"^VmRSS:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        if match:
            return int(match.group(1))
    import psutil

    return int(psutil.Process(pid).memory_info().rss // 1024)


def steady_rss_kib(pid: int, tolerance: float = 0.005, timeout: float = 10.0) -> int:
    """RSS once two readings half a second apart differ by less than `tolerance` (or at `timeout`)."""
    deadline = time.monotonic() + timeout
    last = rss_kib(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rss_kib(pid)
        if abs(now - last) <= tolerance * last:
            return now
        last = now
    return last


class ChildProcess:
    """A child process whose stdout/stderr lines are kept (the last few) and can be waited for."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.argv = argv
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.log: deque[str] = deque(maxlen=200)
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE,
            text=True,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line.rstrip())
            self._lines.put(line.rstrip())
        self._lines.put(None)

    def wait_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first line (from now on) matching `pattern`; raises if the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.argv[0]}: no line matching {pattern!r}:\n" + self.tail())
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"{' '.join(self.argv[:3])} ended:\n" + self.tail())
            found = regex.search(line)
            if found:
                return found

    def tail(self, lines: int = 30) -> str:
        return "\n".join(list(self.log)[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()


def helper_command(module: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment to run `bench/harness/<module>.py` as a child process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    return [sys.executable, "-m", f"harness.{module}", *args], env


class ServerProcess:
    """`freshtap server` in a process of its own; the embedded broker unless `mqtt_url` is given."""

    def __init__(self, database_url: str, directory: Path, mqtt_url: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHTAP_")}
        env.update(
            FRESHTAP_DATABASE_URL=database_url,
            FRESHTAP_SERVER_MQTT_USERNAME=SERVER_USERNAME,
            FRESHTAP_SERVER_MQTT_PASSWORD=SERVER_PASSWORD,
            FRESHTAP_HTTP_PORT="0",
            FRESHTAP_EMBEDDED_MQTT_PORT="0",
            FRESHTAP_DATA_DIR=str(directory / "server-data"),
        )
        if mqtt_url is not None:
            env["FRESHTAP_MQTT_URL"] = mqtt_url
        self._proc = ChildProcess([FRESHTAP, "server"], env=env, cwd=directory)
        found = self._proc.wait_line(r"HTTP (http://\S+)\s+\((?:embedded )?broker (mqtt://\S+)\)", 60)
        self.http_url: str = found.group(1)
        self.mqtt_url: str = found.group(2)
        host_port = self.mqtt_url.removeprefix("mqtt://")
        host, _, port = host_port.rpartition(":")
        self.mqtt_host: str = host
        self.mqtt_port = int(port)
        self._http = httpx.Client(base_url=self.http_url, timeout=10)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def metrics(self) -> dict[str, float]:
        """Every sample of `/metrics` by `name{labels}` (labels sorted), e.g. `freshtap_orders_total{status=paid}`."""
        from prometheus_client.parser import text_string_to_metric_families

        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(self._http.get("/metrics").text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
        return samples

    def ingested(self) -> int:
        """Fridge messages handled so far (applied, duplicate, stale) plus rejected ones."""
        total = 0.0
        for key, value in self.metrics().items():
            if key.startswith(("freshtap_ingest_messages_total{", "freshtap_ingest_rejected_total{")):
                total += value
        return int(total)

    def outcomes(self) -> dict[str, int]:
        """Handled messages by outcome, and rejections as `rejected:<reason>`."""
        out: dict[str, int] = {}
        for key, value in self.metrics().items():
            if key.startswith("freshtap_ingest_messages_total{"):
                outcome = re.search(r"outcome=(\w+)", key)
                name = outcome.group(1) if outcome else "?"
                out[name] = out.get(name, 0) + int(value)
            elif key.startswith("freshtap_ingest_rejected_total{"):
                reason = re.search(r"reason=(\w+)", key)
                name = "rejected:" + (reason.group(1) if reason else "?")
                out[name] = out.get(name, 0) + int(value)
        return out

    def tail(self) -> str:
        return self._proc.tail()

    def stop(self) -> None:
        self._http.close()
        self._proc.stop()


class StandaloneBroker:
    """The server's own embedded broker (same class, auth and ACL) alone in a process: the amqtt baseline."""

    def __init__(self, database_url: str) -> None:
        argv, env = helper_command("standalone_broker", database_url, SERVER_USERNAME, SERVER_PASSWORD)
        self._proc = ChildProcess(argv, env=env)
        self.port = int(self._proc.wait_line(r"^PORT (\d+)$", 60).group(1))
        self.host = "127.0.0.1"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        self._proc.stop()


class Mosquitto:
    """Mosquitto with freshtap's files for every fridge in the database, the server and the validator.

    `max_queued_messages` is raised so a consumer slower than the publishers is measured rather
    than dropped at the broker (the files' default, 1000 per client, drops the excess).
    Raises `ServiceMissing` when the binary is not installed.
    """

    def __init__(self, database_url: str, directory: Path, max_queued: int = 1_000_000) -> None:
        from sqlmodel import Session, col, select

        from freshtap.server.broker.mosquitto import MosquittoAccount, mosquitto_password_hash, write_mosquitto_files
        from freshtap.server.store.db import create_db_engine
        from freshtap.server.store.models import Credential
        from freshtap.simulator.mosquitto import find_mosquitto

        from .report import ServiceMissing

        binary = find_mosquitto()
        if binary is None:
            raise ServiceMissing("mosquitto is not installed (apt-get install mosquitto)")
        engine = create_db_engine(database_url)
        with Session(engine) as session:
            rows = session.exec(
                select(Credential).where(Credential.kind == "fridge", col(Credential.revoked_at).is_(None))
            ).all()
        engine.dispose()
        accounts = [
            MosquittoAccount(c.subject_id, c.mosquitto_hash, "fridge", c.subject_id) for c in rows if c.mosquitto_hash
        ]
        for username in (SERVER_USERNAME, VALIDATOR_USERNAME):
            accounts.append(MosquittoAccount(username, mosquitto_password_hash(SERVER_PASSWORD), "server", None))
        self.host = "127.0.0.1"
        self.port = _free_port()
        files = write_mosquitto_files(
            directory / "mosquitto",
            accounts,
            self.host,
            self.port,
            max_queued_messages=max_queued,
            run_as_user=pwd.getpwuid(os.getuid()).pw_name,
        )
        self._proc = ChildProcess([binary, "-c", str(files.config)])
        # The generated config logs notices only, not Mosquitto's "running" line: wait for the port.
        wait_for(lambda: _port_open(self.port) or self._proc.process.poll() is not None, 20, "mosquitto listening")
        if self._proc.process.poll() is not None:
            raise RuntimeError("mosquitto ended:\n" + self._proc.tail())

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        self._proc.stop()


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
