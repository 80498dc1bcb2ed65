"""Serving the emulated fridge over a byte stream: a TCP socket, or a pseudo-terminal like a serial port.

`FirmwareServer(hardware)` listens on `tcp://127.0.0.1:<port>` (`url`), and with `pty=True` also
opens a pseudo-terminal in raw mode whose other end (`pty_path`, e.g. `/dev/pts/5`) an agent opens
as it would a serial port (`serial:///dev/pts/5`). Every connected agent gets the HELLO
description, then every report the fridge makes, and answers to its own commands (`SCAN`,
`CAPTURE`, `PING`). A ticker thread calls `hardware.tick()` every `tick_seconds`, so samples flow
with a running clock; with a `ManualClock` nothing happens until a test moves it.

Each connection has a reader thread (commands) and a writer thread (a queue of lines), so a slow
agent never blocks the fridge; a connection whose queue overflows is dropped, as a UART would drop
bytes. `stop()` closes everything.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import socket
import termios
import threading
import tty
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from .hardware import CameraFault, FridgeHardware, HardwareError
from .protocol import (
    MAX_LINE_BYTES,
    ProtocolError,
    encode_line,
    format_time,
    frame_line,
    hello_lines,
    parse_command,
    report_line,
)
from .reports import Report

__all__ = ["FirmwareServer", "ServerStats"]

log = logging.getLogger(__name__)

_QUEUE_LINES = 10_000
_PTY_QUEUE_LINES = 256


@dataclass(frozen=True)
class ServerStats:
    connections: int
    """Agents connected over the server's life."""
    connected: int
    """Agents connected now."""
    commands: dict[str, int]
    """Commands answered, by verb."""
    bad_lines: int


class _Stream:
    """A byte stream to one agent: `read()` some bytes (b"" at the end), `write()` all, `close()`."""

    def __init__(self, read: Callable[[], bytes], write: Callable[[bytes], None], close: Callable[[], None]) -> None:
        self.read = read
        self.write = write
        self.close = close


class _Connection:
    def __init__(self, server: FirmwareServer, stream: _Stream, name: str, lossy: bool) -> None:
        self._server = server
        self._stream = stream
        self.name = name
        self._lossy = lossy
        # A serial line holds little: what nobody reads is lost, not kept for later.
        self._out: queue.Queue[bytes | None] = queue.Queue(maxsize=_PTY_QUEUE_LINES if lossy else _QUEUE_LINES)
        self._closed = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._write_loop, name=f"fw-write-{self.name}", daemon=True).start()
        threading.Thread(target=self._read_loop, name=f"fw-read-{self.name}", daemon=True).start()

    def send(self, line: bytes) -> None:
        if self._closed.is_set():
            return
        if self._server.hardware.faults.take_garble():
            line = _garbled(line)
        try:
            self._out.put_nowait(line)
        except queue.Full:
            if self._lossy:
                return  # a serial line nobody reads just loses bytes
            log.warning("firmware: %s is not reading; dropping it", self.name)
            self.close()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with contextlib.suppress(queue.Full):
            self._out.put_nowait(None)
        with contextlib.suppress(OSError):
            self._stream.close()
        self._server._forget(self)

    def _write_loop(self) -> None:
        while True:
            line = self._out.get()
            if line is None or self._closed.is_set():
                return
            try:
                self._stream.write(line)
            except OSError:
                self.close()
                return

    def _read_loop(self) -> None:
        buffer = b""
        while not self._closed.is_set():
            try:
                chunk = self._stream.read()
            except OSError:
                chunk = b""
            if not chunk:
                self.close()
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    self._server._handle(self, line)
            if len(buffer) > MAX_LINE_BYTES:
                buffer = b""


def _garbled(line: bytes) -> bytes:
    # Flip a bit in the middle of the body; the newline stays, so framing survives and the CRC fails.
    middle = max(0, min(len(line) - 3, len(line) // 2))
    return line[:middle] + bytes([line[middle] ^ 0x20]) + line[middle + 1 :]


class FirmwareServer:
    """Serves one `FridgeHardware` to agents; see the module docstring."""

    def __init__(
        self,
        hardware: FridgeHardware,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        pty: bool = False,
        tick_seconds: float = 0.05,
    ) -> None:
        self.hardware = hardware
        self._host = host
        self._port = port
        self._want_pty = pty
        self._tick_seconds = tick_seconds
        self._lock = threading.Lock()
        self._connections: list[_Connection] = []
        self._listener: socket.socket | None = None
        self._pty_master: int | None = None
        self._pty_slave: int | None = None
        self._pty_path: str | None = None
        self._stopping = threading.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._counts: Counter[str] = Counter()
        self._total = 0
        self._changed = threading.Condition(self._lock)

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._unsubscribe = self.hardware.subscribe(self._broadcast)
        listener = socket.create_server((self._host, self._port))
        self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), name="fw-accept", daemon=True).start()
        if self._want_pty:
            self._open_pty()
        threading.Thread(target=self._tick_loop, name="fw-tick", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()
        for fd in (self._pty_master, self._pty_slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._pty_master = self._pty_slave = None

    def __enter__(self) -> FirmwareServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._listener is None:
            raise RuntimeError("the firmware server is not started")
        host, port = self._listener.getsockname()[:2]
        return f"tcp://{host}:{port}"

    @property
    def pty_url(self) -> str:
        if self._pty_path is None:
            raise RuntimeError("the firmware server has no pseudo-terminal (start it with pty=True)")
        return f"serial://{self._pty_path}"

    def stats(self) -> ServerStats:
        with self._lock:
            return ServerStats(self._total, len(self._connections), dict(self._counts), self._counts["bad_line"])

    def wait_for_command(self, verb: str, count: int, timeout: float) -> bool:
        """Block until `count` commands of `verb` were answered in all (over the server's life)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._counts[verb] >= count, timeout)

    def drop_connections(self) -> None:
        """Cut every agent off (a loose connector); they may connect again."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()

    # ---- transports ----------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                sock, peer = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def close(s: socket.socket = sock) -> None:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

            stream = _Stream(functools.partial(sock.recv, 65536), sock.sendall, close)
            self._attach(stream, f"tcp-{peer[1]}")

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave, termios.TCSANOW)
        self._pty_path = os.ttyname(slave)
        # Keep the slave open ourselves too, so the master never reads EOF (EIO) between agents.
        self._pty_master, self._pty_slave = master, slave

        def write(data: bytes, fd: int = master) -> None:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]

        def close() -> None:  # a serial line is never "closed" by the device side
            pass

        stream = _Stream(functools.partial(os.read, master, 65536), write, close)
        # Nobody may be listening yet: the agent asks with `HELLO` when it opens the port.
        self._attach(stream, "pty", greet=False, lossy=True)

    def _attach(self, stream: _Stream, name: str, greet: bool = True, lossy: bool = False) -> None:
        connection = _Connection(self, stream, name, lossy)
        with self._changed:
            self._connections.append(connection)
            self._total += 1
            self._changed.notify_all()
        connection.start()
        if greet:
            for line in hello_lines(self.hardware.info, self.hardware.rtc_now()):
                connection.send(line)

    def _forget(self, connection: _Connection) -> None:
        with self._changed:
            if connection in self._connections:
                self._connections.remove(connection)
            self._changed.notify_all()

    # ---- traffic -------------------------------------------------------------------------

    def _broadcast(self, report: Report) -> None:
        line = report_line(report)
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.send(line)

    def _tick_loop(self) -> None:
        while not self._stopping.wait(self._tick_seconds):
            try:
                self.hardware.tick()
            except Exception:
                log.exception("firmware: tick failed")

    def _handle(self, connection: _Connection, line: bytes) -> None:
        try:
            command = parse_command(line)
        except ProtocolError as exc:
            self._count("bad_line")
            log.info("firmware: ignoring a bad line from %s: %s", connection.name, exc)
            return
        ref = command.ref or "0"
        hardware = self.hardware
        try:
            if command.verb == "PING":
                connection.send(encode_line("PONG", {"ref": ref, "t": format_time(hardware.rtc_now())}))
            elif command.verb == "HELLO":
                for hello in hello_lines(hardware.info, hardware.rtc_now()):
                    connection.send(hello)
            elif command.verb == "SCAN":
                for report in hardware.scan():
                    connection.send(report_line(report, ref=ref))
                connection.send(encode_line("OK", {"ref": ref}))
            elif command.verb == "CAPTURE":
                compartment = command.fields.get("id", "")
                at = hardware.rtc_now()
                png = hardware.capture(compartment)
                connection.send(frame_line(ref, compartment, at, png))
            else:
                connection.send(encode_line("ERR", {"ref": ref, "code": "unknown_command", "detail": command.verb}))
        except CameraFault as exc:
            connection.send(encode_line("ERR", {"ref": ref, "code": "camera_fault", "detail": str(exc)}))
        except HardwareError as exc:
            connection.send(encode_line("ERR", {"ref": ref, "code": "bad_request", "detail": str(exc)}))
        self._count(command.verb)

    def _count(self, name: str) -> None:
        with self._changed:
            self._counts[name] += 1
            self._changed.notify_all()
