"""The agent's side of the firmware line protocol (docs/firmware-protocol.md): lines in, commands out.

`parse_line` checks a line's CRC-32 and splits it into a verb and fields; `decode` turns a parsed
line into a typed report (`Hello`, `TempReport`, `LoadReport`, ...) or raises `LineError` when a
known verb lacks a field or carries a bad value. Unknown verbs decode to `Unknown` and are
ignored by the link, so newer firmware can add reports. `command` frames a command.
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

__all__ = [
    "MAX_LINE_BYTES",
    "SUPPORTED_PROTOCOL",
    "Answer",
    "CompartmentSpec",
    "CoolingReport",
    "DoorReport",
    "FirmwareLine",
    "FirmwareReport",
    "FrameReport",
    "Hello",
    "LineError",
    "LoadReport",
    "Ready",
    "TempReport",
    "TimeReport",
    "Unknown",
    "command",
    "decode",
    "parse_line",
]

SUPPORTED_PROTOCOL = 1
MAX_LINE_BYTES = 8 * 1024 * 1024


class LineError(ValueError):
    """A line that fails its CRC or does not follow the protocol."""


@dataclass(frozen=True)
class FirmwareLine:
    verb: str
    fields: Mapping[str, str]

    def text(self, key: str) -> str:
        try:
            return self.fields[key]
        except KeyError:
            raise LineError(f"{self.verb} without {key}=") from None

    def number(self, key: str) -> float:
        try:
            value = float(self.text(key))
        except ValueError:
            raise LineError(f"{self.verb} {key}= is not a number: {self.fields[key][:20]!r}") from None
        if not math.isfinite(value):
            raise LineError(f"{self.verb} {key}= is not finite")
        return value

    def integer(self, key: str) -> int:
        text = self.text(key)
        if not text.lstrip("-").isdigit():
            raise LineError(f"{self.verb} {key}= is not an integer: {text[:20]!r}")
        return int(text)

    def flag(self, key: str) -> bool:
        text = self.text(key)
        if text not in ("0", "1"):
            raise LineError(f"{self.verb} {key}= is not 0 or 1: {text[:20]!r}")
        return text == "1"

    def time(self, key: str = "t") -> datetime:
        text = self.text(key)
        if not text.endswith("Z"):
            raise LineError(f"{self.verb} {key}= is not UTC with Z: {text[:40]!r}")
        try:
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
        except ValueError:
            raise LineError(f"{self.verb} {key}= is not a time: {text[:40]!r}") from None

    def optional(self, key: str) -> str | None:
        return self.fields.get(key)


@dataclass(frozen=True)
class Hello:
    proto: int
    model: str
    firmware: str
    serial: str
    sample_seconds: float
    at: datetime


@dataclass(frozen=True)
class CompartmentSpec:
    id: str
    shelves: int
    columns: int
    setpoint_c: float | None
    camera: bool

    @property
    def slots(self) -> int:
        return self.shelves * self.columns


@dataclass(frozen=True)
class Ready:
    at: datetime


@dataclass(frozen=True)
class TimeReport:
    at: datetime


@dataclass(frozen=True)
class TempReport:
    at: datetime
    compartment: str
    temp_c: float | None
    error: str | None
    ref: str | None = None


@dataclass(frozen=True)
class DoorReport:
    at: datetime
    open: bool
    cycle: int
    ref: str | None = None


@dataclass(frozen=True)
class LoadReport:
    at: datetime
    compartment: str
    slot: int
    grams: float | None
    error: str | None
    ref: str | None = None


@dataclass(frozen=True)
class CoolingReport:
    at: datetime
    compartment: str
    on: bool


@dataclass(frozen=True)
class FrameReport:
    ref: str
    at: datetime
    compartment: str
    format: str
    data: bytes


@dataclass(frozen=True)
class Answer:
    """`OK`, `ERR` or `PONG`: the end of the answer to the command `ref`."""

    verb: str
    ref: str
    code: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Unknown:
    verb: str


FirmwareReport = (
    Hello | CompartmentSpec | Ready | TimeReport | TempReport | DoorReport | LoadReport | CoolingReport
    | FrameReport | Answer | Unknown
)


def parse_line(line: bytes) -> FirmwareLine:
    """Check the CRC and split `VERB key=value ...*crc` (newline already removed)."""
    if len(line) > MAX_LINE_BYTES:
        raise LineError("line too long")
    body, star, crc = line.rstrip(b"\r").rpartition(b"*")
    if not star or len(crc) != 8:
        raise LineError("no CRC")
    try:
        expected = int(crc, 16)
    except ValueError:
        raise LineError("CRC is not hex") from None
    if expected != zlib.crc32(body):
        raise LineError("bad CRC")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise LineError("not ASCII") from None
    verb, *parts = text.split(" ")
    if not verb.isascii() or not verb.isalpha() or not verb.isupper():
        raise LineError(f"bad verb {verb[:20]!r}")
    fields: dict[str, str] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise LineError(f"bad field {part[:40]!r}")
        fields[key] = unquote(value)
    return FirmwareLine(verb, fields)


def decode(line: FirmwareLine) -> FirmwareReport:
    """The typed report a line carries; `LineError` if a known verb is malformed."""
    verb = line.verb
    if verb == "TIME":
        return TimeReport(line.time())
    if verb == "TEMP":
        error = line.optional("err")
        temp = None if error else line.number("c")
        return TempReport(line.time(), line.text("id"), temp, error, line.optional("ref"))
    if verb == "LOAD":
        error = line.optional("err")
        grams = None if error else line.number("g")
        if grams is not None and grams < 0:
            raise LineError("LOAD g= is negative")
        return LoadReport(line.time(), line.text("id"), line.integer("slot"), grams, error, line.optional("ref"))
    if verb == "DOOR":
        return DoorReport(line.time(), line.flag("open"), line.integer("cycle"), line.optional("ref"))
    if verb == "COOL":
        return CoolingReport(line.time(), line.text("id"), line.flag("on"))
    if verb == "FRAME":
        try:
            data = base64.b64decode(line.text("data"), validate=True)
        except (binascii.Error, ValueError):
            raise LineError("FRAME data= is not base64") from None
        return FrameReport(line.text("ref"), line.time(), line.text("id"), line.text("fmt"), data)
    if verb in ("OK", "ERR", "PONG"):
        return Answer(verb, line.text("ref"), line.optional("code"), line.optional("detail"))
    if verb == "HELLO":
        return Hello(
            line.integer("proto"),
            line.text("model"),
            line.text("firmware"),
            line.text("serial"),
            line.number("sample"),
            line.time(),
        )
    if verb == "COMPARTMENT":
        shelves, columns = line.integer("shelves"), line.integer("columns")
        if not 1 <= shelves <= 16 or not 1 <= columns <= 16:
            raise LineError("COMPARTMENT grid out of range")
        setpoint = line.number("setpoint") if "setpoint" in line.fields else None
        camera = line.flag("camera") if "camera" in line.fields else False
        return CompartmentSpec(line.text("id"), shelves, columns, setpoint, camera)
    if verb == "READY":
        return Ready(line.time())
    return Unknown(verb)


def command(verb: str, fields: Mapping[str, str | int]) -> bytes:
    """One framed command line."""
    parts = [verb] + [f"{key}={quote(str(value), safe='-._~:/+')}" for key, value in fields.items()]
    body = " ".join(parts).encode("ascii")
    return body + b"*" + f"{zlib.crc32(body):08x}".encode("ascii") + b"\n"
