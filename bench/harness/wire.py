"""A minimal asyncio MQTT 3.1.1 client for load generation: thousands of connections in one loop.

paho runs one network thread per client, whose `select()` cannot watch descriptors >= 1024, so
one process cannot hold more than a few hundred paho clients. The benchmarks need many light
connections (fridges that only connect, subscribe and publish) and fast QoS 1 publishers, so
this speaks the few packets they use directly: CONNECT/CONNACK, PUBLISH with QoS 0 and 1,
PUBACK, SUBSCRIBE/SUBACK, PINGREQ/PINGRESP and DISCONNECT. No QoS 2, no reconnect, no will.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable

__all__ = ["LightClient", "MqttRefused"]

_CONNECT, _CONNACK, _PUBLISH, _PUBACK = 0x10, 0x20, 0x30, 0x40
_SUBSCRIBE, _SUBACK, _PINGREQ, _PINGRESP, _DISCONNECT = 0x82, 0x90, 0xC0, 0xD0, 0xE0

MessageHandler = Callable[[str, bytes, bool], None]


class MqttRefused(ConnectionError):
    """The broker refused the CONNECT (or a subscription), or closed the connection."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        digit, n = n % 128, n // 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def publish_packet(topic: str, payload: bytes, qos: int, retain: bool, packet_id: int = 0) -> bytes:
    """One PUBLISH packet (packet id only for QoS 1)."""
    head = _string(topic) + (struct.pack("!H", packet_id) if qos else b"")
    return _packet(_PUBLISH | (qos << 1) | int(retain), head + payload)


def _split_packet(buffer: bytearray, offset: int) -> tuple[int, int, int] | None:
    """(first byte, body start, body end) of the packet at `offset`, or None if it is not all there."""
    if len(buffer) - offset < 2:
        return None
    length, shift, index = 0, 0, offset + 1
    while True:
        if index >= len(buffer):
            return None
        digit = buffer[index]
        length += (digit & 0x7F) << shift
        shift += 7
        index += 1
        if not digit & 0x80:
            break
    if len(buffer) < index + length:
        return None
    return buffer[offset], index, index + length


class LightClient:
    """One MQTT connection on the running event loop; `window` bounds unacknowledged QoS 1 publishes."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        username: str | None = None,
        password: str | None = None,
        *,
        clean_session: bool = True,
        keepalive: int = 600,
        window: int = 200,
        on_message: MessageHandler | None = None,
        handshake_timeout: float = 30.0,
    ) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self._username, self._password = username, password
        self._clean = clean_session
        self._keepalive = keepalive
        self._window = asyncio.Semaphore(window)
        self._on_message = on_message
        self._timeout = handshake_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._subacks: dict[int, asyncio.Future[list[int]]] = {}
        self._next_id = 0
        self._closed = asyncio.Event()
        self.error: BaseException | None = None

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._closed.is_set()

    async def connect(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self._timeout)
        self._reader, self._writer = reader, writer
        flags = 0x02 if self._clean else 0
        payload = _string(self.client_id)
        if self._username is not None:
            flags |= 0x80
            payload += _string(self._username)
            if self._password is not None:
                flags |= 0x40
                payload += _string(self._password)
        variable = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", self._keepalive)
        writer.write(_packet(_CONNECT, variable + payload))
        first, body = await asyncio.wait_for(self._read_packet(), self._timeout)
        if first & 0xF0 != _CONNACK or len(body) != 2:
            raise MqttRefused(f"{self.client_id}: expected CONNACK, got {first:#x}")
        if body[1] != 0:
            raise MqttRefused(f"{self.client_id}: CONNECT refused with return code {body[1]}")
        self._tasks.append(asyncio.create_task(self._read_loop()))
        if self._keepalive:
            self._tasks.append(asyncio.create_task(self._ping_loop()))

    async def subscribe(self, filters: list[tuple[str, int]]) -> list[int]:
        """Subscribe and return the granted QoS per filter; `MqttRefused` if any was refused (0x80)."""
        packet_id = self._new_id()
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._subacks[packet_id] = done
        body = struct.pack("!H", packet_id) + b"".join(_string(f) + bytes([q]) for f, q in filters)
        self._write(_packet(_SUBSCRIBE, body))
        granted = await asyncio.wait_for(done, self._timeout)
        if 0x80 in granted:
            raise MqttRefused(f"{self.client_id}: subscription refused: {filters}")
        return granted

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> asyncio.Future[None]:
        """Send one PUBLISH; for QoS 1 the returned future completes on its PUBACK.

        Waits first while `window` QoS 1 messages are unacknowledged.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if qos == 0:
            self._write(publish_packet(topic, payload, 0, retain))
            done.set_result(None)
            return done
        await self._window.acquire()
        packet_id = self._new_id()
        self._pending[packet_id] = done
        done.add_done_callback(lambda _: self._window.release())
        self._write(publish_packet(topic, payload, 1, retain, packet_id))
        return done

    async def drain(self) -> None:
        """Flush the socket buffer (back-pressure for fast publishers)."""
        if self._writer is not None:
            await self._writer.drain()

    async def close(self) -> None:
        if self._writer is not None and not self._closed.is_set():
            with contextlib.suppress(ConnectionError, RuntimeError):
                self._writer.write(bytes([_DISCONNECT, 0]))
                await self._writer.drain()
        self._closed.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._fail_pending(MqttRefused(f"{self.client_id}: closed"))

    # -- internals -------------------------------------------------------------------------------

    def _new_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._pending and self._next_id not in self._subacks:
                return self._next_id
        raise RuntimeError("no free packet id")

    def _write(self, data: bytes) -> None:
        if self._writer is None or self._closed.is_set():
            raise MqttRefused(f"{self.client_id}: not connected ({self.error})")
        self._writer.write(data)

    async def _read_packet(self) -> tuple[int, bytes]:
        assert self._reader is not None
        head = await self._reader.readexactly(1)
        length, shift = 0, 0
        while True:
            digit = (await self._reader.readexactly(1))[0]
            length += (digit & 0x7F) << shift
            shift += 7
            if not digit & 0x80:
                break
        return head[0], await self._reader.readexactly(length) if length else b""

    async def _read_loop(self) -> None:
        # Parse whole chunks rather than awaiting each field: a publisher's PUBACKs arrive in bursts.
        assert self._reader is not None
        buffer = bytearray()
        try:
            while True:
                chunk = await self._reader.read(65536)
                if not chunk:
                    raise ConnectionError("closed by the broker")
                buffer += chunk
                offset = 0
                while True:
                    parsed = _split_packet(buffer, offset)
                    if parsed is None:
                        break
                    first, start, end = parsed
                    self._dispatch(first, bytes(buffer[start:end]))
                    offset = end
                del buffer[:offset]
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            self.error = exc
        finally:
            self._closed.set()
            self._fail_pending(MqttRefused(f"{self.client_id}: connection closed by the broker"))

    def _dispatch(self, first: int, body: bytes) -> None:
        kind = first & 0xF0
        if kind == _PUBLISH:
            self._on_publish(first, body)
        elif kind == _PUBACK:
            (packet_id,) = struct.unpack_from("!H", body)
            ack = self._pending.pop(packet_id, None)
            if ack is not None and not ack.done():
                ack.set_result(None)
        elif kind == _SUBACK:
            (packet_id,) = struct.unpack_from("!H", body)
            suback = self._subacks.pop(packet_id, None)
            if suback is not None and not suback.done():
                suback.set_result(list(body[2:]))

    def _on_publish(self, first: int, body: bytes) -> None:
        qos, retain = (first >> 1) & 0x03, bool(first & 0x01)
        (topic_length,) = struct.unpack_from("!H", body)
        topic = body[2 : 2 + topic_length].decode()
        offset = 2 + topic_length
        if qos:
            packet_id = body[offset : offset + 2]
            offset += 2
            self._write(bytes([_PUBACK, 2]) + packet_id)
        if self._on_message is not None:
            self._on_message(topic, body[offset:], retain)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self._keepalive / 2)
            self._write(bytes([_PINGREQ, 0]))

    def _fail_pending(self, error: BaseException) -> None:
        pending, self._pending = self._pending, {}
        subacks, self._subacks = self._subacks, {}
        futures: list[asyncio.Future[None] | asyncio.Future[list[int]]] = [*pending.values(), *subacks.values()]
        for future in futures:
            if not future.done():
                future.set_exception(error)
                future.exception()  # mark retrieved: a closed connection is reported via `error`
