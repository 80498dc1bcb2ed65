"""Size limits on incoming MQTT 3.1.1 packets, checked from their headers before their bodies are read.

amqtt 0.12.1 has no packet or payload limit: it reads a PUBLISH whole, up to the 256 MB the
remaining-length field can announce, and it reads a CONNECT before anyone has authenticated. A
`FrameGuard` follows the MQTT framing of one connection's incoming byte stream (fixed header,
remaining length, and for PUBLISH the topic length) and raises `FrameViolation` as soon as the
header says a packet or a payload will be too large, so the broker can drop the connection
before it buffers the body. It also insists that the first packet is a CONNECT, and counts the
QoS 1 and 2 PUBLISH packets that begin, so the broker can hold a client over its publish rate
before it reads the next one.

Pure: it is fed the bytes the broker reads and does no I/O.
"""

from __future__ import annotations

from enum import Enum, auto

__all__ = ["PACKET_HEADROOM", "FrameGuard", "FrameViolation"]

# Room above the payload limit for everything else in a packet: the variable header and topic of
# a PUBLISH (our topics are well under 100 bytes), or a CONNECT's ids, credentials and will.
PACKET_HEADROOM = 1024

_CONNECT = 1
_PUBLISH = 3
_MAX_LENGTH_BYTES = 4  # MQTT 3.1.1 section 2.2.3


class FrameViolation(Exception):
    """The stream broke a limit; `reason` is `oversized` or `malformed`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _State(Enum):
    TYPE = auto()
    LENGTH = auto()
    TOPIC_LENGTH = auto()
    BODY = auto()


class FrameGuard:
    """Follows one connection's incoming MQTT packets and enforces the size limits.

    `max_payload` bounds a PUBLISH payload; `max_packet` bounds the remaining length of any
    packet (default: `max_payload + PACKET_HEADROOM`). `feed()` every chunk as it is read, in
    order; it raises `FrameViolation` at the first header that breaks a limit.
    """

    def __init__(self, max_payload: int, max_packet: int | None = None) -> None:
        if max_payload < 0:
            raise ValueError("max_payload must not be negative")
        self.max_payload = max_payload
        self.max_packet = max_payload + PACKET_HEADROOM if max_packet is None else max_packet
        self._state = _State.TYPE
        self._packets = 0
        self._type = 0
        self._qos = 0
        self._length = 0
        self._length_bytes = 0
        self._left = 0  # body bytes not yet seen of the current packet
        self._topic_length = bytearray()
        self.acknowledged_publishes = 0
        """How many QoS 1 or 2 PUBLISH packets have begun so far (the rate limiter holds each)."""

    def feed(self, data: bytes) -> None:
        """Account for `data`, the next bytes of the stream; `FrameViolation` when a limit is broken."""
        view = memoryview(data)
        i = 0
        while i < len(view):
            if self._state is _State.BODY:
                step = min(self._left, len(view) - i)
                i += step
                self._left -= step
                if self._left == 0:
                    self._state = _State.TYPE
                continue
            byte = view[i]
            i += 1
            if self._state is _State.TYPE:
                self._start(byte)
            elif self._state is _State.LENGTH:
                self._length_byte(byte)
            else:
                self._topic_length_byte(byte)

    def _start(self, byte: int) -> None:
        self._type = byte >> 4
        self._qos = (byte >> 1) & 0x03
        if self._packets == 0 and self._type != _CONNECT:
            raise FrameViolation("malformed", f"first packet is of type {self._type}, not CONNECT")
        self._packets += 1
        if self._type == _PUBLISH and self._qos:
            self.acknowledged_publishes += 1
        self._length = 0
        self._length_bytes = 0
        self._state = _State.LENGTH

    def _length_byte(self, byte: int) -> None:
        self._length += (byte & 0x7F) << (7 * self._length_bytes)
        self._length_bytes += 1
        if byte & 0x80:
            if self._length_bytes == _MAX_LENGTH_BYTES:
                raise FrameViolation("malformed", "remaining length longer than 4 bytes")
            return
        if self._length > self.max_packet:
            raise FrameViolation("oversized", f"packet of {self._length} bytes > {self.max_packet}")
        self._left = self._length
        if self._left == 0:
            self._state = _State.TYPE
        elif self._type == _PUBLISH:
            self._topic_length.clear()
            self._state = _State.TOPIC_LENGTH
        else:
            self._state = _State.BODY

    def _topic_length_byte(self, byte: int) -> None:
        self._topic_length.append(byte)
        self._left -= 1
        if len(self._topic_length) < 2:
            if self._left == 0:
                raise FrameViolation("malformed", "PUBLISH shorter than its topic length")
            return
        topic_length = int.from_bytes(self._topic_length, "big")
        payload = self._left - topic_length - (2 if self._qos else 0)
        if payload < 0:
            raise FrameViolation("malformed", "PUBLISH shorter than its topic and packet id")
        if payload > self.max_payload:
            raise FrameViolation("oversized", f"payload of {payload} bytes > {self.max_payload}")
        self._state = _State.BODY if self._left else _State.TYPE
