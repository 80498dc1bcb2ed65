"""The server's MQTT link: paho-mqtt kept inside this module.

It subscribes to the device -> server channels of every fridge (as a shared subscription when a
share group is set) and puts each message on a bounded queue (a full queue holds up paho's network
thread, so the broker keeps the rest). One worker thread drains the queue in batches: whatever is
queued, up to `batch_size` messages, waiting at most `batch_wait` seconds for more once the queue
is empty (0: never wait; under load batches fill by themselves while the previous one is applied).
It hands the batch to the handler (`IngestService.handle_batch`, one transaction) and acknowledges
(PUBACK) every message of it only after the handler returned, i.e. after the commit, so a message
is never acknowledged and then lost; a crash before the commit gets the batch redelivered. It is
also the `FridgePublisher` through which offers and notices go out.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from freshtap.contract import DEVICE_TO_SERVER, Channel, subscription_filter, topic

__all__ = ["BatchHandler", "Handler", "MqttEndpoint", "MqttLink", "one_at_a_time", "parse_mqtt_url"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MqttEndpoint:
    host: str
    port: int


def parse_mqtt_url(url: str) -> MqttEndpoint:
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"expected mqtt://host:port, got {url!r}")
    return MqttEndpoint(parts.hostname, parts.port or 1883)


Handler = Callable[[str, bytes | bytearray], object]
"""Applies one message (topic, payload)."""
BatchHandler = Callable[[Sequence[tuple[str, bytes | bytearray]]], object]
"""Applies a batch of messages (topic, payload each), all durably, or raises."""


def one_at_a_time(handler: Handler) -> BatchHandler:
    """A batch handler that hands each message of the batch to `handler` in turn."""

    def handle(messages: Sequence[tuple[str, bytes | bytearray]]) -> None:
        for topic_, payload in messages:
            handler(topic_, payload)

    return handle


class MqttLink:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        username: str,
        password: str,
        client_id: str,
        share_group: str | None = None,
        on_connection_change: Callable[[bool], None] | None = None,
        *,
        batch_size: int = 500,
        batch_wait: float = 0.0,
    ) -> None:
        self._endpoint = endpoint
        self._username = username
        self._password = password
        self._client_id = client_id
        self._share_group = share_group
        self._on_connection_change = on_connection_change
        self._handler: BatchHandler | None = None
        self._batch_size = max(1, batch_size)
        self._batch_wait = max(0.0, batch_wait)
        self._queue: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue(maxsize=10_000)
        self._client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self.handled = 0

    def set_handler(self, handler: Handler) -> None:
        """Apply messages one at a time with `handler` (acknowledged per batch all the same)."""
        self._handler = one_at_a_time(handler)

    def set_batch_handler(self, handler: BatchHandler) -> None:
        self._handler = handler

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self, timeout: float = 10.0) -> None:
        if self._handler is None:
            raise RuntimeError("set_handler before start")
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        client.username_pw_set(self._username, self._password)
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        self._worker = threading.Thread(target=self._work, name="freshtap-ingest", daemon=True)
        self._worker.start()
        client.connect_async(self._endpoint.host, self._endpoint.port, keepalive=30)
        client.loop_start()
        if not self._subscribed.wait(timeout):
            raise TimeoutError(f"could not connect and subscribe to {self._endpoint} in {timeout}s")

    def stop(self) -> None:
        self._stopping.set()
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=10)
        self._client = None
        self._worker = None

    def publish(self, fridge_id: str, channel: Channel, payload: bytes, *, retain: bool) -> None:
        if self._client is None:
            raise RuntimeError("the MQTT link is not started")
        info = self._client.publish(topic(fridge_id, channel), payload, qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("publish to %s/%s failed: %s", fridge_id, channel.value, mqtt.error_string(info.rc))

    # -- paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode, _props: object
    ) -> None:
        if reason.is_failure:
            log.error("MQTT connect refused: %s", reason)
            return
        self._connected.set()
        if self._on_connection_change:
            self._on_connection_change(True)
        filters = [
            (subscription_filter(channel, share_group=self._share_group), 1) for channel in sorted(DEVICE_TO_SERVER)
        ]
        client.subscribe(filters)

    def _on_subscribe(
        self, _client: mqtt.Client, _userdata: object, _mid: int, reasons: list[ReasonCode], _props: object
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error("the broker refused a subscription: %s", reasons)
            return
        self._subscribed.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode, _props: object
    ) -> None:
        self._connected.clear()
        if self._on_connection_change:
            self._on_connection_change(False)
        log.info("MQTT link disconnected: %s", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        self._queue.put(message)

    # -- worker ----------------------------------------------------------------------------

    def _handle_with_retry(self, handler: BatchHandler, batch: list[mqtt.MQTTMessage]) -> bool:
        """Hand one batch over until it is stored; False if the link stops first.

        A store that is down must not turn into acknowledged, lost messages, so the batch is kept
        (unacknowledged, in order) and retried with capped backoff. The handler is idempotent per
        `(fridge_id, seq)`, so what a failed try did commit is recognised on the next.
        """
        messages = [(m.topic, m.payload) for m in batch]
        delay = 0.1
        while True:
            try:
                handler(messages)
                return True
            except Exception:
                log.exception("ingest failed for a batch of %d messages; retrying in %.1fs", len(batch), delay)
            if self._stopping.wait(delay):
                return False
            delay = min(delay * 2, 10.0)

    def _next_batch(self) -> tuple[list[mqtt.MQTTMessage], bool]:
        """The next batch (blocks for its first message) and whether the link is stopping."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline: float | None = None
        while len(batch) < self._batch_size:
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                if self._batch_wait <= 0:
                    break
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self._batch_wait
                if now >= deadline:
                    break
                try:
                    message = self._queue.get(timeout=deadline - now)
                except queue.Empty:
                    break
            if message is None:
                return batch, True
            batch.append(message)
        return batch, False

    def _work(self) -> None:
        while True:
            batch, stopping = self._next_batch()
            if batch:
                handler = self._handler
                assert handler is not None
                if not self._handle_with_retry(handler, batch):
                    return
                self.handled += len(batch)
                client = self._client
                if client is not None:
                    for message in batch:  # only now: the batch is committed
                        if message.qos > 0:
                            client.ack(message.mid, message.qos)
            if stopping:
                return
