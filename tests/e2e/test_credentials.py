"""Credentials on both brokers and over HTTP: anonymous, wrong-password, username-only and revoked
logins are refused; a rotated credential works at the next connect or request; no secret is logged."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.stack import FRESHTAP, Stack, make_stack


@pytest.fixture(params=["amqtt+sqlite", "mosquitto+postgres"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    if request.param == "mosquitto+postgres":
        database_url = request.getfixturevalue("postgres_url")
    else:
        database_url = f"sqlite:///{tmp_path / 'freshtap.db'}"
    with make_stack(request.param, tmp_path, database_url) as made:
        made.extra["binary"] = request.getfixturevalue("mosquitto_binary") if request.param.startswith("mosq") else None
        yield made


def connect_code(port: int, client_id: str, username: str | None, password: str | None) -> int:
    """The CONNACK return code a login gets (0 accepted), or -1 if the broker dropped it unanswered."""
    result: list[int] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    if username is not None:
        client.username_pw_set(username, password)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        result.append(int(getattr(reason, "value", 0)))
        done.set()

    def on_disconnect(*_args: object) -> None:
        done.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.connect("127.0.0.1", port)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()
    return result[0] if result else -1


def test_only_live_credentials_log_in_and_rotation_takes_effect(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fridge = stack.cli("admin", "provision-fridge", "--household", "Lin", "--payment-method", "pm_sandbox_ok")
    fid, old = fridge["fridge_id"], fridge["password"]
    stack.start(mosquitto_binary=stack.extra["binary"])
    port = stack.mqtt_port
    assert connect_code(port, fid, fid, old) == 0
    for username, password in ((None, None), (fid, "wrong." + old), (fid, None), (fid, "")):
        assert connect_code(port, fid, username, password) != 0, (username, password)
    with stack.client(old) as household:
        assert household.get(f"/api/v1/fridges/{fid}/inventory").status_code == 200

    rotated = stack.cli("admin", "rotate", "fridge", fid)
    new = rotated["secret"]
    if stack.mosquitto is not None:
        # Mosquitto learns of the rotation from regenerated files and a SIGHUP.
        subprocess.run([FRESHTAP, "admin", "mosquitto-config", str(stack.workdir / "mosquitto"),
                        "--port", str(port), "--user", os.environ.get("USER", "root")],
                       env=stack.env, check=True, capture_output=True, timeout=60)
        stack.mosquitto.send_signal(signal.SIGHUP)
        import time

        deadline = time.monotonic() + 10
        while connect_code(port, fid, fid, old) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert connect_code(port, fid, fid, old) != 0
    assert connect_code(port, fid, fid, new) == 0
    with stack.client(old) as household:
        assert household.get(f"/api/v1/fridges/{fid}/inventory").status_code == 401
    with stack.client(new) as household:
        assert household.get(f"/api/v1/fridges/{fid}/inventory").status_code == 200

    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (old, new, stack.server_password):
        assert secret not in logged
