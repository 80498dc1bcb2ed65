"""A whole freshtap stack for end-to-end tests: the CLI, a broker, a database and the server.

Two backends: the embedded defaults (amqtt + SQLite) and the deployed pair (Mosquitto +
PostgreSQL), where Mosquitto runs on a free port with the password file and ACL that
`freshtap admin mosquitto-config` writes.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from freshtap.clock import Clock, SystemClock
from freshtap.server.runtime import ServerRuntime
from freshtap.settings import Settings

FRESHTAP = str(Path(sys.executable).with_name("freshtap"))


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; fail with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@dataclass
class Stack:
    backend: str
    env: dict[str, str]
    workdir: Path
    runtime: ServerRuntime | None = None
    mosquitto: subprocess.Popen[bytes] | None = None
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 0
    server_password: str = "s3rver-pass-for-tests"
    extra: dict[str, Any] = field(default_factory=dict)

    def cli(self, *args: str) -> dict[str, Any]:
        done = subprocess.run(
            [FRESHTAP, *args, "--json"], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    @property
    def http(self) -> str:
        assert self.runtime is not None
        return self.runtime.http_url

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.http, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def expiring_offer(
        self,
        api_key: str,
        gtin: str,
        *,
        name: str = "Whole milk 1 L",
        category: str = "dairy",
        price_minor: int = 1290,
        within_hours: float = 48,
    ) -> dict[str, Any]:
        """A merchant's product and an `expiring` offer on it, over HTTP; returns the offer."""
        with self.client(api_key) as api:
            product = api.post(
                "/api/v1/products",
                json={
                    "gtin": gtin,
                    "name": name,
                    "category": category,
                    "price": {"amount_minor": price_minor, "currency": "CNY"},
                },
            )
            assert product.status_code == 201, product.text
            offer = api.post(
                "/api/v1/offers",
                json={
                    "product_id": product.json()["id"],
                    "match": {"gtin": gtin},
                    "trigger": {"kind": "expiring", "within_hours": within_hours},
                },
            )
            assert offer.status_code == 201, offer.text
            result: dict[str, Any] = offer.json()
            return result

    def start(self, clock: Clock | None = None, mosquitto_binary: str | None = None) -> None:
        """Start the broker (for Mosquitto: with files for every fridge provisioned so far) and the server."""
        from tests.conftest import free_port

        settings_env: dict[str, Any] = {"http_port": 0, "data_dir": self.workdir / "data"}
        if self.backend == "mosquitto+postgres":
            assert mosquitto_binary is not None
            self.mqtt_port = free_port()
            conf_dir = self.workdir / "mosquitto"
            subprocess.run(
                [
                    FRESHTAP,
                    "admin",
                    "mosquitto-config",
                    str(conf_dir),
                    "--port",
                    str(self.mqtt_port),
                    "--user",
                    pwd.getpwuid(os.getuid()).pw_name,
                ],
                env=self.env,
                check=True,
                capture_output=True,
                timeout=60,
            )
            self.mosquitto = subprocess.Popen(
                [mosquitto_binary, "-c", str(conf_dir / "mosquitto.conf")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            wait_until(lambda: _port_open(self.mqtt_port), timeout=10)
            settings_env["mqtt_url"] = f"mqtt://127.0.0.1:{self.mqtt_port}"
        else:
            settings_env["embedded_mqtt_port"] = 0
        settings = Settings(
            database_url=self.env["FRESHTAP_DATABASE_URL"],
            server_mqtt_password=self.server_password,
            _env_file=None,  # type: ignore[call-arg]
            **settings_env,
        )
        self.runtime = ServerRuntime(settings, clock or SystemClock())
        self.runtime.start()
        assert self.runtime.mqtt_endpoint is not None
        self.mqtt_port = self.runtime.mqtt_endpoint.port

    def stop(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        if self.mosquitto is not None:
            self.mosquitto.terminate()
            self.mosquitto.wait(timeout=10)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def make_stack(backend: str, workdir: Path, database_url: str) -> Iterator[Stack]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHTAP_")}
    env["FRESHTAP_DATABASE_URL"] = database_url
    env["FRESHTAP_SERVER_MQTT_PASSWORD"] = Stack.server_password
    env["FRESHTAP_DATA_DIR"] = str(workdir / "data")
    stack = Stack(backend=backend, env=env, workdir=workdir)
    try:
        yield stack
    finally:
        stack.stop()
