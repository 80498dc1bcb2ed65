"""Fridges that publish a paced stream of QoS 1 telemetry and remember which messages the broker acknowledged.

Each fridge is its own paho client with its own login, client id = fridge id and a persistent
session (clean_session=False), as real agents connect. paho keeps every QoS 1 message until its
PUBACK arrives and sends it again after a reconnect, so a message is "acknowledged" exactly when
the broker took responsibility for it: those are the ones that must never be lost.

Every message is telemetry with its own `seq` and its own `at` (one millisecond per seq), so a
message applied twice would show up as two readings with the same (fridge, at): a duplicate effect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from freshtap.contract import (
    Channel,
    CompartmentReading,
    TelemetryBody,
    TelemetryMessage,
    encode,
    topic,
)

__all__ = ["PublishingFleet", "telemetry_at"]

EPOCH = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def telemetry_at(seq: int) -> datetime:
    """When telemetry `seq` was observed (unique per seq, so duplicates are visible)."""
    return EPOCH + timedelta(milliseconds=seq)


def _payload(fridge_id: str, seq: int) -> bytes:
    return encode(
        TelemetryMessage(
            type="telemetry",
            fridge_id=fridge_id,
            seq=seq,
            at=telemetry_at(seq),
            body=TelemetryBody(compartments=[CompartmentReading(id="fridge", temp_c=3.5)], door_open=False),
        )
    )


@dataclass
class _Fridge:
    fridge_id: str
    client: mqtt.Client
    next_seq: int = 1
    pending: dict[int, int] = field(default_factory=dict)  # mid -> seq, sent and not yet acknowledged
    early: set[int] = field(default_factory=set)  # mids acknowledged before publish() returned
    connected: threading.Event = field(default_factory=threading.Event)


class PublishingFleet:
    def __init__(self, host: str, port: int, fridges: dict[str, str], *, window: int = 100) -> None:
        self._lock = threading.Condition()
        self.sent = 0
        self.acked: set[tuple[str, int]] = set()
        self.connects = 0
        self._fridges: list[_Fridge] = []
        for fridge_id, password in fridges.items():
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=fridge_id, clean_session=False, protocol=mqtt.MQTTv311
            )
            client.username_pw_set(fridge_id, password)
            client.max_inflight_messages_set(window)
            client.max_queued_messages_set(0)
            client.reconnect_delay_set(min_delay=1, max_delay=2)
            fridge = _Fridge(fridge_id, client)
            client.on_connect = self._on_connect(fridge)
            client.on_disconnect = self._on_disconnect(fridge)
            client.on_publish = self._on_publish(fridge)
            self._fridges.append(fridge)
        self._host, self._port = host, port
        self._streamer: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def fridge_ids(self) -> list[str]:
        return [f.fridge_id for f in self._fridges]

    @property
    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    # -- paho callbacks (each client's network thread) -------------------------------------------

    def _on_connect(self, fridge: _Fridge) -> Callable[..., None]:
        def callback(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
            if not getattr(reason, "is_failure", False):
                with self._lock:
                    self.connects += 1
                fridge.connected.set()

        return callback

    def _on_disconnect(self, fridge: _Fridge) -> Callable[..., None]:
        def callback(*_: object) -> None:
            fridge.connected.clear()

        return callback

    def _on_publish(self, fridge: _Fridge) -> Callable[..., None]:
        def callback(_c: mqtt.Client, _u: object, mid: int, _reason: object, _p: object) -> None:
            with self._lock:
                seq = fridge.pending.pop(mid, None)
                if seq is None:
                    fridge.early.add(mid)
                    return
                self.acked.add((fridge.fridge_id, seq))
                self._lock.notify_all()

        return callback

    # -- driving ---------------------------------------------------------------------------------

    def connect(self, timeout: float = 15.0) -> None:
        for fridge in self._fridges:
            fridge.client.connect_async(self._host, self._port, keepalive=10)
            fridge.client.loop_start()
        for fridge in self._fridges:
            if not fridge.connected.wait(timeout):
                raise TimeoutError(f"{fridge.fridge_id} did not connect to {self._host}:{self._port}")

    def _publish_one(self, fridge: _Fridge) -> None:
        seq = fridge.next_seq
        fridge.next_seq += 1
        self._publish(fridge, topic(fridge.fridge_id, Channel.TELEMETRY), _payload(fridge.fridge_id, seq), seq)

    def _publish(self, fridge: _Fridge, topic_name: str, payload: bytes, key: int, retain: bool = False) -> None:
        info = fridge.client.publish(topic_name, payload, qos=1, retain=retain)
        with self._lock:
            self.sent += 1
            if info.mid in fridge.early:
                fridge.early.discard(info.mid)
                self.acked.add((fridge.fridge_id, key))
                self._lock.notify_all()
            else:
                fridge.pending[info.mid] = key

    def send(self, fridge_id: str, topic_name: str, payload: bytes, key: int, retain: bool = False) -> None:
        """Publish one prepared message; `key` (its seq, say) is what `acked` records for it."""
        fridge = next(f for f in self._fridges if f.fridge_id == fridge_id)
        self._publish(fridge, topic_name, payload, key, retain)

    def stream(self, total: int, rate: float) -> None:
        """Start publishing `total` messages, round robin over the fridges, at `rate` per second."""

        def run() -> None:
            started = time.monotonic()
            for n in range(total):
                if self._stop.is_set():
                    return
                due = started + n / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing a load generator, not waiting for an event
                self._publish_one(self._fridges[n % len(self._fridges)])

        self._streamer = threading.Thread(target=run, name="fleet-stream", daemon=True)
        self._streamer.start()

    def publish_sentinels(self) -> dict[str, int]:
        """One more message per fridge; when a fridge's sentinel is stored, everything before it was delivered."""
        sentinels = {}
        for fridge in self._fridges:
            sentinels[fridge.fridge_id] = fridge.next_seq
            self._publish_one(fridge)
        return sentinels

    def wait_acked(self, count: int, timeout: float) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.acked) >= count, timeout):
                raise TimeoutError(f"{len(self.acked)} of {count} messages acknowledged after {timeout}s")

    def wait_streamed(self, timeout: float) -> None:
        if self._streamer is not None:
            self._streamer.join(timeout)
            if self._streamer.is_alive():
                raise TimeoutError("the stream did not finish")

    def wait_all_acked(self, timeout: float) -> None:
        self.wait_streamed(timeout)
        self.wait_acked(self.sent, timeout)

    def close(self) -> None:
        self._stop.set()
        if self._streamer is not None:
            self._streamer.join(10)
        for fridge in self._fridges:
            fridge.client.disconnect()
            fridge.client.loop_stop()
