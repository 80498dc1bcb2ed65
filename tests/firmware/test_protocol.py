"""The line protocol as docs/firmware-protocol.md spells it, from both ends: the firmware's encoder
against the agent's parser, and the agent's commands against the firmware's parser."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from freshtap.device.firmware_protocol import (
    CompartmentSpec,
    DoorReport,
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
from freshtap.firmware_mock import (
    DoorChange,
    FridgeHardware,
    LoadReading,
    ProtocolError,
    TempReading,
    encode_line,
    parse_command,
    report_line,
)
from freshtap.firmware_mock.protocol import hello_lines

DOC = Path(__file__).resolve().parents[2] / "docs" / "firmware-protocol.md"
AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_the_documented_example_is_byte_for_byte_what_the_firmware_sends() -> None:
    example = re.search(r"^(TEMP t=\S+ id=\S+ c=\S+\*[0-9a-f]{8})$", DOC.read_text(), re.M)
    assert example is not None
    line = report_line(TempReading(AT, "fridge", 4.06))
    assert line == example.group(1).encode() + b"\n"
    body, _, crc = line.rstrip(b"\n").rpartition(b"*")
    assert int(crc, 16) == zlib.crc32(body)


def test_every_report_the_firmware_makes_parses_on_the_agent() -> None:
    cases = [
        (report_line(TempReading(AT, "fridge", -18.04)), TempReport(AT, "fridge", -18.04, None)),
        (report_line(TempReading(AT, "door", None, "no_signal")), TempReport(AT, "door", None, "no_signal")),
        (report_line(DoorChange(AT, True, 17), ref="9"), DoorReport(AT, True, 17, "9")),
        (report_line(LoadReading(AT, "crisper", 2, 812.4)), LoadReport(AT, "crisper", 2, 812.4, None)),
        (report_line(LoadReading(AT, "crisper", 2, None, "no_signal")), LoadReport(AT, "crisper", 2, None, "no_signal")),
    ]
    for line, expected in cases:
        assert decode(parse_line(line.rstrip(b"\n"))) == expected


def test_the_description_parses(clock_hardware: FridgeHardware) -> None:
    decoded = [decode(parse_line(line.rstrip(b"\n"))) for line in hello_lines(clock_hardware.info, AT)]
    hello = decoded[0]
    assert isinstance(hello, Hello) and hello.proto == 1 and hello.model == "FT-500 (emulated)"
    assert hello.sample_seconds == 60
    specs = [d for d in decoded if isinstance(d, CompartmentSpec)]
    assert [(s.id, s.shelves, s.columns, s.camera) for s in specs] == [
        ("fridge", 3, 6, True), ("door", 3, 3, True), ("crisper", 1, 3, True), ("freezer", 2, 4, True)
    ]
    assert isinstance(decoded[-1], Ready)


def test_a_bad_crc_or_a_malformed_line_is_refused_by_both_ends() -> None:
    good = report_line(TempReading(AT, "fridge", 4.0)).rstrip(b"\n")
    flipped = good.replace(b"4.0", b"5.0")
    with pytest.raises(LineError, match="CRC"):
        parse_line(flipped)
    with pytest.raises(LineError):
        parse_line(b"TEMP t=x")
    with pytest.raises(LineError):
        decode(parse_line(encode_line("TEMP", {"t": "2026-11-23T12:00:00Z", "id": "fridge", "c": "warm"}).rstrip()))
    with pytest.raises(LineError):
        decode(parse_line(encode_line("LOAD", {"t": "2026-11-23T12:00:00+01:00", "id": "f", "slot": 1, "g": 2}).rstrip()))
    assert decode(parse_line(encode_line("FUTURE", {"x": 1}).rstrip())) == Unknown("FUTURE")

    cmd = command("CAPTURE", {"ref": "7", "id": "fridge"})
    parsed = parse_command(cmd.rstrip(b"\n"))
    assert parsed.verb == "CAPTURE" and parsed.ref == "7" and parsed.fields["id"] == "fridge"
    with pytest.raises(ProtocolError):
        parse_command(cmd.rstrip(b"\n").replace(b"fridge", b"fridgX"))


def test_text_values_are_percent_encoded_and_come_back_intact() -> None:
    line = encode_line("HELLO", {"proto": 1, "model": "Kühlschrank 5 % *", "firmware": "1", "serial": "s",
                                 "sample": 60, "t": "2026-11-23T12:00:00.000Z"})
    assert line.isascii() and line.count(b" ") == 6
    hello = decode(parse_line(line.rstrip(b"\n")))
    assert isinstance(hello, Hello) and hello.model == "Kühlschrank 5 % *"


@pytest.fixture
def clock_hardware(hardware: FridgeHardware) -> FridgeHardware:
    return hardware
