"""`freshtap server`: HTTP API, MQTT ingest and, without FRESHTAP_MQTT_URL, the embedded broker."""

from __future__ import annotations

import signal
import socket
import threading

import typer

from freshtap.clock import AcceleratedClock, SystemClock
from freshtap.server.runtime import ServerRuntime
from freshtap.settings import Settings

__all__ = ["port_or_free", "server"]


def port_or_free(host: str, port: int) -> int:
    """`port` if it can be bound on `host` now, else 0 (let the OS choose a free one)."""
    if port == 0:
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return 0
    return port


def server() -> None:
    """Run the server until Ctrl-C."""
    settings = Settings()
    if settings.mqtt_url is None:
        wanted = settings.embedded_mqtt_port
        settings = settings.model_copy(update={"embedded_mqtt_port": port_or_free(settings.embedded_mqtt_host, wanted)})
    clock = SystemClock() if settings.clock_speed == 1 else AcceleratedClock(settings.clock_speed)
    runtime = ServerRuntime(settings, clock)
    runtime.start()
    where = "embedded broker" if runtime.broker else "broker"
    typer.echo(f"freshtap server: HTTP {runtime.http_url}  ({where} {runtime.mqtt_url})")
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    typer.echo("stopping...")
    runtime.stop()
