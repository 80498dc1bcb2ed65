"""The agent's link to the fridge's controller: the line protocol over a byte stream.

`FirmwareLink(url, on_report=...)` opens `tcp://host:port` (the emulated fridge, or a serial
server) or `serial:///dev/ttyX` (a serial port or a pseudo-terminal, set to raw mode), reads
lines on its own thread, checks each line's CRC and hands every report to `on_report` (on the
reader thread: queue it, do not block). Bad lines are counted and skipped, never raised.

Commands (`scan`, `capture`, `ping`) are sent with a `ref` and wait for their answer with a
timeout; answers never reach `on_report`. When the stream ends or fails, pending commands fail
with `FirmwareError`, `on_state(False)` is called, and the link reopens the stream with capped
backoff; once the firmware has described itself again (HELLO, COMPARTMENT..., READY) it calls
`on_state(True)`. On a serial line the link asks for that description (`HELLO`); over TCP the
firmware sends it when the connection opens.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import select
import socket
import termios
import threading
import tty
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .firmware_protocol import (
    MAX_LINE_BYTES,
    SUPPORTED_PROTOCOL,
    Answer,
    CompartmentSpec,
    DoorReport,
    FirmwareReport,
    FrameReport,
    Hello,
    LineError,
    LoadReport,
    Ready,
    TempReport,
    Unknown,
    command,
    decode,
    parse_line,
)

__all__ = ["FirmwareDescription", "FirmwareError", "FirmwareLink", "LinkStats", "Scan", "check_url"]

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.2


class FirmwareError(RuntimeError):
    """A command failed: no link, no answer in time, or the firmware answered `ERR` (`code`)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class FirmwareDescription:
    hello: Hello
    compartments: tuple[CompartmentSpec, ...]

    def compartment(self, compartment_id: str) -> CompartmentSpec | None:
        return next((c for c in self.compartments if c.id == compartment_id), None)


@dataclass(frozen=True)
class Scan:
    """Every sensor at one moment, as `SCAN` answered."""

    door: DoorReport | None
    temps: tuple[TempReport, ...]
    loads: tuple[LoadReport, ...]


@dataclass(frozen=True)
class LinkStats:
    lines: int
    bad_lines: int
    opens: int
    failures: int
    commands: Mapping[str, int]


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    reports: list[FirmwareReport] = field(default_factory=list)
    answer: Answer | FrameReport | None = None
    error: str | None = None


class _Stream:
    """One open byte stream; `read()` returns b"" on a quiet poll, raises `EOFError` at the end."""

    def __init__(self, fd: int, sock: socket.socket | None) -> None:
        self._fd = fd
        self._sock = sock
        self._write_lock = threading.Lock()
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)

    def read(self) -> bytes:
        if not self._poll.poll(_POLL_SECONDS * 1000):
            return b""
        data = self._sock.recv(65536) if self._sock is not None else os.read(self._fd, 65536)
        if not data:
            raise EOFError("the firmware closed the line")
        return data

    def write(self, data: bytes) -> None:
        with self._write_lock:
            if self._sock is not None:
                self._sock.sendall(data)
                return
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self._sock is not None:
                self._sock.close()
            else:
                os.close(self._fd)


def _open(url: str, timeout: float) -> tuple[_Stream, bool]:
    """The stream for `url`, and whether the link must ask for the firmware's description."""
    parts = urlsplit(url)
    if parts.scheme == "tcp":
        if not parts.hostname or parts.port is None:
            raise ValueError(f"expected tcp://host:port, got {url!r}")
        sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Stream(sock.fileno(), sock), False
    if parts.scheme == "serial":
        fd = os.open(parts.path, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd, termios.TCSANOW)
            termios.tcflush(fd, termios.TCIFLUSH)  # whatever waited in the line is stale
        except BaseException:
            os.close(fd)
            raise
        return _Stream(fd, None), True
    raise ValueError(f"unsupported firmware URL {url!r} (tcp://host:port or serial:///dev/tty...)")


def check_url(url: str) -> str:
    """`url` if it is a firmware URL this link can open (`ValueError` otherwise)."""
    parts = urlsplit(url)
    if parts.scheme == "tcp" and parts.hostname and parts.port is not None:
        return url
    if parts.scheme == "serial" and parts.path:
        return url
    raise ValueError(f"unsupported firmware URL {url!r} (tcp://host:port or serial:///dev/tty...)")


class FirmwareLink:
    """See the module docstring; `start()` returns at once, `stop()` within its timeout."""

    def __init__(
        self,
        url: str,
        *,
        on_report: Callable[[FirmwareReport], None],
        on_state: Callable[[bool], None] | None = None,
        reconnect_min_delay: float = 0.2,
        reconnect_max_delay: float = 5.0,
        open_timeout: float = 5.0,
    ) -> None:
        self._url = check_url(url)
        self._on_report = on_report
        self._on_state = on_state
        self._min_delay = reconnect_min_delay
        self._max_delay = reconnect_max_delay
        self._open_timeout = open_timeout
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: _Stream | None = None
        self._pending: dict[str, _Pending] = {}
        self._refs = itertools.count(1)
        self._description: FirmwareDescription | None = None
        self._hello: Hello | None = None
        self._compartments: list[CompartmentSpec] = []
        self._counts: Counter[str] = Counter()

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="firmware-link", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        with self._lock:
            thread, stream = self._thread, self._stream
            self._thread = None
        if stream is not None:
            stream.close()
        if thread is not None:
            thread.join(timeout)
        self._fail_pending("the link is stopping")

    def wait_ready(self, timeout: float) -> bool:
        """Block until the firmware has described itself on the current connection."""
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def description(self) -> FirmwareDescription | None:
        with self._lock:
            return self._description

    def stats(self) -> LinkStats:
        with self._lock:
            c = self._counts
            commands = {k[4:]: v for k, v in c.items() if k.startswith("cmd:")}
            return LinkStats(c["lines"], c["bad_lines"], c["opens"], c["failures"], commands)

    # ---- commands ------------------------------------------------------------------------

    def ping(self, timeout: float = 5.0) -> None:
        self._request("PING", {}, timeout)

    def scan(self, timeout: float = 10.0) -> Scan:
        pending = self._request("SCAN", {}, timeout)
        door = next((r for r in pending.reports if isinstance(r, DoorReport)), None)
        temps = tuple(r for r in pending.reports if isinstance(r, TempReport))
        loads = tuple(r for r in pending.reports if isinstance(r, LoadReport))
        return Scan(door, temps, loads)

    def capture(self, compartment: str, timeout: float = 15.0) -> FrameReport:
        """A frame from one compartment's camera; `FirmwareError` (code `camera_fault`) if it failed."""
        pending = self._request("CAPTURE", {"id": compartment}, timeout)
        if not isinstance(pending.answer, FrameReport):
            raise FirmwareError(f"CAPTURE {compartment} got no frame")
        return pending.answer

    def _request(self, verb: str, fields: Mapping[str, str | int], timeout: float) -> _Pending:
        ref = str(next(self._refs))
        pending = _Pending()
        with self._lock:
            stream = self._stream
            if stream is None or not self._ready.is_set():
                raise FirmwareError(f"{verb}: the firmware link is down")
            self._pending[ref] = pending
            self._counts[f"cmd:{verb}"] += 1
        try:
            stream.write(command(verb, {"ref": ref, **fields}))
        except OSError as exc:
            with self._lock:
                self._pending.pop(ref, None)
            raise FirmwareError(f"{verb}: {exc}") from exc
        finished = pending.done.wait(timeout)
        with self._lock:
            self._pending.pop(ref, None)
        if not finished:
            raise FirmwareError(f"{verb}: no answer within {timeout}s", code="timeout")
        if pending.error is not None:
            raise FirmwareError(f"{verb}: {pending.error}")
        if isinstance(pending.answer, Answer) and pending.answer.verb == "ERR":
            code = pending.answer.code or "error"
            raise FirmwareError(f"{verb}: {code} {pending.answer.detail or ''}".strip(), code=code)
        return pending

    # ---- the reader thread ---------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            if failures:
                delay = min(self._min_delay * 2 ** min(failures - 1, 20), self._max_delay)
                if self._stopping.wait(delay):
                    return
            try:
                stream, ask = _open(self._url, self._open_timeout)
            except (OSError, ValueError) as exc:
                failures += 1
                self._count("failures")
                if failures == 1 or failures % 20 == 0:
                    log.warning("firmware link: cannot open %s: %s", self._url, exc)
                continue
            with self._lock:
                if self._stopping.is_set():
                    stream.close()
                    return
                self._stream = stream
                self._hello, self._compartments = None, []
            self._count("opens")
            try:
                if ask:
                    stream.write(command("HELLO", {}))
                self._read(stream)
                failures = 0
            except (OSError, EOFError) as exc:
                if not self._stopping.is_set():
                    log.warning("firmware link: %s", exc)
                failures += 1
            finally:
                with self._lock:
                    self._stream = None
                stream.close()
                was_ready = self._ready.is_set()
                self._ready.clear()
                self._fail_pending("the firmware link went down")
                if was_ready and self._on_state is not None:
                    self._on_state(False)

    def _read(self, stream: _Stream) -> None:
        buffer = bytearray()
        skipping = False
        while not self._stopping.is_set():
            chunk = stream.read()
            if not chunk:
                continue
            buffer += chunk
            while True:
                end = buffer.find(b"\n")
                if end < 0:
                    break
                line = bytes(buffer[:end])
                del buffer[: end + 1]
                if skipping:  # the tail of an overlong line
                    skipping = False
                    continue
                if line.strip():
                    self._line(line)
            if len(buffer) > MAX_LINE_BYTES:
                buffer.clear()
                skipping = True
                self._count("bad_lines")

    def _line(self, raw: bytes) -> None:
        self._count("lines")
        try:
            report = decode(parse_line(raw))
        except LineError as exc:
            self._count("bad_lines")
            log.debug("firmware link: skipping a bad line: %s", exc)
            return
        if isinstance(report, Unknown):
            return
        if isinstance(report, Hello):
            if report.proto != SUPPORTED_PROTOCOL:
                log.error("firmware speaks protocol %d; this agent speaks %d", report.proto, SUPPORTED_PROTOCOL)
            with self._lock:
                self._hello, self._compartments = report, []
            self._ready.clear()
        elif isinstance(report, CompartmentSpec):
            with self._lock:
                self._compartments = [c for c in self._compartments if c.id != report.id] + [report]
            return
        elif isinstance(report, Ready):
            with self._lock:
                if self._hello is None:
                    return
                self._description = FirmwareDescription(self._hello, tuple(self._compartments))
            self._ready.set()
            if self._on_state is not None:
                self._on_state(True)
        if self._answered(report):
            return
        self._on_report(report)

    def _answered(self, report: FirmwareReport) -> bool:
        """Route a line that belongs to a command's answer; True if it did."""
        ref = getattr(report, "ref", None)
        if ref is None:
            return False
        with self._lock:
            pending = self._pending.get(ref)
        if pending is None:
            return isinstance(report, Answer | FrameReport)  # a late answer to a command given up on
        if isinstance(report, Answer | FrameReport):
            pending.answer = report
            pending.done.set()
        else:
            pending.reports.append(report)
        return True

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for item in pending:
            item.error = why
            item.done.set()

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1
