"""A bystander on the broker: records every fridge message, checked against the contract.

For tests and demos (the project's own and integrators'): it subscribes to every channel of every
fridge (or of one), decodes each message with `contract.decode` and keeps it — valid or not —
so a test can wait for what it expects instead of sleeping. It can also publish raw payloads,
standing in for the server (retained `offers`, say) or for a misbehaving client.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from freshtap.contract import Channel, ContractViolation, Message, decode, subscription_filter
from freshtap.device.broker_address import parse_mqtt_url

__all__ = ["BusObserver", "Observed"]


@dataclass(frozen=True)
class Observed:
    """One message seen on the broker; `message` is None when it broke the contract."""

    topic: str
    payload: bytes
    retained: bool
    message: Message | None
    violation: str | None


class BusObserver:
    def __init__(
        self,
        mqtt_url: str,
        *,
        fridge_id: str | None = None,
        channels: tuple[Channel, ...] = tuple(Channel),
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._address = parse_mqtt_url(mqtt_url)
        self._filters = [subscription_filter(channel, fridge_id) for channel in channels]
        self._username = username
        self._password = password
        self._seen: list[Observed] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self._client: mqtt.Client | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Connect and subscribe; returns once the broker confirmed the subscriptions."""
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"freshtap-observer-{uuid.uuid4().hex[:12]}",
            protocol=MQTTProtocolVersion.MQTTv311,
            clean_session=True,
        )
        if self._username is not None:
            client.username_pw_set(self._username, self._password)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        self._client = client
        client.connect_async(self._address.host, self._address.port, keepalive=30)
        client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise TimeoutError(f"observer did not subscribe at {self._address} within {timeout}s")

    def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def __enter__(self) -> BusObserver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def publish(self, topic_name: str, payload: bytes, *, retain: bool = False, timeout: float = 5.0) -> None:
        """Publish raw bytes at QoS 1 and wait for the broker's acknowledgement."""
        if self._client is None:
            raise RuntimeError("observer is not started")
        info = self._client.publish(topic_name, payload, qos=1, retain=retain)
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise TimeoutError(f"publish to {topic_name} not acknowledged within {timeout}s")

    @property
    def seen(self) -> list[Observed]:
        with self._changed:
            return list(self._seen)

    def messages(self, predicate: Callable[[Observed], bool] = lambda o: True) -> list[Observed]:
        with self._changed:
            return [o for o in self._seen if predicate(o)]

    def wait_for(self, predicate: Callable[[list[Observed]], bool], timeout: float) -> list[Observed]:
        """Block until `predicate(all seen so far)` holds; `TimeoutError` after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self._seen), timeout):
                raise TimeoutError(f"condition not met within {timeout}s; saw {len(self._seen)} messages")
            return list(self._seen)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            return
        if self._filters:
            client.subscribe([(f, 1) for f in self._filters])
        else:  # a publish-only observer (standing in for the server) is ready once connected
            self._subscribed.set()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], properties: Any
    ) -> None:
        if not any(r.is_failure for r in reasons):
            self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        message: Message | None
        try:
            message, violation = decode(msg.topic, msg.payload), None
        except ContractViolation as exc:
            message, violation = None, exc.reason
        observed = Observed(msg.topic, bytes(msg.payload), bool(msg.retain), message, violation)
        with self._changed:
            self._seen.append(observed)
            self._changed.notify_all()
