"""The MQTT link's batches (server/ingest/mqtt_link.py) against a real Mosquitto.

Messages queued while a batch is applied go to the handler together as the next batch, and no
message is acknowledged before the handler returned: a batch whose handler never succeeded is
redelivered to the next session under the same client id.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from freshtap.contract import Channel, topic
from freshtap.server.ingest.mqtt_link import MqttEndpoint, MqttLink
from tests.conftest import _FailOnLoggedError, free_port
from tests.stack import wait_until

WAIT = 20.0


@pytest.fixture(autouse=True)
def fail_on_logged_exception() -> Iterator[None]:
    """As tests/conftest.py's, except for the retries these tests cause on purpose."""
    handler = _FailOnLoggedError()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    unexpected = [r for r in handler.records if not r.getMessage().startswith("ingest failed for a batch")]
    if unexpected:
        pytest.fail(f"an exception was logged by {unexpected[0].name}: {unexpected[0].getMessage()}", pytrace=False)


@pytest.fixture
def broker(mosquitto_binary: str, tmp_path: Path) -> Iterator[MqttEndpoint]:
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    # A window wide enough for batches of 50 (freshtap's own config: `max_inflight_messages`).
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\n")
    process = subprocess.Popen([mosquitto_binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _listening(port), timeout=WAIT)
        yield MqttEndpoint("127.0.0.1", port)
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _publish(endpoint: MqttEndpoint, count: int, first: int = 0) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fridge-pub", protocol=mqtt.MQTTv311)
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    try:
        infos = [client.publish(topic("f-1", Channel.TELEMETRY), str(first + i).encode(), qos=1) for i in range(count)]
        for info in infos:
            info.wait_for_publish(WAIT)
    finally:
        client.disconnect()
        client.loop_stop()


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[bytes]] = []
        self.gate = threading.Event()
        self.failing = False
        self.lock = threading.Lock()
        self.tried: set[bytes] = set()
        self.arrived = 0

    def __call__(self, messages: Sequence[tuple[str, bytes | bytearray]]) -> None:
        with self.lock:
            self.arrived += len(messages)
        assert self.gate.wait(WAIT)
        with self.lock:
            self.tried.update(bytes(p) for _, p in messages)
        if self.failing:
            raise RuntimeError("the database is down")
        with self.lock:
            self.batches.append([bytes(p) for _, p in messages])

    def seen(self) -> list[bytes]:
        with self.lock:
            return [p for batch in self.batches for p in batch]


def _link(endpoint: MqttEndpoint, handler: Recorder) -> MqttLink:
    link = MqttLink(endpoint, "freshtap-server", "x", "freshtap-server", batch_size=50)
    link.set_batch_handler(handler)
    link.start()
    return link


def test_what_queues_during_a_batch_is_the_next_batch(broker: MqttEndpoint) -> None:
    recorder = Recorder()
    link = _link(broker, recorder)
    try:
        _publish(broker, 120)  # the first batch is held at the gate while the rest queues up
        wait_until(lambda: recorder.arrived + link._queue.qsize() == 120, timeout=WAIT)
        recorder.gate.set()
        wait_until(lambda: len(recorder.seen()) == 120, timeout=WAIT)
    finally:
        link.stop()
    assert recorder.seen() == [str(i).encode() for i in range(120)]
    assert max(len(b) for b in recorder.batches) == 50  # batch_size
    assert len(recorder.batches) <= 4  # the one held, then the 119 or fewer queued behind it in 50s


def test_a_batch_that_never_committed_is_redelivered(broker: MqttEndpoint) -> None:
    failing = Recorder()
    failing.failing = True
    failing.gate.set()
    link = _link(broker, failing)
    _publish(broker, 10)
    wait_until(lambda: len(failing.tried) + link._queue.qsize() == 10, timeout=WAIT)
    assert link.handled == 0
    link.stop()  # while the handler still fails: nothing may have been acknowledged

    recorder = Recorder()
    recorder.gate.set()
    link = _link(broker, recorder)
    try:
        wait_until(lambda: len(recorder.seen()) >= 10, timeout=WAIT)
    finally:
        link.stop()
    assert sorted(set(recorder.seen()), key=int) == [str(i).encode() for i in range(10)]
