"""One flooding fridge against a fleet of well-behaved ones, measured with and without the flood.

`measure_flood(...)` provisions `fleet + 1` fridges, starts a real server (embedded broker and
SQLite, or Mosquitto and the given database), and runs two phases of `duration` seconds each:
the fleet alone at `rate` messages/s per fridge, then the fleet again with one fridge publishing
`flood_rate` messages/s. Publishers run in processes of their own (`fleet_driver.py`). What
arrived is read back from the database: every `(fridge_id, seq)` applied and its latency
(`received_at - at`: stamped at publishing, stored by the server). Shared by tests/abuse and
bench/bench_flood.py.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import col, select

from freshtap.clock import SystemClock
from freshtap.server.broker.mosquitto import (
    MosquittoAccount,
    find_dynsec_plugin,
    mosquitto_password_hash,
    write_mosquitto_files,
)
from freshtap.server.runtime import ServerRuntime
from freshtap.server.services import accounts
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from freshtap.server.store.models import AppliedMessage, Credential
from freshtap.settings import BrokerLimitSettings, Settings
from tests.conftest import free_port
from tests.stack import wait_until

SERVER_PASSWORD = "flood-test-server-password"
FLOOD_SEQ0 = 10_000_000


@dataclass(frozen=True)
class Phase:
    """What one phase stored for the fleet: latencies (seconds) and the seqs that never arrived."""

    latencies: list[float]
    missing: dict[str, list[int]]
    acked: int

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class FloodReport:
    baseline: Phase
    flooded: Phase
    flooder_sent: int
    flooder_stored: int
    flooder_refused_at_reconnect: bool
    duration: float

    @property
    def ratio(self) -> float:
        return self.flooded.p(0.99) / self.baseline.p(0.99)


def _driver(job: dict[str, Any]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.abuse.fleet_driver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(job) + "\n")
    process.stdin.flush()
    line = process.stdout.readline()
    assert line.strip() == "ready", f"the fleet driver did not connect: {line!r}"
    return process


def _go(process: subprocess.Popen[str], **phase: Any) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(phase) + "\n")
    process.stdin.flush()


def _result(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    stdout = process.stdout
    assert stdout is not None
    out: dict[str, Any] = {}
    reader = threading.Thread(target=lambda: out.update(json.loads(stdout.readline())), daemon=True)
    reader.start()
    reader.join(timeout)
    assert out, "the fleet driver gave no result"
    return out


def _end(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("\n")
    process.stdin.close()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def _server(
    backend: str, workdir: Path, database_url: str, limits: BrokerLimitSettings, mosquitto_binary: str | None
) -> Iterator[ServerRuntime]:
    env: dict[str, Any] = {"http_port": 0, "data_dir": workdir / "data"}
    mosquitto = None
    if backend == "mosquitto":
        assert mosquitto_binary is not None
        from tests.broker.conftest import MosquittoProcess

        engine = create_db_engine(database_url)
        with session_factory(engine)() as session:
            fridges = session.exec(select(Credential).where(Credential.kind == "fridge")).all()
        engine.dispose()
        accounts_ = [
            MosquittoAccount("freshtap-server", mosquitto_password_hash(SERVER_PASSWORD), "server", None),
            *(
                MosquittoAccount(c.subject_id, c.mosquitto_hash, "fridge", c.subject_id)
                for c in fridges
                if c.mosquitto_hash
            ),
        ]
        port = free_port()
        files = write_mosquitto_files(
            workdir / "mosquitto",
            accounts_,
            "127.0.0.1",
            port,
            run_as_user=pwd.getpwuid(os.getuid()).pw_name,
            limits=limits,
            dynsec_plugin=find_dynsec_plugin() if limits.mosquitto_dynsec else None,
        )
        mosquitto = MosquittoProcess(mosquitto_binary, files.config)
        mosquitto.wait_running()
        env["mqtt_url"] = f"mqtt://127.0.0.1:{port}"
    else:
        env["embedded_mqtt_port"] = 0
    settings = Settings(
        database_url=database_url,
        server_mqtt_password=SERVER_PASSWORD,
        broker_limits=limits,
        _env_file=None,  # type: ignore[call-arg]
        **env,
    )
    runtime = ServerRuntime(settings, SystemClock())
    try:
        runtime.start()
        yield runtime
    finally:
        runtime.stop()
        if mosquitto is not None:
            mosquitto.stop()


def _stored(database_url: str, fridge_ids: list[str], lo: int, hi: int) -> dict[str, dict[int, float]]:
    engine = create_db_engine(database_url)
    try:
        with session_factory(engine)() as session:
            rows = session.exec(
                select(AppliedMessage).where(
                    col(AppliedMessage.fridge_id).in_(fridge_ids),
                    col(AppliedMessage.seq) >= lo,
                    col(AppliedMessage.seq) < hi,
                )
            ).all()
    finally:
        engine.dispose()
    out: dict[str, dict[int, float]] = {f: {} for f in fridge_ids}
    for row in rows:
        out[row.fridge_id][row.seq] = (row.received_at - row.at).total_seconds()
    return out


def _phase(database_url: str, result: dict[str, Any], seq0: int) -> Phase:
    fridge_ids = list(result["sent"])
    expected = {f: range(seq0, seq0 + n) for f, n in result["sent"].items()}
    total = sum(result["acked"].values())

    def complete() -> dict[str, dict[int, float]] | None:
        stored = _stored(database_url, fridge_ids, seq0, seq0 + 1_000_000)
        return stored if sum(len(v) for v in stored.values()) >= total else None

    try:
        stored = wait_until(complete, timeout=60, interval=0.2)
    except AssertionError:
        stored = _stored(database_url, fridge_ids, seq0, seq0 + 1_000_000)
    missing = {f: [s for s in expected[f] if s not in stored[f]] for f in fridge_ids}
    latencies = [lat for per in stored.values() for lat in per.values()]
    return Phase(latencies, {f: m for f, m in missing.items() if m}, total)


def _login_refused(host: str, port: int, fridge: dict[str, str]) -> bool:
    """Whether the broker refuses this fridge's login now (CONNACK refused or the socket closed)."""
    answered = threading.Event()
    outcome: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=fridge["id"], protocol=mqtt.MQTTv311)
    client.username_pw_set(fridge["id"], fridge["password"])
    client.on_connect = lambda _c, _u, _f, reason, _p: (outcome.append(bool(reason.is_failure)), answered.set())
    client.on_disconnect = lambda *_: (outcome.append(True), answered.set())
    try:
        client.connect(host, port, keepalive=30)
    except OSError:
        return True
    client.loop_start()
    try:
        answered.wait(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return bool(outcome) and outcome[0]


def measure_flood(
    backend: str,
    workdir: Path,
    database_url: str,
    *,
    duration: float,
    limits: BrokerLimitSettings,
    fleet: int = 99,
    rate: float = 1.0,
    flood_rate: float = 1000.0,
    mosquitto_binary: str | None = None,
) -> FloodReport:
    """Run both phases (see the module docstring) and report what was stored."""
    engine = create_db_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    made = [accounts.provision_fridge(sessions, SystemClock(), household_name=f"flood-{i}") for i in range(fleet + 1)]
    engine.dispose()
    fridges = [{"id": m.fridge_id, "password": m.password} for m in made]
    flooder, others = fridges[0], fridges[1:]
    with _server(backend, workdir, database_url, limits, mosquitto_binary) as runtime:
        assert runtime.mqtt_endpoint is not None
        where = {"host": runtime.mqtt_endpoint.host, "port": runtime.mqtt_endpoint.port}
        fleet_run = _driver({**where, "fridges": others})
        flood_run = _driver({**where, "fridges": [flooder]})
        try:
            # Warm-up: caches and the first rows of every fridge, not measured.
            _go(fleet_run, rate=rate, duration=0.5, first_seq=0, drain=10)
            _result(fleet_run, 30)
            _go(fleet_run, rate=rate, duration=duration, first_seq=1000, drain=10)
            baseline = _phase(database_url, _result(fleet_run, duration + 60), 1000)
            _go(flood_run, rate=flood_rate, duration=duration, first_seq=FLOOD_SEQ0, drain=0.5)
            _go(fleet_run, rate=rate, duration=duration, first_seq=FLOOD_SEQ0 // 10, drain=10)
            flooded = _phase(database_url, _result(fleet_run, duration + 60), FLOOD_SEQ0 // 10)
            flood_result = _result(flood_run, duration + 30)
        finally:
            _end(fleet_run)
            _end(flood_run)
        flooder_stored = _stored(database_url, [flooder["id"]], FLOOD_SEQ0, FLOOD_SEQ0 + 10_000_000)[flooder["id"]]
        refused = _login_refused(runtime.mqtt_endpoint.host, runtime.mqtt_endpoint.port, flooder)
    return FloodReport(
        baseline=baseline,
        flooded=flooded,
        flooder_sent=int(flood_result["sent"][flooder["id"]]),
        flooder_stored=len(flooder_stored),
        flooder_refused_at_reconnect=refused,
        duration=duration,
    )
