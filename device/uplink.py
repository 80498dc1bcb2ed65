"""The fridge's one MQTT connection to the broker (paho-mqtt 2.x, MQTT 3.1.1).

`Uplink` keeps paho inside this module: the rest of the agent hands it contract messages to
publish and receives validated `OffersMessage` / `NoticeMessage` objects back.

- Identity: client id = fridge id, the fridge's own username and password, persistent session
  (`clean_session=False`).
- Presence: the last will is the retained `state` message `online: false` (QoS 1); every
  successful connect publishes the retained `state` `online: true`; a clean `stop()` publishes
  `online: false` itself, since a clean disconnect suppresses the will.
- Inbound: subscribes to its own `offers` and `notices` topics (QoS 1) on every connect. Every
  message is checked with `contract.decode`; a bad one is logged and counted by reason, and no
  exception ever escapes into paho's network thread.
- Outbound: QoS 1 with a bounded in-flight window; while offline, QoS 1 messages wait in a
  bounded in-memory queue (`QueueFull` when it is full) and QoS 0 messages are dropped and counted.
- Reconnect: paho's capped exponential delay (`reconnect_delay_set`) plus a random extra wait
  of up to `reconnect_jitter` times that delay before each retry, so a fleet that lost its broker
  at the same instant does not come back in lockstep.
- States: `OFFLINE` -> `CONNECTING` -> `ONLINE`, reported through `on_state` (called on paho's
  thread or the caller of `stop()`; keep it short and non-blocking).
- The constructor does no work; `start()` returns at once (connecting happens in the
  background); `stop()` and every wait take a timeout.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeAlias

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

import freshtap
from freshtap.clock import Clock
from freshtap.contract import (
    CHANNEL_TYPE,
    DEVICE_TO_SERVER,
    SERVER_TO_DEVICE,
    Channel,
    ContractViolation,
    EventMessage,
    InventoryMessage,
    NoticeMessage,
    OffersMessage,
    StateBody,
    StateMessage,
    TelemetryMessage,
    decode,
    encode,
    topic,
    validate_fridge_id,
)

from .broker_address import BrokerAddress, parse_mqtt_url
from .delivery import Delivery, DeliveryTracker

__all__ = [
    "ConnectionState",
    "DeviceMessage",
    "IncomingMessage",
    "QueueFull",
    "Uplink",
    "UplinkConfig",
    "UplinkError",
    "UplinkStats",
]

log = logging.getLogger(__name__)

DeviceMessage: TypeAlias = StateMessage | TelemetryMessage | InventoryMessage | EventMessage
IncomingMessage: TypeAlias = OffersMessage | NoticeMessage

_SELECT_LIMIT = 1024  # FD_SETSIZE: paho's loop_start() network thread uses select()
_CHANNEL_OF_TYPE: dict[str, Channel] = {kind: channel for channel, kind in CHANNEL_TYPE.items()}


class ConnectionState(StrEnum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    ONLINE = "online"


class UplinkError(RuntimeError):
    """The uplink cannot take this publish (not started, or not a message this fridge may send)."""


class QueueFull(UplinkError):
    """The offline queue is full; the message was not taken."""


@dataclass(frozen=True)
class UplinkConfig:
    fridge_id: str
    username: str
    password: str
    mqtt_url: str
    model: str | None = None
    firmware: str | None = None
    keepalive: int = 30
    max_inflight: int = 20
    """QoS 1 messages awaiting PUBACK at once; further ones wait in the queue."""
    max_queued: int = 1000
    """QoS 1 messages held (in flight plus waiting) before `publish` raises `QueueFull`."""
    reconnect_min_delay: int = 1
    reconnect_max_delay: int = 60
    reconnect_jitter: float = 0.5
    connect_timeout: float = 10.0
    stop_timeout: float = 5.0

    def __post_init__(self) -> None:
        validate_fridge_id(self.fridge_id)
        parse_mqtt_url(self.mqtt_url)
        if not 1 <= self.max_inflight < 65535 or self.max_queued < self.max_inflight:
            raise ValueError("need 1 <= max_inflight < 65535 and max_queued >= max_inflight")
        if not 0 < self.reconnect_min_delay <= self.reconnect_max_delay:
            raise ValueError("need 0 < reconnect_min_delay <= reconnect_max_delay")
        if self.reconnect_jitter < 0:
            raise ValueError("reconnect_jitter must not be negative")


@dataclass(frozen=True)
class UplinkStats:
    published: int
    acknowledged: int
    dropped: int
    """QoS 0 messages that found no connection."""
    received: int
    rejected: Mapping[str, int]
    """Incoming messages refused, by `ContractViolation.reason` (or `unexpected_topic`)."""
    handler_errors: int
    connects: int
    connection_losses: int
    subscribe_denied: int


class Uplink:
    """One fridge's MQTT session; see the module docstring."""

    def __init__(
        self,
        config: UplinkConfig,
        clock: Clock,
        *,
        on_message: Callable[[IncomingMessage], None] | None = None,
        on_state: Callable[[ConnectionState], None] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_message = on_message
        self._on_state = on_state
        self._address: BrokerAddress = parse_mqtt_url(config.mqtt_url)
        self._rng = random.Random()  # jitter must differ between fridges, so not seeded
        self._lock = threading.Lock()
        self._state = ConnectionState.OFFLINE
        self._online = threading.Event()
        self._stopping = threading.Event()
        self._client: mqtt.Client | None = None
        self._attempt = 0
        self._last_error: str | None = None
        self._tracker = DeliveryTracker()
        self._counts: Counter[str] = Counter()
        self._rejected: Counter[str] = Counter()

    # ---- public surface ------------------------------------------------------------------

    @property
    def fridge_id(self) -> str:
        return self._config.fridge_id

    @property
    def state(self) -> ConnectionState:
        with self._lock:
            return self._state

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed or the last connection ended, if it did."""
        with self._lock:
            return self._last_error

    @property
    def running(self) -> bool:
        with self._lock:
            return self._client is not None

    def stats(self) -> UplinkStats:
        with self._lock:
            c = self._counts
            return UplinkStats(
                published=c["published"],
                acknowledged=c["acknowledged"],
                dropped=c["dropped"],
                received=c["received"],
                rejected=dict(self._rejected),
                handler_errors=c["handler_errors"],
                connects=c["connects"],
                connection_losses=c["connection_losses"],
                subscribe_denied=c["subscribe_denied"],
            )

    def start(self) -> None:
        """Begin connecting in the background; returns at once. Idempotent."""
        with self._lock:
            if self._client is not None:
                return
            self._stopping.clear()
            self._attempt = 0
            client = self._make_client()
            self._client = client
        self._set_state(ConnectionState.CONNECTING)
        client.connect_async(self._address.host, self._address.port, keepalive=self._config.keepalive)
        client.loop_start()

    def stop(self, timeout: float | None = None) -> None:
        """Say `online: false`, disconnect cleanly and end the network thread, within `timeout`."""
        budget = self._config.stop_timeout if timeout is None else timeout
        with self._lock:
            client = self._client
            if client is None or self._stopping.is_set():
                return  # not started, or another thread is already stopping it
            self._stopping.set()
        if self._online.is_set():
            try:
                goodbye = self._publish_on(client, self._state_message(online=False), qos=1)
                goodbye.wait(budget / 2)
            except UplinkError as exc:
                log.warning("%s: could not say offline before stopping: %s", self.fridge_id, exc)
        client.disconnect()
        # loop_stop() joins paho's thread without a timeout; join through a helper so a thread
        # stuck in DNS or a connect attempt cannot hang the caller.
        joiner = threading.Thread(target=client.loop_stop, name=f"uplink-stop-{self.fridge_id}", daemon=True)
        joiner.start()
        joiner.join(budget / 2)
        if joiner.is_alive():
            log.warning("%s: network thread did not end within %.1fs", self.fridge_id, budget / 2)
        with self._lock:
            self._client = None
        self._online.clear()
        self._tracker.clear()
        self._set_state(ConnectionState.OFFLINE)

    def wait_online(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until the broker accepted the connection."""
        return self._online.wait(timeout)

    def publish(self, message: DeviceMessage, qos: int = 1) -> Delivery:
        """Queue one of this fridge's device -> server messages; it is sent as given.

        Raises `UplinkError` when not started or when the message is not this fridge's to send,
        `QueueFull` when the offline queue is full, `ValueError` when it is over the size limit.
        """
        if message.fridge_id != self.fridge_id:
            raise UplinkError(f"message of fridge {message.fridge_id!r} on the uplink of {self.fridge_id!r}")
        with self._lock:
            client = self._client
        if client is None:
            raise UplinkError("uplink is not started")
        return self._publish_on(client, message, qos=qos)

    # ---- paho plumbing -------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        cfg = self._config
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=cfg.fridge_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=True,
        )
        client.username_pw_set(cfg.username, cfg.password)
        client.max_inflight_messages_set(cfg.max_inflight)
        client.max_queued_messages_set(cfg.max_queued)
        client.reconnect_delay_set(cfg.reconnect_min_delay, cfg.reconnect_max_delay)
        client.connect_timeout = cfg.connect_timeout
        self._set_will(client)
        client.on_pre_connect = self._handle_pre_connect
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_publish = self._handle_publish
        client.on_subscribe = self._handle_subscribe
        client.on_socket_open = self._handle_socket_open
        return client

    def _state_message(self, *, online: bool) -> StateMessage:
        cfg = self._config
        return StateMessage(
            v=1,
            type="state",
            fridge_id=cfg.fridge_id,
            at=self._clock.now(),
            body=StateBody(
                online=online,
                model=cfg.model,
                firmware=cfg.firmware,
                agent=f"freshtap {freshtap.__version__}",
            ),
        )

    def _set_will(self, client: mqtt.Client) -> None:
        will = self._state_message(online=False)
        client.will_set(topic(self.fridge_id, Channel.STATE), encode(will), qos=1, retain=True)

    def _publish_on(self, client: mqtt.Client, message: DeviceMessage, *, qos: int) -> Delivery:
        channel = _CHANNEL_OF_TYPE[message.type]
        if channel not in DEVICE_TO_SERVER:  # pragma: no cover - DeviceMessage excludes it
            raise UplinkError(f"a fridge does not publish {message.type!r}")
        retain = channel is Channel.STATE
        info = client.publish(topic(self.fridge_id, channel), encode(message), qos=qos, retain=retain)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            raise QueueFull(f"{self.fridge_id}: {self._config.max_queued} messages already queued")
        if qos == 0 and info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            self._count("dropped")
            return Delivery(info.mid)  # never acknowledged
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise UplinkError(f"publish failed: {mqtt.error_string(info.rc)}")
        self._count("published")
        return self._tracker.register(info.mid)

    def _handle_pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        # Runs on paho's thread right before each connection attempt.
        if self._stopping.is_set():
            raise ConnectionAbortedError("uplink is stopping")  # an OSError: paho gives up quietly
        with self._lock:
            self._attempt += 1
            attempt = self._attempt
            retrying = attempt > 1 or self._counts["connects"] > 0
        if retrying:
            cfg = self._config
            delay = min(cfg.reconnect_min_delay * 2 ** min(attempt - 1, 30), cfg.reconnect_max_delay)
            if self._stopping.wait(self._rng.uniform(0, cfg.reconnect_jitter * delay)):
                raise ConnectionAbortedError("uplink is stopping")
        self._set_will(client)  # so the will's `at` is the time of this connection
        self._set_state(ConnectionState.CONNECTING)

    def _handle_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        # paho's threaded loop watches its socket with select(), blind to descriptors >= 1024: such
        # a connection would hang in CONNECTING forever. Say so instead of failing silently.
        if sock.fileno() >= _SELECT_LIMIT:
            with self._lock:
                self._last_error = f"socket descriptor {sock.fileno()} is beyond select()'s limit"
            log.error(
                "%s: socket descriptor %d >= %d; too many MQTT clients in one process for paho's loop",
                self.fridge_id, sock.fileno(), _SELECT_LIMIT,
            )

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        try:
            if reason.is_failure:
                log.warning("%s: broker refused the connection: %s", self.fridge_id, reason)
                with self._lock:
                    self._last_error = f"refused: {reason}"
                self._set_state(ConnectionState.OFFLINE)
                return
            with self._lock:
                self._attempt = 0
                self._last_error = None
            self._count("connects")
            client.subscribe([(topic(self.fridge_id, channel), 1) for channel in sorted(SERVER_TO_DEVICE)])
            self._publish_on(client, self._state_message(online=True), qos=1)
            self._online.set()
            self._set_state(ConnectionState.ONLINE)
        except Exception:
            log.exception("%s: error while handling CONNACK", self.fridge_id)
            self._count("handler_errors")

    def _handle_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        with self._lock:
            self._last_error = self._last_error or "connection attempt failed"
        self._set_state(ConnectionState.OFFLINE)

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        was_online = self._online.is_set()
        self._online.clear()
        if was_online and not self._stopping.is_set():
            self._count("connection_losses")
            with self._lock:
                self._last_error = f"connection lost: {reason}"
            log.info("%s: connection lost (%s); reconnecting", self.fridge_id, reason)
        self._set_state(ConnectionState.OFFLINE)

    def _handle_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, properties: Any
    ) -> None:
        self._count("acknowledged")
        self._tracker.acknowledge(mid)

    def _handle_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], properties: Any
    ) -> None:
        denied = [r for r in reasons if r.is_failure]
        if denied:
            self._count("subscribe_denied", len(denied))
            log.error("%s: broker denied %d subscription(s)", self.fridge_id, len(denied))

    def _handle_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._count("received")
        try:
            message = decode(msg.topic, msg.payload)
        except ContractViolation as exc:
            self._reject(exc.reason, f"{msg.topic}: {exc.detail}")
            return
        except Exception as exc:  # decode promises only ContractViolation; never trust that here
            self._reject("invalid", f"{msg.topic}: {exc!r}")
            return
        if message.fridge_id != self.fridge_id or not isinstance(message, OffersMessage | NoticeMessage):
            self._reject("unexpected_topic", msg.topic)
            return
        if self._on_message is None:
            return
        try:
            self._on_message(message)
        except Exception:
            self._count("handler_errors")
            log.exception("%s: message handler failed on %s", self.fridge_id, msg.topic)

    # ---- small helpers -------------------------------------------------------------------

    def _reject(self, reason: str, detail: str) -> None:
        with self._lock:
            self._rejected[reason] += 1
        log.warning("%s: rejected incoming message (%s): %s", self.fridge_id, reason, detail[:300])

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _set_state(self, state: ConnectionState) -> None:
        with self._lock:
            if self._state is state:
                return
            self._state = state
        if self._on_state is None:
            return
        try:
            self._on_state(state)
        except Exception:
            self._count("handler_errors")
            log.exception("%s: connection state handler failed", self.fridge_id)
