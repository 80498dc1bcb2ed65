"""The firmware's side of the line protocol (docs/firmware-protocol.md): reports out, commands in.

A line is `VERB key=value ...*CRC\\n`: the CRC is CRC-32 (zlib's) of everything before the `*`, in
8 lowercase hex digits. Values never hold spaces: text is percent-encoded, times are RFC 3339 UTC
with milliseconds and `Z`, flags are `0`/`1`, frames are base64.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from .hardware import HardwareInfo
from .reports import CoolingChange, DoorChange, LoadReading, Report, TempReading, Tick

__all__ = [
    "MAX_LINE_BYTES",
    "PROTOCOL_VERSION",
    "Command",
    "ProtocolError",
    "encode_line",
    "format_time",
    "frame_line",
    "hello_lines",
    "parse_command",
    "report_line",
]

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 8 * 1024 * 1024
"""The longest line either side accepts (a PNG frame in base64 is well under this)."""

Value = str | int | float | bool | None


class ProtocolError(ValueError):
    """A line that is not a well-formed command (bad CRC, bad field, unknown shape)."""


@dataclass(frozen=True)
class Command:
    verb: str
    fields: Mapping[str, str]

    @property
    def ref(self) -> str | None:
        return self.fields.get("ref")


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value(value: Value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"
    if isinstance(value, int):
        return str(value)
    return quote(str(value), safe="-._~:/+")


def encode_line(verb: str, fields: Mapping[str, Value]) -> bytes:
    """One framed line; fields whose value is None are left out."""
    parts = [verb] + [f"{key}={_value(value)}" for key, value in fields.items() if value is not None]
    body = " ".join(parts).encode("ascii")
    return body + b"*" + f"{zlib.crc32(body):08x}".encode("ascii") + b"\n"


def hello_lines(info: HardwareInfo, now: datetime) -> list[bytes]:
    """What the firmware says when an agent connects: who it is, its compartments, then READY."""
    lines = [
        encode_line(
            "HELLO",
            {
                "proto": PROTOCOL_VERSION,
                "model": info.model,
                "firmware": info.firmware,
                "serial": info.serial,
                "sample": int(info.sample_every.total_seconds()),
                "t": format_time(now),
            },
        )
    ]
    for c in info.compartments:
        lines.append(
            encode_line(
                "COMPARTMENT",
                {"id": c.id, "shelves": c.shelves, "columns": c.columns, "setpoint": c.thermal.setpoint_c, "camera": 1},
            )
        )
    lines.append(encode_line("READY", {"t": format_time(now)}))
    return lines


def report_line(report: Report, ref: str | None = None) -> bytes:
    """A report as a line; `ref` marks it as part of the answer to a `SCAN`."""
    t = format_time(report.at)
    if isinstance(report, Tick):
        return encode_line("TIME", {"t": t})
    if isinstance(report, TempReading):
        fields = {"ref": ref, "t": t, "id": report.compartment, "c": report.temp_c, "err": report.error}
        return encode_line("TEMP", fields)
    if isinstance(report, DoorChange):
        return encode_line("DOOR", {"ref": ref, "t": t, "open": report.open, "cycle": report.cycle})
    if isinstance(report, LoadReading):
        return encode_line(
            "LOAD",
            {"ref": ref, "t": t, "id": report.compartment, "slot": report.slot, "g": report.grams, "err": report.error},
        )
    if isinstance(report, CoolingChange):
        return encode_line("COOL", {"t": t, "id": report.compartment, "on": report.on})
    raise TypeError(f"not a report: {report!r}")  # pragma: no cover - Report is a closed union


def frame_line(ref: str, compartment: str, at: datetime, png: bytes) -> bytes:
    return encode_line(
        "FRAME",
        {"ref": ref, "t": format_time(at), "id": compartment, "fmt": "png", "data": base64.b64encode(png).decode()},
    )


def parse_command(line: bytes) -> Command:
    """A command line from the agent (without its newline); `ProtocolError` if it is not one."""
    body, star, crc = line.rstrip(b"\r").rpartition(b"*")
    if not star or len(crc) != 8:
        raise ProtocolError("no CRC")
    try:
        if int(crc, 16) != zlib.crc32(body):
            raise ProtocolError("bad CRC")
        text = body.decode("ascii")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"unreadable line: {exc}") from None
    verb, *parts = text.split(" ")
    if not verb.isalpha() or not verb.isupper():
        raise ProtocolError(f"bad verb {verb[:20]!r}")
    fields: dict[str, str] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise ProtocolError(f"bad field {part[:40]!r}")
        fields[key] = unquote(value)
    return Command(verb, fields)
