"""The server's MQTT link: paho-mqtt kept inside this module.

It subscribes to the device -> server channels of every fridge (as a shared subscription when a
share group is set), hands each message to a worker thread and acknowledges it (PUBACK) only
after the handler has stored it, so a message is never acknowledged and then lost. It is also
the `FridgePublisher` through which offers and notices go out.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from freshtap.contract import DEVICE_TO_SERVER, Channel, subscription_filter, topic

__all__ = ["MqttEndpoint", "MqttLink", "parse_mqtt_url"]

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


class MqttLink:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        username: str,
        password: str,
        client_id: str,
        share_group: str | None = None,
        on_connection_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._username = username
        self._password = password
        self._client_id = client_id
        self._share_group = share_group
        self._on_connection_change = on_connection_change
        self._handler: Handler | None = None
        self._queue: queue.Queue[mqtt.MQTTMessage | None] = queue.Queue(maxsize=10_000)
        self._client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self.handled = 0

    def set_handler(self, handler: Handler) -> None:
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

    def _handle_with_retry(self, handler: Handler, message: mqtt.MQTTMessage) -> bool:
        """Hand one message over until it is stored; False if the link stops first.

        A store that is down must not turn into an acknowledged, lost message, so the message is
        kept (unacknowledged, in order) and retried with capped backoff.
        """
        delay = 0.1
        while True:
            try:
                handler(message.topic, message.payload)
                return True
            except Exception:
                log.exception("ingest failed for a message on %s; retrying in %.1fs", message.topic, delay)
            if self._stopping.wait(delay):
                return False
            delay = min(delay * 2, 10.0)

    def _work(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            handler = self._handler
            assert handler is not None
            if not self._handle_with_retry(handler, message):
                return
            self.handled += 1
            if self._client is not None and message.qos > 0:
                self._client.ack(message.mid, message.qos)
