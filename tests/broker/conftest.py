"""Fixtures for tests against real MQTT brokers: accounts, the embedded broker, a Mosquitto of our
own, and a small blocking paho client that waits on events (never on bare sleeps).

Nothing here is specific to the broker lane; the fixtures can move up to tests/conftest.py.
"""

from __future__ import annotations

import os
import pwd
import queue
import secrets
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from freshtap.server.broker import EmbeddedBroker, MosquittoAccount, Principal, mosquitto_password_hash
from freshtap.server.broker.mosquitto import write_mosquitto_files
from tests.conftest import free_port

WAIT = 5.0  # seconds to wait for anything a broker should do promptly
SERVER_USERNAME = "freshtap-server"  # the settings' default; note it is also a valid fridge id


@dataclass(frozen=True)
class Account:
    """A login for the test brokers, with its clear-text password."""

    username: str
    password: str
    role: str
    fridge_id: str | None

    @property
    def principal(self) -> Principal:
        return Principal(self.username, "fridge" if self.role == "fridge" else "server", self.fridge_id)

    def mosquitto(self) -> MosquittoAccount:
        return MosquittoAccount(
            self.username, mosquitto_password_hash(self.password), self.principal.role, self.fridge_id
        )


def fridge_account(fridge_id: str) -> Account:
    return Account(fridge_id, secrets.token_urlsafe(16), "fridge", fridge_id)


@pytest.fixture
def accounts() -> dict[str, Account]:
    """Two fridges and the server, keyed `a`, `b` and `server`."""
    return {
        "a": fridge_account("fridge-a"),
        "b": fridge_account("fridge-b"),
        "server": Account(SERVER_USERNAME, secrets.token_urlsafe(16), "server", None),
    }


class StaticAuthenticator:
    """An `Authenticator` over a fixed set of accounts (the real one reads the database)."""

    def __init__(self, accounts: dict[str, Account]) -> None:
        self._by_username = {account.username: account for account in accounts.values()}
        self.calls = 0

    def authenticate(self, username: str | None, password: str | None, client_id: str) -> Principal | None:
        self.calls += 1
        account = self._by_username.get(username or "")
        if account is None or not password or not secrets.compare_digest(account.password, password):
            return None
        return account.principal


@dataclass
class Endpoint:
    """A running broker for clients: where it is and who may log in."""

    kind: str
    host: str
    port: int
    accounts: dict[str, Account]
    embedded: EmbeddedBroker | None = None
    log: list[str] = field(default_factory=list)

    def client(self, key: str, *, client_id: str | None = None, clean_session: bool = True) -> MqttClient:
        """A client logging in as `accounts[key]` (client id: its username unless given)."""
        account = self.accounts[key]
        return MqttClient(
            self.host,
            self.port,
            client_id=account.username if client_id is None else client_id,
            username=account.username,
            password=account.password,
            clean_session=clean_session,
        )


@pytest.fixture
def embedded(accounts: dict[str, Account]) -> Iterator[Endpoint]:
    """The embedded broker on a free loopback port, with `accounts`."""
    broker = EmbeddedBroker("127.0.0.1", 0, StaticAuthenticator(accounts))
    broker.start()
    try:
        yield Endpoint("embedded", "127.0.0.1", broker.port, accounts, embedded=broker)
    finally:
        broker.stop()


class MosquittoProcess:
    """`mosquitto -v -c CONF` as a child process; `ready` once it says it is running."""

    def __init__(self, binary: str, config: Path) -> None:
        self.log: list[str] = []
        self.ready = threading.Event()
        self._process = subprocess.Popen(
            [binary, "-v", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self._reader = threading.Thread(target=self._read, name="mosquitto-log", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self.log.append(line.rstrip())
            if " running" in line:
                self.ready.set()
        self.ready.set()  # it exited: let the waiter look at the log

    def wait_running(self, timeout: float = WAIT) -> None:
        if not self.ready.wait(timeout) or self._process.poll() is not None:
            self.stop()
            raise RuntimeError("mosquitto did not start:\n" + "\n".join(self.log))

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._reader.join(WAIT)


def start_mosquitto(
    binary: str, directory: Path, accounts: list[MosquittoAccount], **options: Any
) -> tuple[MosquittoProcess, int]:
    """Mosquitto with freshtap's files for `accounts`, on a free loopback port; returns it and the port."""
    port = free_port()
    files = write_mosquitto_files(
        directory, accounts, "127.0.0.1", port, run_as_user=pwd.getpwuid(os.getuid()).pw_name, **options
    )
    process = MosquittoProcess(binary, files.config)
    process.wait_running()
    return process, port


@pytest.fixture
def mosquitto(mosquitto_binary: str, accounts: dict[str, Account], tmp_path: Path) -> Iterator[Endpoint]:
    """A Mosquitto of this test's own, configured by `write_mosquitto_files` for `accounts`."""
    process, port = start_mosquitto(
        mosquitto_binary, tmp_path / "mosquitto", [account.mosquitto() for account in accounts.values()]
    )
    try:
        yield Endpoint("mosquitto", "127.0.0.1", port, accounts, log=process.log)
    finally:
        process.stop()


@pytest.fixture(params=["embedded", pytest.param("mosquitto", marks=pytest.mark.services)])
def broker(request: pytest.FixtureRequest) -> Endpoint:
    """Each broker freshtap supports, in turn."""
    endpoint: Endpoint = request.getfixturevalue(request.param)
    return endpoint


class MqttClient:
    """A paho 2.x client (MQTT 3.1.1) whose calls block until the broker answers.

    Messages land in `messages`; `disconnected` is set when the broker drops the connection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        clean_session: bool = True,
    ) -> None:
        self.host, self.port = host, port
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connack: ReasonCode | None = None
        self.session_present = False
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self._subacks: dict[int, list[int]] = {}
        self._acked = threading.Condition()
        self._paho = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            protocol=mqtt.MQTTv311,
            reconnect_on_failure=False,
        )
        if username is not None:
            self._paho.username_pw_set(username, password)
        self._paho.on_connect = self._on_connect
        self._paho.on_disconnect = self._on_disconnect
        self._paho.on_subscribe = self._on_subscribe
        self._paho.on_message = self._on_message

    # paho callbacks, on its network thread

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, _p: Any) -> None:
        self.connack = reason
        self.session_present = bool(flags.session_present)
        self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _reason: ReasonCode, _p: Any) -> None:
        self.disconnected.set()
        self.connected.set()  # a refused or dropped connect ends the wait too

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, codes: list[ReasonCode], _p: Any) -> None:
        with self._acked:
            self._subacks[mid] = [code.value for code in codes]
            self._acked.notify_all()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(message)

    # blocking calls

    def will(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> MqttClient:
        self._paho.will_set(topic, payload, qos=qos, retain=retain)
        return self

    def begin_connect(self) -> MqttClient:
        """Send the CONNECT and return at once; `connected` is set when the broker answers."""
        self._paho.connect(self.host, self.port, keepalive=30)
        self._paho.loop_start()
        return self

    def connect(self, timeout: float = WAIT) -> ReasonCode:
        """Connect and return the CONNACK's reason (check `.is_failure`)."""
        self.begin_connect()
        if not self.connected.wait(timeout):
            raise TimeoutError("no CONNACK")
        if self.connack is None:
            raise ConnectionError("the broker closed the connection without a CONNACK")
        return self.connack

    def connect_ok(self) -> MqttClient:
        reason = self.connect()
        assert not reason.is_failure, f"connect refused: {reason}"
        return self

    def subscribe(self, topic_filter: str, qos: int = 1, timeout: float = WAIT) -> int:
        """Subscribe and return the SUBACK code: the granted QoS, or 0x80 for a refusal."""
        result, mid = self._paho.subscribe(topic_filter, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS and mid is not None, result
        with self._acked:
            if not self._acked.wait_for(lambda: mid in self._subacks, timeout):
                raise TimeoutError(f"no SUBACK for {topic_filter}")
            return self._subacks.pop(mid)[0]

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and, for QoS 1, wait for the PUBACK."""
        info = self._paho.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            info.wait_for_publish(WAIT)
            assert info.is_published(), f"no PUBACK for {topic}"

    def send(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        """Publish without waiting for anything."""
        self._paho.publish(topic, payload, qos=qos)

    def socket(self) -> socket.socket:
        """The connection's socket, to write raw bytes the broker should refuse."""
        sock = self._paho.socket()
        assert isinstance(sock, socket.socket)
        return sock

    def next_message(self, timeout: float = WAIT) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=timeout)

    def drain(self) -> list[mqtt.MQTTMessage]:
        """The messages received so far, without waiting."""
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def drop(self) -> None:
        """Cut the connection without a DISCONNECT, as a fridge losing power would (the will fires)."""
        sock = self._paho.socket()
        self._paho.loop_stop()
        self.disconnected.set()
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        if self.connected.is_set() and not self.disconnected.is_set():
            self._paho.disconnect()
        self._paho.loop_stop()

    def __enter__(self) -> MqttClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
