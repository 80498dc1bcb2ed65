"""Device lane fixtures: a real Mosquitto on a free port, and a TCP proxy that can cut the line.

The broker is a plain anonymous `mosquitto` (the project's authenticated broker is tested in the
server lane). Without the binary these tests skip, unless FRESHTAP_REQUIRE_SERVICES=1 makes a
missing broker a failure.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from freshtap.simulator.mosquitto import MosquittoBroker


@pytest.fixture
def mosquitto(mosquitto_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A plain, anonymous Mosquitto on 127.0.0.1 at a free port, for one test."""
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"), binary=mosquitto_binary)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the broker; `cut()` kills live connections without a goodbye."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._refusing = False
        self._closed = False
        threading.Thread(target=self._accept_loop, name="test-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def retarget(self, host: str, port: int) -> None:
        """New connections go to another broker from now on (one that replaced the first)."""
        with self._lock:
            self._upstream = (host, port)

    def refuse(self, refusing: bool) -> None:
        """While refusing, new connections are closed at once (the broker looks unreachable)."""
        with self._lock:
            self._refusing = refusing

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _slam(sock)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        _slam(self._listener)
        self.cut()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed or self._refusing:
                    _slam(client)
                    continue
            with self._lock:
                target = self._upstream
            try:
                upstream = socket.create_connection(target, timeout=5)
            except OSError:
                _slam(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass  # the other side or cut() closed it
    finally:
        _slam(src)
        _slam(dst)


def _slam(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def proxy(mosquitto: MosquittoBroker) -> Iterator[TcpProxy]:
    p = TcpProxy(mosquitto.host, mosquitto.port)
    try:
        yield p
    finally:
        p.close()
