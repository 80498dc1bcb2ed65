"""The frame guard: size limits decided from MQTT headers, before a body is read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshtap.server.broker.framing import PACKET_HEADROOM, FrameGuard, FrameViolation

LIMIT = 1000


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + varint(len(body)) + body


def connect() -> bytes:
    body = b"\x00\x04MQTT\x04\x02\x00\x1e" + b"\x00\x03abc"
    return packet(0x10, body)


def publish(topic: bytes, payload: bytes, qos: int = 1) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (b"\x00\x01" if qos else b"") + payload
    return packet(0x30 | (qos << 1), body)


def feed_bytewise(guard: FrameGuard, data: bytes) -> None:
    for i in range(len(data)):
        guard.feed(data[i : i + 1])


def test_packets_within_the_limits_pass_however_they_are_split() -> None:
    stream = connect() + publish(b"t/a", b"x" * LIMIT) + publish(b"t/b", b"", qos=0) + packet(0xC0, b"")
    FrameGuard(LIMIT).feed(stream)
    feed_bytewise(FrameGuard(LIMIT), stream)


def test_a_payload_one_byte_over_is_refused_at_the_topic_length() -> None:
    guard = FrameGuard(LIMIT)
    guard.feed(connect())
    data = publish(b"t/a", b"x" * (LIMIT + 1))
    with pytest.raises(FrameViolation) as caught:
        # the fixed header, the remaining length and the topic length: 1 + 2 + 2 bytes
        feed_bytewise(guard, data[:5])
    assert caught.value.reason == "oversized"


def test_a_huge_announced_packet_is_refused_at_its_remaining_length() -> None:
    guard = FrameGuard(LIMIT)
    guard.feed(connect())
    header = b"\x32" + varint(100_000_000)
    with pytest.raises(FrameViolation) as caught:
        feed_bytewise(guard, header)
    assert caught.value.reason == "oversized"


def test_a_huge_connect_is_refused_before_anything_else() -> None:
    with pytest.raises(FrameViolation) as caught:
        FrameGuard(LIMIT).feed(b"\x10" + varint(100_000_000))
    assert caught.value.reason == "oversized"
    assert FrameGuard(LIMIT).max_packet == LIMIT + PACKET_HEADROOM


def test_the_first_packet_must_be_a_connect() -> None:
    with pytest.raises(FrameViolation) as caught:
        FrameGuard(LIMIT).feed(publish(b"t", b"x"))
    assert caught.value.reason == "malformed"


def test_a_remaining_length_over_four_bytes_is_malformed() -> None:
    with pytest.raises(FrameViolation) as caught:
        FrameGuard(10**9, max_packet=10**9).feed(b"\x10\xff\xff\xff\xff\x01")
    assert caught.value.reason == "malformed"


def test_a_publish_shorter_than_its_topic_is_malformed() -> None:
    guard = FrameGuard(LIMIT)
    guard.feed(connect())
    with pytest.raises(FrameViolation):
        guard.feed(b"\x32\x03\x00\x09t")


@given(
    payloads=st.lists(st.integers(min_value=0, max_value=LIMIT + 5), max_size=6),
    cuts=st.lists(st.integers(min_value=1, max_value=50), max_size=40),
)
def test_the_verdict_does_not_depend_on_how_the_stream_is_read(payloads: list[int], cuts: list[int]) -> None:
    stream = connect() + b"".join(publish(b"t/x", b"p" * n) for n in payloads)
    expect_refused = any(n > LIMIT for n in payloads)
    guard, at, refused = FrameGuard(LIMIT), 0, False
    try:
        for cut in [*cuts, len(stream)]:
            guard.feed(stream[at : at + cut])
            at += cut
        guard.feed(stream[at:])
    except FrameViolation:
        refused = True
    assert refused == expect_refused
