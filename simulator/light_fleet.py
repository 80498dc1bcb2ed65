"""Light fidelity: thousands of simulated fridges speaking the contract directly, from one process.

`Fleet` gives every fridge the real device agent with its own paho network thread, whose
`select()` loop cannot watch descriptors >= 1024: about 300 fridges per process. `LightFleet`
keeps one paho client per fridge too (the same library, the same MQTT 3.1.1 persistent session,
credentials and last will as a real agent), but drives all of them from one asyncio event loop
through paho's external-loop API (`on_socket_open/close/register_write/unregister_write`,
`loop_read/write/misc`, as in paho's own `loop_asyncio.py` example). asyncio's loop on Linux is
epoll-based, so the ceiling is file descriptors, not `FD_SETSIZE`.

Each light fridge is stocked and aged by the same `Household` model as a full one and publishes
`state` (retained, and as its will), `inventory` snapshots, `event`s and `telemetry` on the
shared accelerated clock. It does not run the agent's label reader, outbox or door screen, and it
does not buy: light fridges are load and realism for the server's ingest, offers and scheduler.

`seq`: light fridges keep no files (10,000 `SeqStore`s would cost 20,000 descriptors); `seq` is
the wall-clock time in microseconds, made strictly increasing per fridge. It only grows across
runs as long as the machine's clock does not step back.

Reconnects: a dropped connection is retried after a jittered, capped exponential delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel

from freshtap import __version__
from freshtap.clock import Clock
from freshtap.contract import (
    Channel,
    CompartmentReading,
    EventBody,
    EventKind,
    EventMessage,
    InventoryBody,
    InventoryItem,
    InventoryMessage,
    StateBody,
    StateMessage,
    TelemetryBody,
    TelemetryMessage,
    encode,
    topic,
)
from freshtap.device.broker_address import parse_mqtt_url

from .household import Action, Household
from .scenario import Scenario, habits_for
from .virtual_fridge import SimFridge

if TYPE_CHECKING:
    from paho.mqtt.client import SocketLike

__all__ = ["LightFleet", "LightFleetStats"]

log = logging.getLogger(__name__)

_KEEPALIVE = 120
_MISC_EVERY = 1.0  # seconds between paho keepalive checks over the whole fleet
_RECONNECT_MIN, _RECONNECT_MAX = 0.5, 30.0


@dataclass(frozen=True)
class LightFleetStats:
    fridges: int
    online: int
    connects: int
    connect_errors: int
    disconnects: int
    published: int
    published_by_type: dict[str, int]
    publish_errors: int


def _state_body(*, online: bool) -> StateBody:
    return StateBody(online=online, model="freshtap light fridge", firmware="sim", agent=f"freshtap {__version__}")


class _LightFridge:
    """One fridge's paho client, household and items; all methods run on the fleet's loop thread."""

    def __init__(self, fleet: LightFleet, credentials: SimFridge, rng: random.Random) -> None:
        self.fleet = fleet
        self.credentials = credentials
        self.fridge_id = credentials.fridge_id
        habits = habits_for(fleet.scenario, self.fridge_id) if fleet.scenario is not None else None
        self.household = Household(random.Random(rng.random()), habits)
        self.rng = rng
        self.items: dict[str, InventoryItem] = {}
        self.online = False
        self.last_seq = 0
        self.last_aged: datetime | None = None
        self.next_inventory: datetime | None = None
        self.next_telemetry: datetime | None = None
        self.warm = rng.random() < 0.05
        self.reconnect_delay = _RECONNECT_MIN
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.fridge_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        client.username_pw_set(credentials.username, credentials.password)
        offline = StateMessage(
            v=1, type="state", fridge_id=self.fridge_id, at=fleet.clock.now(),
            body=_state_body(online=False),
        )
        client.will_set(topic(self.fridge_id, Channel.STATE), encode(offline), qos=1, retain=True)
        client.max_queued_messages_set(1000)
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        self.client = client

    # ---- paho's external loop, on asyncio --------------------------------------------------

    def _socket_open(self, client: mqtt.Client, _userdata: Any, sock: SocketLike) -> None:
        self.fleet.loop.add_reader(sock, client.loop_read)

    def _socket_close(self, _client: mqtt.Client, _userdata: Any, sock: SocketLike) -> None:
        self.fleet.loop.remove_reader(sock)
        self.fleet.loop.remove_writer(sock)

    def _register_write(self, client: mqtt.Client, _userdata: Any, sock: SocketLike) -> None:
        self.fleet.loop.add_writer(sock, client.loop_write)

    def _unregister_write(self, _client: mqtt.Client, _userdata: Any, sock: SocketLike) -> None:
        self.fleet.loop.remove_writer(sock)

    def connect(self) -> None:
        try:
            if self.client.is_connected() or self.client.socket() is not None:
                return
            host, port = self.fleet.broker
            self.client.connect(host, port, keepalive=_KEEPALIVE)
        except OSError as exc:
            self.fleet.count("connect_errors")
            log.debug("%s: connect failed: %s", self.fridge_id, exc)
            self._schedule_reconnect()

    def _connected(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: ReasonCode, _props: object
    ) -> None:
        if reason.is_failure:
            self.fleet.count("connect_errors")
            log.warning("%s: the broker refused the connection: %s", self.fridge_id, reason)
            return  # paho closes the socket; _disconnected schedules the retry
        self.online = True
        self.reconnect_delay = _RECONNECT_MIN
        self.fleet.count("connects")
        client.subscribe([(topic(self.fridge_id, Channel.OFFERS), 1), (topic(self.fridge_id, Channel.NOTICES), 1)])
        self._publish_state(True)

    def _disconnected(
        self, _client: mqtt.Client, _userdata: object, _flags: object, _reason: ReasonCode, _props: object
    ) -> None:
        if self.online:
            self.fleet.count("disconnects")
        self.online = False
        if not self.fleet.stopping:
            self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        delay = self.rng.uniform(0, self.reconnect_delay)  # full jitter
        self.reconnect_delay = min(_RECONNECT_MAX, self.reconnect_delay * 2)
        self.fleet.loop.call_later(delay, self._reconnect)

    def _reconnect(self) -> None:
        if self.fleet.stopping or self.client.is_connected():
            return
        try:
            self.client.reconnect()
        except OSError as exc:
            self.fleet.count("connect_errors")
            log.debug("%s: reconnect failed: %s", self.fridge_id, exc)
            self._schedule_reconnect()

    # ---- the simulated fridge -----------------------------------------------------------------

    def tick(self, now: datetime) -> datetime:
        """Age the items, publish what is due; the next due time in simulated time."""
        fleet = self.fleet
        if self.last_aged is None:
            self.items = {i.item_id: i for i in self.household.initial_stock(now)}
            self.last_aged = now
            self.next_inventory = now
            self.next_telemetry = now + fleet.telemetry_every * self.rng.random()
        hours = (now - self.last_aged).total_seconds() / 3600
        if hours >= 0.25:
            for action in self.household.step(self.items, now, hours):
                self._apply(action, now)
            self.last_aged = now
        assert self.next_inventory is not None and self.next_telemetry is not None
        if now >= self.next_inventory:
            self._publish(Channel.INVENTORY, InventoryMessage(
                v=1, type="inventory", fridge_id=self.fridge_id, seq=self._seq(), at=now,
                body=InventoryBody(items=list(self.items.values())),
            ))
            self.next_inventory = now + fleet.inventory_every
        if now >= self.next_telemetry:
            base = 6.5 if self.warm else 3.6
            self._publish(Channel.TELEMETRY, TelemetryMessage(
                v=1, type="telemetry", fridge_id=self.fridge_id, seq=self._seq(), at=now,
                body=TelemetryBody(
                    compartments=[
                        CompartmentReading(id="fridge", temp_c=round(base + self.rng.gauss(0, 0.3), 1)),
                        CompartmentReading(id="freezer", temp_c=round(-18.0 + self.rng.gauss(0, 0.4), 1)),
                    ],
                    door_open=False,
                ),
            ))
            self.next_telemetry = now + fleet.telemetry_every
        return min(self.next_inventory, self.next_telemetry)

    def _apply(self, action: Action, now: datetime) -> None:
        if action.kind == "add" and action.item is not None:
            self.items[action.item_id] = action.item
            self._event(EventKind.ITEM_ADDED, action.item_id, now)
        elif action.kind == "remove" and self.items.pop(action.item_id, None) is not None:
            self._event(EventKind.ITEM_REMOVED, action.item_id, now, {"reason": action.reason or "removed"})
        elif action.kind == "open" and action.item_id in self.items:
            self.items[action.item_id] = self.items[action.item_id].model_copy(update={"opened_at": now})
            self._event(EventKind.ITEM_OPENED, action.item_id, now)
        elif action.kind == "fill" and action.item_id in self.items:
            self.items[action.item_id] = self.items[action.item_id].model_copy(update={"fill": action.fill})

    def _event(self, kind: EventKind, item_id: str, now: datetime, detail: dict[str, object] | None = None) -> None:
        self._publish(Channel.EVENTS, EventMessage(
            v=1, type="event", fridge_id=self.fridge_id, seq=self._seq(), at=now,
            body=EventBody(kind=kind, item_id=item_id, detail=detail or {}),
        ))

    def _publish_state(self, online: bool) -> None:
        self._publish(Channel.STATE, StateMessage(
            v=1, type="state", fridge_id=self.fridge_id, at=self.fleet.clock.now(),
            body=_state_body(online=online),
        ), retain=True)

    def _seq(self) -> int:
        self.last_seq = max(self.last_seq + 1, time.time_ns() // 1000)
        return self.last_seq

    def _publish(self, channel: Channel, message: BaseModel, *, retain: bool = False) -> None:
        info = self.client.publish(topic(self.fridge_id, channel), encode(message), qos=1, retain=retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS or info.rc == mqtt.MQTT_ERR_NO_CONN:
            # Not connected: paho keeps a QoS 1 message queued for the session and sends it on reconnect.
            self.fleet.published(channel)
        else:
            self.fleet.count("publish_errors")


class LightFleet:
    """`start()` connects the fleet at `connect_rate` per second and runs it until `stop()`."""

    def __init__(
        self,
        fridges: Sequence[SimFridge],
        mqtt_url: str,
        clock: Clock,
        seed: int,
        *,
        inventory_every: timedelta = timedelta(minutes=30),
        telemetry_every: timedelta = timedelta(minutes=1),
        connect_rate: float = 500.0,
        scenario: Scenario | None = None,
    ) -> None:
        ids = [f.fridge_id for f in fridges]
        if len(set(ids)) != len(ids):
            raise ValueError("fridge ids must be unique")
        if inventory_every <= timedelta(0) or telemetry_every <= timedelta(0):
            raise ValueError("publishing intervals must be positive")
        endpoint = parse_mqtt_url(mqtt_url)
        self.broker = (endpoint.host, endpoint.port)
        self.clock = clock
        self.scenario = scenario
        """Households' habits (appetite, weekends, variance, days away) by the scenario's profiles."""
        self.inventory_every = inventory_every
        self.telemetry_every = telemetry_every
        self._credentials = list(fridges)
        self._seed = seed
        self._connect_rate = connect_rate
        self._counts: dict[str, int] = {}
        self._published: dict[str, int] = {}
        self._lock = threading.Lock()
        self._fridges: list[_LightFridge] = []
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop = asyncio.new_event_loop()
        self.stopping = False

    # ---- counters, from the loop thread; read from any thread -------------------------------

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    def published(self, channel: Channel) -> None:
        with self._lock:
            self._published[channel.value] = self._published.get(channel.value, 0) + 1

    @property
    def stats(self) -> LightFleetStats:
        with self._lock:
            counts, published = dict(self._counts), dict(self._published)
        return LightFleetStats(
            fridges=len(self._credentials),
            online=sum(1 for f in self._fridges if f.online),
            connects=counts.get("connects", 0),
            connect_errors=counts.get("connect_errors", 0),
            disconnects=counts.get("disconnects", 0),
            published=sum(published.values()),
            published_by_type=published,
            publish_errors=counts.get("publish_errors", 0),
        )

    # ---- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="freshtap-light-fleet", daemon=True)
        self._thread.start()
        self._ready.wait(30)

    def wait_online(self, timeout: float) -> bool:
        """Wait until every fridge is connected; False if `timeout` real seconds pass first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stats.online == len(self._credentials):
                return True
            time.sleep(0.1)  # polling a counter the loop thread owns; nothing to await across threads
        return False

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is None:
            return
        if self._stopped is not None:
            self.loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        master = random.Random(self._seed)
        for credentials in self._credentials:
            rng = random.Random(f"{self._seed}:{credentials.fridge_id}:{master.random()}")
            self._fridges.append(_LightFridge(self, credentials, rng))
        self._ready.set()
        tasks = [
            asyncio.create_task(self._connect_all()),
            asyncio.create_task(self._misc_loop()),
            asyncio.create_task(self._tick_loop()),
        ]
        await self._stopped.wait()
        self.stopping = True
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._disconnect_all()

    async def _connect_all(self) -> None:
        batch = max(1, int(self._connect_rate / 10))
        for start in range(0, len(self._fridges), batch):
            for fridge in self._fridges[start : start + batch]:
                fridge.connect()
            await asyncio.sleep(0.1)

    async def _misc_loop(self) -> None:
        while True:
            await asyncio.sleep(_MISC_EVERY)
            for fridge in self._fridges:
                fridge.client.loop_misc()

    async def _tick_loop(self) -> None:
        """One heap of due times in simulated time for the whole fleet."""
        now = self.clock.now()
        heap: list[tuple[datetime, int]] = [(now, i) for i in range(len(self._fridges))]
        heapq.heapify(heap)
        while True:
            now = self.clock.now()
            handled = 0
            while heap and heap[0][0] <= now:
                _, index = heapq.heappop(heap)
                heapq.heappush(heap, (self._fridges[index].tick(now), index))
                handled += 1
                if handled % 200 == 0:
                    await asyncio.sleep(0)  # let the sockets be served between bursts
            wait = 0.5 if not heap else self.clock.real_seconds((heap[0][0] - now).total_seconds())
            await asyncio.sleep(min(0.5, max(0.01, wait)))

    async def _disconnect_all(self) -> None:
        for fridge in self._fridges:
            if fridge.client.is_connected():
                fridge._publish_state(False)
                fridge.client.disconnect()
        # Let the writers flush the last state and DISCONNECT packets.
        for _ in range(50):
            if not any(f.client.want_write() for f in self._fridges if f.client.socket() is not None):
                break
            await asyncio.sleep(0.05)
