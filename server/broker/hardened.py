"""amqtt 0.12.1's `Broker` with the fixes the embedded broker needs, and its size-checking reader.

These lean on amqtt internals (private methods copied or wrapped from amqtt/broker.py at 0.12.1),
which is why pyproject pins amqtt exactly; re-read them against amqtt's source on any upgrade.

- **Authenticate before the session lookup.** Upstream looks up (and with clean_session deletes,
  without it rewrites the credentials of) the stored session of the CONNECT's client id, takes
  over a connected one, and only then asks the auth plugins. So a CONNECT with a wrong password
  and a connected client's id wiped that client's subscriptions and kicked it off. Here the
  fresh CONNECT is authenticated first and a refused one never touches any session.
- **A CONNECT deadline and a will check.** A socket that sends no complete CONNECT within
  `connect_timeout` is closed; a will the client may not publish refuses the CONNECT (upstream
  publishes wills without asking the topic plugins).
- **Retained messages only on SUBSCRIBE.** On every connect upstream sends the client the
  retained messages matching every filter that *any* client holds, so a fridge got other
  fridges' retained offers and states (the server's `+` filters match them all); and it iterates
  the live subscription dict across awaits, which fails when another client subscribes
  meanwhile. Here that replay is skipped (Mosquitto sends retained messages only on SUBSCRIBE
  too; what was published while a session was offline is queued for it anyway), and retained
  messages go only to a client that holds the filter.
- **Broadcasts that survive subscription churn.** Upstream's `_run_broadcast` iterates the live
  subscription dict (and each filter's subscriber list) across awaits; a client subscribing or
  leaving meanwhile raised "dictionary changed size during iteration" in a task nobody awaited,
  and the message was lost for every subscriber not yet served. The dict here hands out
  snapshots when iterated (`_SubscriptionTable`).
- **Acknowledged means delivered.** Upstream PUBACKs a message when its protocol handler queues
  it, and drops the queue when the client disconnects before the message loop took it: a
  publisher that sends and leaves lost up to half its acknowledged messages. The queue is now
  drained into the broadcast before the disconnect is handled.
- **A bounded offline queue** per persistent session, like Mosquitto's `max_queued_messages`,
  and for a connected fridge at most `max_inflight` unacknowledged QoS 1 messages on the wire
  with at most `max_queued` more waiting (`_OutboundLimitedHandler`); upstream had no bound.
- **Packet size limits** (`GuardedReader`): amqtt reads packets whole, up to 256 MB.
- **Publish quotas and bans** (`gatekeeper.py`): the reader holds a fridge's socket before each
  QoS 1 PUBLISH it may not send yet, a QoS 0 one over quota is dropped, a banned username is
  refused before its password is checked, and a fridge that reconnects in a loop is banned.
- **Session expiry on an injected clock.** Upstream expires sessions by wall time (and only when
  configured, so by default a persistent session of a fridge that never returns stays forever);
  here a session whose client has been away `session_expiry` seconds of the injected monotonic
  clock is deleted with its queue and subscriptions (`expire_sessions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from amqtt.adapters import ReaderAdapter, StreamReaderAdapter, WriterAdapter
from amqtt.broker import Broker
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.constants import QOS_0
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import Session

from freshtap.server.broker.framing import FrameGuard, FrameViolation
from freshtap.server.broker.gatekeeper import Banned, Gatekeeper
from freshtap.server.broker.plugins import PRINCIPAL_KEY, BrokerPolicy

__all__ = ["GuardedReader", "HardenedBroker"]

logger = logging.getLogger(__name__)

# Marks a session whose CONNECT was authenticated by `_initialize_client_session`, for the
# second, upstream `_authenticate` call in `_handle_client_session`.
_AUTHENTICATED_KEY = "freshtap.connect_authenticated"
# Marks a session between its connect and its message loop (see `_publish_session_retained_messages`).
_CONNECTING_KEY = "freshtap.connecting"


class _SubscriptionTable(dict[str, list[tuple[Session, int]]]):
    """amqtt's filter -> subscribers table, iterated as a snapshot so awaits in between are safe."""

    def __iter__(self) -> Any:
        return iter(list(super().keys()))

    def items(self) -> Any:
        return [(key, list(value)) for key, value in super().items()]


class GuardedReader(StreamReaderAdapter):  # type: ignore[misc]  # amqtt ships no type information
    """A TCP reader adapter that feeds a `FrameGuard` and ends the stream at the first violation.

    amqtt reads the fixed header and a PUBLISH's topic length in small reads before it asks for
    the body, so the guard sees the announced sizes before any large read is issued. A read that
    asks for more than a whole allowed packet is refused too, whatever the framing says. Ending
    the stream means raising `ConnectionResetError`, which amqtt treats as end of data: it closes
    the connection (sending the will, as for any abnormal disconnect).
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        guard: FrameGuard,
        on_violation: Callable[[FrameViolation], None],
        close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(reader)
        self._guard = guard
        self._on_violation = on_violation
        self._close = close
        self._failed = False
        self._gate: Gatekeeper | None = None
        self._username = ""
        self._held = 0  # QoS 1/2 PUBLISH packets already accounted for

    def limit(self, gate: Gatekeeper, username: str) -> None:
        """From now on, hold this fridge's QoS 1 publishes to its quota (set once it has authenticated)."""
        self._gate = gate
        self._username = username
        self._held = self._guard.acknowledged_publishes

    def admit(self) -> bool:
        """Whether a QoS 0 message this client sent may pass its quota; a flooder is disconnected."""
        if self._gate is None:
            return True
        try:
            return self._gate.admit(self._username)
        except Banned:
            self._failed = True
            if self._close is not None:
                self._close()  # the reader then sees the end of the stream: an abnormal disconnect
            return False

    async def read(self, n: int = -1) -> bytes:
        if self._failed:
            raise ConnectionResetError("stream closed after a size violation or a ban")
        if n < 0 or n > self._guard.max_packet:
            self._fail(FrameViolation("oversized", f"read of {n} bytes asked for"))
        data: bytes = await super().read(n)
        try:
            self._guard.feed(data)
        except FrameViolation as violation:
            self._fail(violation)
        if self._gate is not None and self._guard.acknowledged_publishes > self._held:
            await self._hold()
        return data

    async def _hold(self) -> None:
        # The first byte of a QoS 1 PUBLISH was just read: the message is not read (nor
        # acknowledged) until the fridge's quota allows it, so its socket backs up instead.
        assert self._gate is not None
        while self._held < self._guard.acknowledged_publishes:
            self._held += 1
            try:
                wait = self._gate.hold(self._username)
            except Banned:
                self._failed = True
                raise ConnectionResetError(f"{self._username} banned for flooding") from None
            if wait > 0:
                await asyncio.sleep(wait)

    def _fail(self, violation: FrameViolation) -> None:
        self._failed = True
        self._on_violation(violation)
        raise ConnectionResetError(str(violation))


class _OutboundLimitedHandler(BrokerProtocolHandler):  # type: ignore[misc]
    """amqtt's protocol handler with a bound on QoS 1/2 messages sent to a fridge and not yet acknowledged.

    Upstream sends every message at once, each in a task of its own waiting for its PUBACK, so a
    client that never acknowledges piles up tasks without end. Here at most `max_inflight` are
    on the wire; up to `max_queued` more wait their turn; beyond that a message is dropped
    (counted `queue_dropped`), as Mosquitto does with `max_inflight_messages` and
    `max_queued_messages`. `bound()` turns it on (for fridges; the server's session is unbounded).
    """

    _slots: asyncio.Semaphore | None = None
    _waiting = 0
    _max_waiting = 0
    _on_drop: Callable[[], None] | None = None

    def bound(self, max_inflight: int, max_queued: int, on_drop: Callable[[], None]) -> None:
        self._slots = asyncio.Semaphore(max_inflight)
        self._max_waiting = max_queued
        self._on_drop = on_drop

    async def mqtt_publish(
        self, topic: str, data: bytes | bytearray, qos: int | None, retain: bool, ack_timeout: int | None = None
    ) -> Any:
        slots = self._slots
        if slots is None or not qos:
            return await super().mqtt_publish(topic, data, qos, retain, ack_timeout)
        if slots.locked() and self._waiting >= self._max_waiting:
            if self._on_drop is not None:
                self._on_drop()
            logger.info("dropped a message to %s: its queue is full", topic)
            return None
        self._waiting += 1
        try:
            await slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await super().mqtt_publish(topic, data, qos, retain, ack_timeout)
        finally:
            slots.release()


class HardenedBroker(Broker):  # type: ignore[misc]
    """amqtt's broker, authenticating before the session lookup (see the module docstring)."""

    def __init__(
        self,
        config: dict[str, Any],
        *,
        policy: BrokerPolicy,
        connect_timeout: float,
        max_queued: int,
        gate: Gatekeeper | None = None,
        max_inflight: int = 20,
        session_expiry: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sweep_interval: float = 60.0,
    ) -> None:
        super().__init__(config)
        self._subscriptions: dict[str, list[tuple[Session, int]]] = _SubscriptionTable(self._subscriptions)
        self._policy = policy
        self._connect_timeout = connect_timeout
        self._max_queued = max_queued
        self._max_inflight = max_inflight
        self._gate = gate
        self._session_expiry = session_expiry
        self._monotonic = monotonic
        self._sweep_interval = sweep_interval
        self._away_since: dict[str, float] = {}  # client id -> when its persistent session went offline
        self._message_loops: dict[BrokerProtocolHandler, asyncio.Event] = {}

    async def _initialize_client_session(
        self,
        reader: ReaderAdapter,
        writer: WriterAdapter,
        remote_address: str,
        remote_port: int,
    ) -> tuple[BrokerProtocolHandler, Session]:
        # Replaces the upstream method: read the CONNECT, authenticate it, and only then look up
        # the stored session of its client id. The lookup below is upstream's, plus the take-over
        # and the will's retain flag, which upstream kept from the previous connection.
        peer = f"{remote_address}:{remote_port}"
        try:
            handler, incoming = await asyncio.wait_for(
                _OutboundLimitedHandler.init_from_connect(reader, writer, self.plugins_manager),
                timeout=self._connect_timeout,
            )
        except TimeoutError:
            self._policy.count("connect_timeout")
            await _close_quietly(writer)
            raise AMQTTError(f"no CONNECT from {peer} within {self._connect_timeout} s") from None
        except (AMQTTError, MQTTError, NoDataError):
            await _close_quietly(writer)
            raise

        gate = self._gate
        # A banned username is refused before any work on its credentials.
        banned = gate is not None and gate.connect_refused(incoming.username)
        authenticated = not banned and await super()._authenticate(incoming, self.listeners_config["default"])
        principal = incoming.attributes.get(PRINCIPAL_KEY)
        looping = (
            authenticated
            and gate is not None
            and principal.role == "fridge"
            and not gate.fridge_connected(principal.username)
        )
        if not authenticated or looping or not self._policy.will_allowed(incoming):
            with contextlib.suppress(OSError):  # the client may be gone already
                await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await _close_quietly(writer)
            raise MQTTError(f"refused CONNECT of client id {incoming.client_id!r} from {peer}")
        if gate is not None and principal.role == "fridge":
            if isinstance(reader, GuardedReader):
                reader.limit(gate, principal.username)
            handler.bound(self._max_inflight, self._max_queued, functools.partial(self._policy.count, "queue_dropped"))
        self._away_since.pop(incoming.client_id or "", None)

        # MQTT-3.1.4-2: a new connection with a connected client's id takes over. Upstream left
        # the old connection running, orphaned (clean session), or let its late disconnect mark
        # the shared session disconnected after the new one connected (persistent session).
        await self._take_over(incoming.client_id)
        client_session = incoming
        if incoming.clean_session:
            await self._delete_session(incoming.client_id or "")
            incoming.parent = 0
        elif incoming.client_id in self._sessions:
            client_session, _ = self._sessions[incoming.client_id]
            client_session.will_flag = incoming.will_flag
            client_session.will_message = incoming.will_message
            client_session.will_topic = incoming.will_topic
            client_session.will_qos = incoming.will_qos
            client_session.will_retain = incoming.will_retain
            client_session.keep_alive = incoming.keep_alive
            client_session.username = incoming.username
            client_session.password = incoming.password
            client_session.parent = 1
        else:
            incoming.parent = 0
        client_session.attributes[PRINCIPAL_KEY] = principal
        client_session.attributes[_AUTHENTICATED_KEY] = True

        timeout_disconnect_delay = self.config.get("timeout-disconnect-delay", 0)
        if client_session.keep_alive > 0 and isinstance(timeout_disconnect_delay, int):
            client_session.keep_alive += timeout_disconnect_delay
        return handler, client_session

    async def _handle_disconnect(
        self, client_session: Session, handler: BrokerProtocolHandler, disconnect_waiter: asyncio.Future[Any]
    ) -> None:
        # The protocol handler acknowledges a QoS 1 PUBLISH (PUBACK) as soon as it has queued it
        # for the message loop; upstream's loop then sees the disconnect first and drops whatever
        # is still queued: acknowledged messages, lost. Deliver them before the session ends.
        queue = client_session.delivered_message_queue
        while not queue.empty():
            delivered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            delivered.set_result(queue.get_nowait())
            await self._handle_message_delivery(client_session, handler, delivered)
        await super()._handle_disconnect(client_session, handler, disconnect_waiter)
        if client_session.client_id and not client_session.transitions.is_connected():
            self._away_since[client_session.client_id] = self._monotonic()

    async def _handle_message_delivery(
        self, client_session: Session, handler: BrokerProtocolHandler, wait_deliver: asyncio.Future[Any]
    ) -> bool:
        # A QoS 0 message of a fridge over its quota is dropped here (QoS 1 ones were held back
        # before they were read, see `GuardedReader`).
        message = wait_deliver.result()
        reader = handler.reader
        if message is not None and message.qos == QOS_0 and isinstance(reader, GuardedReader) and not reader.admit():
            return True
        result: bool = await super()._handle_message_delivery(client_session, handler, wait_deliver)
        return result

    # -- session expiry ----------------------------------------------------------------------------

    async def _session_monitor(self) -> None:
        # Replaces upstream's wall-clock monitor (see the module docstring).
        while True:
            try:
                await self.expire_sessions()
                if self._gate is not None:
                    self._gate.sweep()
            except Exception:
                logger.exception("expiring sessions failed")
            await asyncio.sleep(self._sweep_interval)

    async def expire_sessions(self) -> int:
        """Delete the sessions nobody will resume; return how many persistent ones expired.

        Clean and anonymous sessions go as soon as their client is gone (as upstream does); a
        persistent one once its client has been away `session_expiry` seconds.
        """
        now = self._monotonic()
        expired = 0
        for client_id, (session, _) in list(self._sessions.items()):
            if session.transitions.state != "disconnected":
                continue
            if session.is_anonymous or session.clean_session:
                await self._cleanup_session(client_id)
                self._away_since.pop(client_id, None)
                continue
            since = self._away_since.setdefault(client_id, now)
            if self._session_expiry is not None and now - since >= self._session_expiry:
                await self._cleanup_session(client_id)
                del self._away_since[client_id]
                self._policy.count("session_expired")
                logger.info("session of %r expired after %.0f s away", client_id, now - since)
                expired += 1
        for client_id in [c for c in self._away_since if c not in self._sessions]:
            del self._away_since[client_id]
        return expired

    async def _take_over(self, client_id: str | None) -> None:
        """Close the connection of `client_id`, if any, and wait until the broker has handled it."""
        session, handler = self._sessions.get(client_id or "", (None, None))
        if session is None or handler is None or not session.transitions.is_connected():
            return
        logger.info("client %r connected again; closing its previous connection", client_id)
        loop_ended = self._message_loops.get(handler)
        await handler.handle_connection_closed()
        await handler.stop()
        if loop_ended is not None:
            try:
                await asyncio.wait_for(loop_ended.wait(), timeout=self._connect_timeout)
            except TimeoutError:
                logger.warning("the previous connection of %r did not end in time", client_id)

    async def _client_message_loop(self, client_session: Session, handler: BrokerProtocolHandler) -> None:
        client_session.attributes.pop(_CONNECTING_KEY, None)
        # Lets `_take_over` wait until an old connection's disconnect has been fully handled.
        ended = self._message_loops[handler] = asyncio.Event()
        try:
            await super()._client_message_loop(client_session, handler)
        finally:
            ended.set()
            self._message_loops.pop(handler, None)

    async def _authenticate(self, session: Session, listener: Any) -> bool:
        # Upstream calls this from `_handle_client_session`, after the session lookup; the CONNECT
        # was already authenticated above, before it. Anything not marked there is refused.
        return bool(session.attributes.pop(_AUTHENTICATED_KEY, False))

    async def _publish_session_retained_messages(self, session: Session) -> None:
        await super()._publish_session_retained_messages(session)
        # Upstream's `_handle_client_session` next replays retained messages for every filter,
        # then enters `_client_message_loop`; mark the session until then.
        session.attributes[_CONNECTING_KEY] = True

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        if session.attributes.get(_CONNECTING_KEY):
            return  # the replay on connect (see the module docstring)
        topic_filter, _qos = subscription
        holders = self._subscriptions.get(topic_filter, [])
        if not any(holder.client_id == session.client_id for holder, _ in holders):
            return
        await super()._publish_retained_messages_for_subscription(subscription, session)

    async def _retain_broadcast_message(self, broadcast: dict[str, Any], qos: int, target_session: Session) -> None:
        if target_session.retained_messages.qsize() >= self._max_queued:
            self._policy.count("queue_dropped")
            return
        await super()._retain_broadcast_message(broadcast, qos, target_session)


async def _close_quietly(writer: WriterAdapter) -> None:
    try:
        await writer.close()
    except OSError:
        logger.debug("closing a refused connection failed", exc_info=True)
