"""The fridge's one MQTT connection to the broker (paho-mqtt 2.x, MQTT 3.1.1), fed from an on-disk queue.

`Uplink` keeps paho inside this module: the rest of the agent hands it contract messages to
publish and receives validated `OffersMessage` / `NoticeMessage` objects back.

- Identity: client id = fridge id, the fridge's own username and password, persistent session
  (`clean_session=False`).
- Presence: the last will is the retained `state` message `online: false` (QoS 1); every
  successful connect publishes the retained `state` `online: true`; a clean `stop()` publishes
  `online: false` itself, since a clean disconnect suppresses the will. `state` is not queued.
- Outbound: `publish` writes the message to the `Outbox` (the on-disk queue, in the caller's
  transaction if one is open) and returns; the uplink's worker thread sends queued messages in
  queue order, at most `max_inflight` unacknowledged at a time, and keeps each until it is safe
  to forget (below). Nothing is sent twice on one connection, and nothing unacknowledged
  is kept in paho between connections: each connection is a fresh paho client, and whatever is
  still queued when one ends is sent again from the queue on the next (the server applies each
  `seq` once). The queue's bounds and drop policy are in `outbox.py`.
- Server confirmations: a broker acknowledges a message before it has saved it (Mosquitto 2.0
  saves at its next autosave), so a broker crash can lose what was acknowledged. The freshtap
  server therefore says, on the `notices` topic, which seqs it has applied (a `notice` of kind
  `applied`, at most one a second per fridge); the uplink deletes a message when the server
  confirms it, and a message the broker acknowledged but the server has not confirmed stays in
  the queue and is sent again on the next connection. `confirmations` chooses when the broker's
  acknowledgement alone is enough: `"auto"` (default) until this fridge has received its first
  confirmation (remembered in the store), so an older server that never confirms leaves the
  queue as small as before; `"required"` never (wait for the server from the first message);
  `"off"` always. Once a fridge has seen a confirmation, a server downgraded to one that sends
  none makes the queue grow to its bounds (then telemetry is dropped and events refused): set
  `"off"` for such a server. `applied` notices are the uplink's own; `on_message` never sees them.
- Server handshake (`server_handshake=True`): when the broker reports no session for this
  fridge (`session present` = 0: the first connect, or a broker that lost its state), the
  server's subscriptions may be gone too, and a broker acknowledges and drops a message nobody
  subscribes to. So the queue is held until the server shows that it listens: a *live*
  (not retained-on-subscribe) `offers` or `notices` message, which the freshtap server sends
  whenever a fridge comes online. Meanwhile `state` `online: true` is re-announced with capped
  backoff. `handshake_timeout` (None: wait as long as it takes) lets a fridge whose server never
  answers send anyway.
- Inbound: subscribes to its own `offers` and `notices` topics (QoS 1) on every connect. Every
  message is checked with `contract.decode`; a bad one is logged and counted by reason, and no
  exception ever escapes into paho's network thread.
- Reconnect: capped exponential delay, `reconnect_min_delay * 2 ** (n - 1)` up to
  `reconnect_max_delay`, plus a random extra wait of up to `reconnect_jitter` times that delay,
  so a fleet that lost its broker at the same instant does not come back in lockstep.
- States: `OFFLINE` -> `CONNECTING` -> `ONLINE`, reported through `on_state` (called on the
  uplink's or paho's thread or the caller of `stop()`; keep it short and non-blocking).
- Threads: one worker per uplink (connects, sends, deletes acknowledged messages) and paho's
  network thread per connection. Lock order: the store's, then the uplink's; nothing holding
  the uplink's lock touches the store or calls into paho.
- The constructor does no work; `start()` returns at once; `stop()` and every wait take a timeout.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypeAlias

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

import freshtap
from freshtap.clock import Clock
from freshtap.contract import (
    CHANNEL_TYPE,
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
    applied_seqs,
    decode,
    encode,
    topic,
    validate_fridge_id,
)

from .broker_address import BrokerAddress, parse_mqtt_url
from .delivery import Delivery, DeliveryTracker
from .errors import QueueFull, UplinkError
from .outbox import DroppedMessage, Outbox

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

DeviceMessage: TypeAlias = TelemetryMessage | InventoryMessage | EventMessage
IncomingMessage: TypeAlias = OffersMessage | NoticeMessage

_SELECT_LIMIT = 1024  # FD_SETSIZE: paho's loop_start() network thread uses select()
_CHANNEL_OF_TYPE: dict[str, Channel] = {kind: channel for channel, kind in CHANNEL_TYPE.items()}
_SAFETY_WAKE = 1.0  # the worker re-checks its conditions at least this often
_CONFIRMED_STATE = "uplink.server_confirms"  # set once the server's first confirmation arrived


class ConnectionState(StrEnum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    ONLINE = "online"


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
    """Queued messages sent and awaiting their acknowledgement at once."""
    reconnect_min_delay: float = 1
    reconnect_max_delay: float = 60
    reconnect_jitter: float = 0.5
    connect_timeout: float = 10.0
    stop_timeout: float = 5.0
    server_handshake: bool = False
    """Hold the queue after a connect without a broker session until the server answers (module docstring)."""
    handshake_timeout: float | None = None
    """Send anyway after this many seconds without the server's answer; None waits for it."""
    confirmations: Literal["auto", "required", "off"] = "auto"
    """When a message may leave the queue on the broker's acknowledgement alone (module docstring)."""

    def __post_init__(self) -> None:
        validate_fridge_id(self.fridge_id)
        parse_mqtt_url(self.mqtt_url)
        if not 1 <= self.max_inflight < 65535:
            raise ValueError("need 1 <= max_inflight < 65535")
        if not 0 < self.reconnect_min_delay <= self.reconnect_max_delay:
            raise ValueError("need 0 < reconnect_min_delay <= reconnect_max_delay")
        if self.reconnect_jitter < 0:
            raise ValueError("reconnect_jitter must not be negative")
        if self.handshake_timeout is not None and self.handshake_timeout <= 0:
            raise ValueError("handshake_timeout must be positive (or None)")
        if self.confirmations not in ("auto", "required", "off"):
            raise ValueError("confirmations must be 'auto', 'required' or 'off'")


@dataclass(frozen=True)
class UplinkStats:
    published: int
    """Queued messages handed to the broker connection (a resend after a reconnect counts again)."""
    acknowledged: int
    dropped: int
    """Messages the queue's drop policy removed since `start()` (see `dropped_by_type` for the device's life)."""
    received: int
    rejected: Mapping[str, int]
    """Incoming messages refused, by `ContractViolation.reason` (or `unexpected_topic`)."""
    handler_errors: int
    connects: int
    connection_losses: int
    subscribe_denied: int
    queued: int = 0
    """Messages waiting in the on-disk queue (sent but unacknowledged ones included)."""
    queued_bytes: int = 0
    dropped_by_type: Mapping[str, int] = field(default_factory=dict)
    server_waits: int = 0
    """Connections on which the queue was held for the server handshake."""
    publish_errors: int = 0
    confirmed: int = 0
    """Queued messages deleted because the server confirmed them."""
    unconfirmed: int = 0
    """Messages the broker acknowledged on this connection that wait for the server's confirmation."""
    waits_for_server: bool = False
    """Whether acknowledged messages stay queued until the server confirms them (module docstring)."""


@dataclass(eq=False)
class _Connection:
    """One paho client, from CONNECT to its end; never reused."""

    client: mqtt.Client
    online: bool = False
    was_online: bool = False
    ended: bool = False
    ready: bool = False
    """The queue may be sent on this connection (handshake done, or not needed)."""
    cursor: int = 0
    """The highest queue id handed to this connection."""
    handed: dict[int, int] = field(default_factory=dict)
    """paho mid -> queue id of sent, unacknowledged queue messages."""
    direct: dict[int, Delivery] = field(default_factory=dict)
    """paho mid -> delivery of `state` messages."""
    early: set[int] = field(default_factory=set)
    """Acknowledged mids whose publisher has not registered them yet."""
    announce_delay: float = 0.0
    next_announce: float = 0.0
    handshake_deadline: float | None = None


class Uplink:
    """One fridge's MQTT session; see the module docstring."""

    def __init__(
        self,
        config: UplinkConfig,
        clock: Clock,
        *,
        outbox: Outbox,
        on_message: Callable[[IncomingMessage], None] | None = None,
        on_state: Callable[[ConnectionState], None] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._outbox = outbox
        self._on_message = on_message
        self._on_state = on_state
        self._address: BrokerAddress = parse_mqtt_url(config.mqtt_url)
        self._rng = random.Random()  # jitter must differ between fridges, so not seeded
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._state = ConnectionState.OFFLINE
        self._online = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._conn: _Connection | None = None
        self._last_error: str | None = None
        self._last_queued = 0
        self._acked: list[int] = []
        self._confirmed: list[tuple[int, int]] = []
        """Seq ranges the server confirmed, for the worker to delete."""
        self._unconfirmed: set[int] = set()
        """Queue ids acknowledged by the broker on this connection and kept for the server's confirmation."""
        self._waits_for_server = config.confirmations == "required"
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
            return self._worker is not None

    @property
    def server_ready(self) -> bool:
        """Online, and the queue may be sent (the server handshake, if any, is done)."""
        with self._lock:
            return self._conn is not None and self._conn.online and self._conn.ready

    def stats(self) -> UplinkStats:
        queued, queued_bytes = self._outbox.depth() if self._outbox.store.is_open else (0, 0)
        by_type = self._outbox.dropped_totals() if self._outbox.store.is_open else {}
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
                queued=queued,
                queued_bytes=queued_bytes,
                dropped_by_type=by_type,
                server_waits=c["server_waits"],
                publish_errors=c["publish_errors"],
                confirmed=c["confirmed"],
                unconfirmed=len(self._unconfirmed),
                waits_for_server=self._waits_for_server,
            )

    def start(self) -> None:
        """Begin connecting in the background; returns at once. Idempotent. The outbox's store must be open."""
        last = self._outbox.last_id()
        mode = self._config.confirmations
        waits = mode == "required" or (mode == "auto" and bool(self._outbox.store.get_state(_CONFIRMED_STATE)))
        with self._lock:
            if self._worker is not None:
                return
            self._stopping.clear()
            self._last_queued = last
            self._waits_for_server = waits
            worker = threading.Thread(target=self._run, name=f"uplink-{self.fridge_id}", daemon=True)
            self._worker = worker
        worker.start()

    def stop(self, timeout: float | None = None) -> None:
        """Say `online: false`, disconnect cleanly and end the worker, within `timeout`.

        Queued messages stay on disk for the next start.
        """
        budget = self._config.stop_timeout if timeout is None else timeout
        began = time.monotonic()
        with self._lock:
            worker, conn = self._worker, self._conn
            if worker is None or self._stopping.is_set():
                return  # not started, or another thread is already stopping it
            self._stopping.set()
            self._wake.notify_all()
            online = conn is not None and conn.online
        if conn is not None:
            if online:
                try:
                    goodbye = self._publish_state(conn, online=False)
                    goodbye.wait(budget / 2)
                except UplinkError as exc:
                    log.warning("%s: could not say offline before stopping: %s", self.fridge_id, exc)
            conn.client.disconnect()
        worker.join(max(0.0, budget - (time.monotonic() - began)))
        if worker.is_alive():
            log.warning("%s: the uplink's worker did not end within %.1fs", self.fridge_id, budget)
        with self._lock:
            self._worker = None
        self._online.clear()
        self._set_state(ConnectionState.OFFLINE)

    def wait_online(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until the broker accepted the connection."""
        return self._online.wait(timeout)

    def wait_drained(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until the broker acknowledged every queued message.

        Messages kept for the server's confirmation count as drained; `wait_confirmed` waits for those too.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self._outbox.depth()[0] == 0:
                return True
            ids = self._outbox.ids()
            with self._lock:
                if ids <= self._unconfirmed:
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._wake:
                self._wake.wait(min(remaining, 0.2))

    def wait_confirmed(self, timeout: float) -> bool:
        """Block up to `timeout` seconds until the queue is empty: every message confirmed (or acknowledged,
        when the broker's acknowledgement is enough)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._outbox.depth()[0] == 0:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._wake:
                self._wake.wait(min(remaining, 0.2))

    def publish(self, message: DeviceMessage, qos: int = 1) -> Delivery:
        """Queue one of this fridge's device -> server messages on disk; it is sent as given.

        Inside a store transaction the message is sent only once that transaction commits.
        Raises `UplinkError` when not started or when the message is not this fridge's to send,
        `QueueFull` when the drop policy may not make room, `ValueError` when it is over the size
        limit. A telemetry message the queue had no room for comes back as a dropped `Delivery`.
        """
        if message.fridge_id != self.fridge_id:
            raise UplinkError(f"message of fridge {message.fridge_id!r} on the uplink of {self.fridge_id!r}")
        if not isinstance(message, TelemetryMessage | InventoryMessage | EventMessage):
            raise UplinkError(f"a fridge does not queue {getattr(message, 'type', message)!r} messages")
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        if not self.running or not self._outbox.store.is_open:
            raise UplinkError("uplink is not started")
        payload = encode(message)
        with self._outbox.store.transaction() as txn:
            row_id = self._outbox.put(
                seq=message.seq,
                type=message.type,
                qos=qos,
                payload=payload,
                now=self._clock.now(),
                in_flight=self._in_flight(),
                on_drop=self._dropped,
            )
            if row_id is None:
                self._count("dropped")
                return Delivery(0, "dropped")
            delivery = self._tracker.register(row_id)
            queued = row_id
            txn.after_commit(lambda: self._queued(queued))
            txn.after_rollback(lambda: self._tracker.drop(queued))
        return delivery

    # ---- the worker ----------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            if attempt:
                cfg = self._config
                delay = min(cfg.reconnect_min_delay * 2 ** min(attempt - 1, 30), cfg.reconnect_max_delay)
                delay += self._rng.uniform(0, cfg.reconnect_jitter * delay)
                if self._stopping.wait(delay):
                    break
            try:
                conn = self._open()
            except Exception:  # e.g. a clock that cannot tell the time yet: log it, try again later
                log.exception("%s: could not start a connection", self.fridge_id)
                self._count("handler_errors")
                with self._lock:
                    self._conn = None
                self._set_state(ConnectionState.OFFLINE)
                conn = None
            if conn is None:
                attempt += 1
                continue
            try:
                self._pump(conn)
            except Exception:
                log.exception("%s: the uplink's worker failed; reconnecting", self.fridge_id)
                self._count("handler_errors")
                conn.client.disconnect()
            self._close(conn)
            attempt = 1 if conn.was_online else attempt + 1
        self._flush_acks()

    def _open(self) -> _Connection | None:
        client = self._make_client()
        conn = _Connection(client)
        with self._lock:
            self._conn = conn
            self._unconfirmed.clear()  # sent again on this connection, acknowledged again
        self._set_state(ConnectionState.CONNECTING)
        self._set_will(client)  # so the will's `at` is the time of this connection
        try:
            client.connect(self._address.host, self._address.port, keepalive=self._config.keepalive)
        except (OSError, ValueError) as exc:
            with self._lock:
                self._last_error = f"connection attempt failed: {exc}"
                self._conn = None
            self._set_state(ConnectionState.OFFLINE)
            return None
        if self._stopping.is_set():
            client.disconnect()
        client.loop_start()
        return conn

    def _close(self, conn: _Connection) -> None:
        conn.client.loop_stop()  # the connection has ended, so paho's thread is ending too
        with self._lock:
            if self._conn is conn:
                self._conn = None
            conn.online = False
        self._online.clear()
        self._set_state(ConnectionState.OFFLINE)

    def _pump(self, conn: _Connection) -> None:
        cfg = self._config
        while True:
            self._flush_acks()
            announce = send = False
            with self._wake:
                while True:
                    if conn.ended or self._stopping.is_set():
                        return
                    now = time.monotonic()
                    waiting = conn.online and not conn.ready
                    if waiting and conn.handshake_deadline is not None and now >= conn.handshake_deadline:
                        log.warning("%s: no answer from the server; sending the queue anyway", self.fridge_id)
                        conn.ready, waiting = True, False
                    announce = waiting and now >= conn.next_announce
                    send = (
                        conn.online
                        and conn.ready
                        and len(conn.handed) < cfg.max_inflight
                        and self._last_queued > conn.cursor
                    )
                    if announce or send or self._acked or self._confirmed:
                        break
                    timeout = min(_SAFETY_WAKE, conn.next_announce - now) if waiting else _SAFETY_WAKE
                    self._wake.wait(max(timeout, 0.01))
            if announce:
                self._publish_state(conn, online=True)
                with self._lock:
                    conn.next_announce = time.monotonic() + conn.announce_delay
                    conn.announce_delay = min(conn.announce_delay * 2, cfg.reconnect_max_delay)
            if send:
                self._send_batch(conn)

    def _send_batch(self, conn: _Connection) -> None:
        with self._lock:
            room = self._config.max_inflight - len(conn.handed)
            cursor, known = conn.cursor, self._last_queued
        rows = self._outbox.after(cursor, room)
        if not rows:
            with self._lock:  # everything up to `known` was dropped or acknowledged meanwhile
                conn.cursor = max(conn.cursor, known)
            return
        for row in rows:
            with self._lock:
                if conn.ended or not conn.online or self._stopping.is_set():
                    return
            channel = _CHANNEL_OF_TYPE[row.type]
            info = conn.client.publish(topic(self.fridge_id, channel), row.payload, qos=row.qos)
            if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                return  # the connection is going; the next one sends it again
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._count("publish_errors")
                log.error("%s: publish failed: %s", self.fridge_id, mqtt.error_string(info.rc))
                return
            self._register(conn, info.mid, row.id)
            with self._lock:
                conn.cursor = row.id
            self._count("published")

    def _flush_acks(self) -> None:
        with self._lock:
            acked, self._acked = self._acked, []
            confirmed, self._confirmed = self._confirmed, []
            if acked and self._waits_for_server:
                self._unconfirmed.update(acked)  # kept until the server confirms them
                acked = []
        if not acked and not confirmed:
            return
        try:
            if acked:
                self._outbox.delete(acked)
            if confirmed:
                self._apply_confirmations(confirmed)
        except Exception:
            # They stay on disk and are sent again after the next connect; the server dedups.
            log.exception("%s: could not delete %d acknowledged messages", self.fridge_id, len(acked) + len(confirmed))
        with self._wake:
            self._wake.notify_all()

    def _apply_confirmations(self, ranges: list[tuple[int, int]]) -> None:
        gone = self._outbox.confirm(ranges)
        self._count("confirmed", gone)
        if self._config.confirmations == "auto" and not self._waits_for_server:
            self._outbox.store.put_state(_CONFIRMED_STATE, True)
            log.info("%s: the server confirms what it applied; messages now wait for its confirmation", self.fridge_id)
        left = self._outbox.ids()
        with self._lock:
            if self._config.confirmations != "off":
                self._waits_for_server = True
            self._unconfirmed &= left

    # ---- queue bookkeeping ---------------------------------------------------------------

    def _in_flight(self) -> set[int]:
        with self._lock:
            return set(self._conn.handed.values()) if self._conn is not None else set()

    def _queued(self, row_id: int) -> None:
        with self._wake:
            self._last_queued = max(self._last_queued, row_id)
            self._wake.notify_all()

    def _dropped(self, dropped: Sequence[DroppedMessage]) -> None:
        for message in dropped:
            self._tracker.drop(message.id)
            log.info("%s: queue full, dropped %s seq %s", self.fridge_id, message.type, message.seq)
        self._count("dropped", len(dropped))

    def _register(self, conn: _Connection, mid: int, target: int | Delivery) -> None:
        """Remember what `mid` carries, or settle it now if its acknowledgement came first."""
        with self._wake:
            if mid in conn.early:
                conn.early.discard(mid)
            else:
                if isinstance(target, Delivery):
                    conn.direct[mid] = target
                else:
                    conn.handed[mid] = target
                return
        self._settle(target)

    def _settle(self, target: int | Delivery) -> None:
        if isinstance(target, Delivery):
            target._settle("acknowledged")
            return
        self._count("acknowledged")
        self._tracker.acknowledge(target)
        with self._wake:
            self._acked.append(target)
            self._wake.notify_all()

    # ---- paho plumbing -------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        cfg = self._config
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=cfg.fridge_id,
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
            reconnect_on_failure=False,
        )
        client.username_pw_set(cfg.username, cfg.password)
        client.max_inflight_messages_set(cfg.max_inflight + 2)  # the queue's window plus `state`
        client.connect_timeout = cfg.connect_timeout
        client.on_connect = self._handle_connect
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

    def _publish_state(self, conn: _Connection, *, online: bool) -> Delivery:
        payload = encode(self._state_message(online=online))
        info = conn.client.publish(topic(self.fridge_id, Channel.STATE), payload, qos=1, retain=True)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise UplinkError(f"publish failed: {mqtt.error_string(info.rc)}")
        delivery = Delivery(-1)
        self._register(conn, info.mid, delivery)
        return delivery

    def _connection_of(self, client: mqtt.Client) -> _Connection | None:
        with self._lock:
            conn = self._conn
        return conn if conn is not None and conn.client is client else None

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
        conn = self._connection_of(client)
        if conn is None:
            return
        try:
            if reason.is_failure:
                log.warning("%s: broker refused the connection: %s", self.fridge_id, reason)
                with self._wake:
                    self._last_error = f"refused: {reason}"
                    conn.ended = True
                    self._wake.notify_all()
                self._set_state(ConnectionState.OFFLINE)
                return
            cfg = self._config
            hold = cfg.server_handshake and not flags.session_present
            with self._wake:
                self._last_error = None
                conn.online = conn.was_online = True
                conn.ready = not hold
                if hold:
                    conn.announce_delay = cfg.reconnect_min_delay
                    conn.next_announce = time.monotonic() + conn.announce_delay
                    if cfg.handshake_timeout is not None:
                        conn.handshake_deadline = time.monotonic() + cfg.handshake_timeout
                self._wake.notify_all()
            self._count("connects")
            if hold:
                self._count("server_waits")
                log.info("%s: the broker has no session for us; holding the queue until the server answers",
                         self.fridge_id)
            client.subscribe([(topic(self.fridge_id, channel), 1) for channel in sorted(SERVER_TO_DEVICE)])
            self._publish_state(conn, online=True)
            self._online.set()
            self._set_state(ConnectionState.ONLINE)
        except Exception:
            log.exception("%s: error while handling CONNACK", self.fridge_id)
            self._count("handler_errors")

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        conn = self._connection_of(client)
        if conn is None:
            return
        with self._wake:
            was_online = conn.online
            conn.online = False
            conn.ended = True
            if was_online and not self._stopping.is_set():
                self._last_error = f"connection lost: {reason}"
            self._wake.notify_all()
        self._online.clear()
        if was_online and not self._stopping.is_set():
            self._count("connection_losses")
            log.info("%s: connection lost (%s); reconnecting", self.fridge_id, reason)
        self._set_state(ConnectionState.OFFLINE)

    def _handle_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, properties: Any
    ) -> None:
        conn = self._connection_of(client)
        if conn is None:
            return
        with self._lock:
            target: int | Delivery | None = conn.handed.pop(mid, None)
            if target is None:
                target = conn.direct.pop(mid, None)
            if target is None:
                conn.early.add(mid)
                return
        self._settle(target)

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
        if not msg.retain:
            self._server_answered(client)
        if isinstance(message, NoticeMessage) and message.body.kind == "applied":
            self._server_confirmed(message)
            return
        if self._on_message is None:
            return
        try:
            self._on_message(message)
        except Exception:
            self._count("handler_errors")
            log.exception("%s: message handler failed on %s", self.fridge_id, msg.topic)

    def _server_confirmed(self, notice: NoticeMessage) -> None:
        try:
            ranges = applied_seqs(notice)
        except ContractViolation as exc:
            self._reject(exc.reason, f"notices: {exc.detail}")
            return
        with self._wake:
            self._confirmed.extend(ranges)
            self._wake.notify_all()

    def _server_answered(self, client: mqtt.Client) -> None:
        conn = self._connection_of(client)
        if conn is None:
            return
        with self._wake:
            if conn.ready or not conn.online:
                return
            conn.ready = True
            self._wake.notify_all()
        log.info("%s: the server answered; sending the queue", self.fridge_id)

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
