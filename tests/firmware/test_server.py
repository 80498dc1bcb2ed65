"""The emulated fridge served over TCP and over a pseudo-terminal, spoken to with raw bytes."""

from __future__ import annotations

import os
import select
import socket
import termios
import tty
from collections.abc import Iterator
from datetime import timedelta

import pytest

from freshtap.clock import ManualClock
from freshtap.firmware_mock import FirmwareServer, FridgeHardware, encode_line
from freshtap.firmware_mock.camera import Package


class Lines:
    """Reads framed lines from a socket or a file descriptor, with a deadline."""

    def __init__(self, read: object, fd: int) -> None:
        self._read = read
        self._fd = fd
        self._buffer = b""

    def next(self, timeout: float = 5.0) -> bytes:
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                raise TimeoutError("no line from the firmware")
            chunk = self._read(1 << 20)  # type: ignore[operator]
            if not chunk:
                raise EOFError
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def until(self, prefix: bytes, timeout: float = 5.0) -> list[bytes]:
        seen = []
        while True:
            line = self.next(timeout)
            seen.append(line)
            if line.startswith(prefix):
                return seen


@pytest.fixture
def server(hardware: FridgeHardware) -> Iterator[FirmwareServer]:
    hardware.tick()  # the sample due at the start goes out before anyone listens
    with FirmwareServer(hardware) as running:
        yield running


def connect(server: FirmwareServer) -> tuple[socket.socket, Lines]:
    host, port = server.url.removeprefix("tcp://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock, Lines(sock.recv, sock.fileno())


def test_a_tcp_agent_is_greeted_and_answered(server: FirmwareServer, hardware: FridgeHardware,
                                             packages: list[Package]) -> None:
    sock, lines = connect(server)
    with sock:
        greeting = lines.until(b"READY")
        assert greeting[0].startswith(b"HELLO proto=1 ")
        assert sum(line.startswith(b"COMPARTMENT ") for line in greeting) == 4
        hardware.open_door()
        hardware.place("fridge", 4, packages[0], 650)
        assert lines.next().startswith(b"DOOR ")
        assert lines.next().startswith(b"LOAD ")
        sock.sendall(encode_line("SCAN", {"ref": "a1"}))
        answer = lines.until(b"OK ref=a1")
        assert sum(line.startswith(b"LOAD ref=a1 ") for line in answer) == 38
        assert any(b"id=fridge slot=4 g=6" in line for line in answer)
        sock.sendall(encode_line("CAPTURE", {"ref": "a2", "id": "fridge"}))
        frame = lines.until(b"FRAME ")[-1]
        assert b"ref=a2" in frame and b"fmt=png" in frame and len(frame) > 100_000
        hardware.faults.fail_camera("door")
        sock.sendall(encode_line("CAPTURE", {"ref": "a3", "id": "door"}))
        assert b"code=camera_fault" in lines.until(b"ERR ref=a3")[-1]
        sock.sendall(encode_line("FLY", {"ref": "a4"}))
        assert b"code=unknown_command" in lines.until(b"ERR ref=a4")[-1]
        sock.sendall(b"PING ref=a5*00000000\n")  # a bad CRC: ignored, counted
        sock.sendall(encode_line("PING", {"ref": "a6"}))
        assert lines.until(b"PONG ")[-1].startswith(b"PONG ref=a6 ")
    stats = server.stats()
    assert stats.bad_lines == 1 and stats.commands["CAPTURE"] == 2


def test_samples_flow_as_the_clock_moves(server: FirmwareServer, clock: ManualClock) -> None:
    sock, lines = connect(server)
    with sock:
        lines.until(b"READY")
        clock.advance(timedelta(minutes=3))
        got = [lines.next() for _ in range(3 * 5)]  # the ticker thread integrates: TIME + 4 TEMP a minute
        assert sum(line.startswith(b"TIME ") for line in got) == 3


def test_garbled_lines_fail_their_crc_and_framing_survives(server: FirmwareServer, hardware: FridgeHardware) -> None:
    sock, lines = connect(server)
    with sock:
        lines.until(b"READY")
        hardware.faults.garble(1)
        hardware.open_door()
        hardware.close_door()
        garbled, clean = lines.next(), lines.next()
    from freshtap.device.firmware_protocol import LineError, parse_line

    with pytest.raises(LineError):
        parse_line(garbled)
    assert parse_line(clean).verb == "DOOR"


def test_a_pseudo_terminal_works_like_a_serial_port(hardware: FridgeHardware) -> None:
    hardware.tick()
    with FirmwareServer(hardware, pty=True) as server:
        serial_port(server, hardware)


def serial_port(server: FirmwareServer, hardware: FridgeHardware) -> None:
    path = server.pty_url.removeprefix("serial://")
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(fd, termios.TCSANOW)
        lines = Lines(lambda n: os.read(fd, n), fd)
        os.write(fd, encode_line("HELLO", {}))  # on a serial line the agent asks
        assert lines.until(b"READY")[0].startswith(b"HELLO ")
        hardware.open_door()
        assert lines.next().startswith(b"DOOR ")
        os.write(fd, encode_line("PING", {"ref": "p"}))
        assert lines.until(b"PONG")[-1].startswith(b"PONG ref=p ")
    finally:
        os.close(fd)


def test_stop_closes_connections(hardware: FridgeHardware) -> None:
    server = FirmwareServer(hardware)
    server.start()
    sock, lines = connect(server)
    lines.until(b"READY")
    server.stop()
    with sock, pytest.raises((EOFError, ConnectionError)):
        while True:
            lines.next(2)
