"""`freshtap server` as an operator runs it: it says where it listens, serves, and stops on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import httpx

from tests.conftest import free_port
from tests.stack import FRESHTAP


def test_server_falls_back_to_a_free_broker_port_and_stops_cleanly(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy_port = taken.getsockname()[1]
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHTAP_")}
    env.update(FRESHTAP_DATA_DIR=str(tmp_path / "data"), FRESHTAP_HTTP_PORT=str(http_port),
               FRESHTAP_EMBEDDED_MQTT_PORT=str(busy_port))
    proc = subprocess.Popen([FRESHTAP, "server"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        match = re.search(r"HTTP (http://127\.0\.0\.1:\d+).*mqtt://127\.0\.0\.1:(\d+)", banner)
        assert match, banner
        assert match.group(1) == f"http://127.0.0.1:{http_port}"
        assert int(match.group(2)) != busy_port
        assert httpx.get(f"{match.group(1)}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{match.group(1)}/openapi.json").json()["info"]["title"] == "freshtap"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        taken.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
