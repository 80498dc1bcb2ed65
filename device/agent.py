"""The agent on the fridge: local inventory and freshness, built into contract messages.

`FridgeAgent` is composed of parts with `start()`/`stop()` and constructors that do no work: the
durable `SeqStore`, the `DeviceStore` (one SQLite file holding the outgoing queue and state that
must survive a crash) and the MQTT `Uplink`. It holds the inventory, builds every device ->
server message (next `seq` from the store, `at` from the injected clock, in UTC) and keeps the
live offers the server last sent on its retained `offers` topic.

Inventory changes are local until published: `add_item` and friends change what the fridge
knows; `publish_event` tells the server what happened and `publish_inventory` sends the full
snapshot. Each message is numbered and written to the on-disk queue in one step under the
store's lock, so the queue (and so the wire) order is the `seq` order, and nothing handed to
`publish_*` is lost by a crash: it is sent after the next start.

`transaction()` groups changes: inside it, inventory changes, queued messages and whatever the
caller writes with `put_state` are committed together or not at all (an exception undoes them,
the in-memory inventory included), and the uplink sees the messages only after the commit. With
`persist_inventory`, the inventory itself is part of every commit and is loaded again on
`start()`, so a restarted agent knows what was inside.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from freshtap.clock import Clock
from freshtap.contract import (
    EventBody,
    EventKind,
    EventMessage,
    InventoryBody,
    InventoryItem,
    InventoryMessage,
    NoticeMessage,
    OfferEntry,
    OffersMessage,
    TelemetryBody,
    TelemetryMessage,
)
from freshtap.settings import FreshnessSettings
from freshtap.shelflife import TemperatureSpan

from .delivery import Delivery
from .device_store import DeviceStore, Transaction
from .errors import UplinkError
from .freshness import with_freshness
from .inventory import Inventory
from .offers_board import OffersBoard, OffersPredicate
from .outbox import Outbox, OutboxLimits
from .seqstore import SeqStore
from .uplink import ConnectionState, IncomingMessage, Uplink, UplinkConfig, UplinkStats

__all__ = ["AgentConfig", "FridgeAgent", "TemperatureHistory"]

log = logging.getLogger(__name__)

_SEQ_FILE = "seq"
_STORE_FILE = "device.sqlite3"
_INVENTORY_KEY = "agent.inventory"


class TemperatureHistory(Protocol):
    """Where the agent gets the measured temperatures of a compartment for freshness."""

    def spans(self, compartment: str, since: datetime) -> Sequence[TemperatureSpan]: ...


@dataclass(frozen=True)
class AgentConfig:
    fridge_id: str
    username: str
    password: str
    mqtt_url: str
    state_dir: Path
    """Where this fridge keeps what must survive a restart (its `seq`, its queue); one directory per fridge."""
    model: str = "freshtap-fridge"
    firmware: str = "0.0.0"
    freshness: FreshnessSettings = field(default_factory=FreshnessSettings)
    seq_block: int = 64
    telemetry_qos: int = 0
    queue_limits: OutboxLimits = field(default_factory=OutboxLimits)
    """Bounds of the on-disk queue (its drop policy is in `outbox.py`)."""
    queue_sync: Literal["full", "normal"] = "full"
    """`full`: a queued message survives a power cut; `normal`: it survives a crash of the process."""
    persist_inventory: bool = False
    """Keep the inventory in the state directory and load it on `start()`."""
    uplink_options: Mapping[str, Any] = field(default_factory=dict)
    """Extra `UplinkConfig` fields (window, reconnect delays, timeouts, server handshake)."""

    def uplink_config(self) -> UplinkConfig:
        return UplinkConfig(
            fridge_id=self.fridge_id,
            username=self.username,
            password=self.password,
            mqtt_url=self.mqtt_url,
            model=self.model,
            firmware=self.firmware,
            **self.uplink_options,
        )


class FridgeAgent:
    """One fridge speaking the contract; see the module docstring."""

    def __init__(
        self,
        config: AgentConfig,
        clock: Clock,
        *,
        on_offers: Callable[[tuple[OfferEntry, ...]], None] | None = None,
        on_notice: Callable[[NoticeMessage], None] | None = None,
        on_connection: Callable[[ConnectionState], None] | None = None,
        temperatures: TemperatureHistory | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_offers = on_offers
        self._on_notice = on_notice
        self._temperatures = temperatures
        self._inventory = Inventory()
        self._board = OffersBoard()
        self._last_seq: int | None = None
        state_dir = Path(config.state_dir)
        self._seq = SeqStore(state_dir / _SEQ_FILE, block=config.seq_block)
        self._store = DeviceStore(state_dir / _STORE_FILE, synchronous=config.queue_sync)
        self._outbox = Outbox(self._store, config.queue_limits)
        self._uplink = Uplink(
            config.uplink_config(),
            clock,
            outbox=self._outbox,
            on_message=self._handle_message,
            on_state=on_connection,
        )

    # ---- lifecycle -----------------------------------------------------------------------

    @property
    def fridge_id(self) -> str:
        return self._config.fridge_id

    @property
    def clock(self) -> Clock:
        return self._clock

    def start(self) -> None:
        """Open the sequence and state stores and start connecting; returns without waiting for the broker.

        Messages left in the queue by an earlier run are sent first.
        """
        self._seq.start()
        try:
            self._store.open()
            if self._config.persist_inventory:
                saved = self._store.get_state(_INVENTORY_KEY) or []
                self._inventory.replace_all(tuple(InventoryItem.model_validate_json(json.dumps(i)) for i in saved))
            self._uplink.start()
        except BaseException:
            self._store.close()
            self._seq.stop()
            raise

    def stop(self, timeout: float | None = None) -> None:
        """Go offline cleanly (within `timeout`) and release the stores; the queue stays on disk."""
        try:
            self._uplink.stop(timeout)
        finally:
            self._store.close()
            self._seq.stop()

    def wait_online(self, timeout: float) -> bool:
        return self._uplink.wait_online(timeout)

    def wait_drained(self, timeout: float) -> bool:
        """Block until every queued message has been acknowledged by the broker (True) or `timeout` passed."""
        return self._uplink.wait_drained(timeout)

    @property
    def connection(self) -> ConnectionState:
        return self._uplink.state

    @property
    def server_ready(self) -> bool:
        """Online, and sending the queue (the server handshake, if configured, is done)."""
        return self._uplink.server_ready

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed or the last connection ended, if it did."""
        return self._uplink.last_error

    def uplink_stats(self) -> UplinkStats:
        return self._uplink.stats()

    @property
    def last_seq(self) -> int | None:
        """The `seq` of the last message this process queued (None before the first)."""
        return self._last_seq

    def _next_seq(self) -> int:
        seq = self._seq.next()
        self._last_seq = seq
        return seq

    # ---- state that commits with the queue -----------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Everything done inside commits together, or is undone (see the module docstring).

        The `Transaction` it yields can `put_state(key, value)` / `get_state(key)` JSON values.
        """
        if not self._store.is_open:
            raise UplinkError("the agent is not started")
        with self._store.transaction() as txn:
            before = self._inventory.snapshot()
            try:
                yield txn
                if txn.depth == 1 and self._config.persist_inventory:
                    saved = [i.model_dump(mode="json") for i in self._inventory.snapshot()]
                    txn.put_state(_INVENTORY_KEY, saved)
            except BaseException:
                self._inventory.replace_all(before)
                raise

    def get_state(self, key: str) -> Any:
        """A JSON value stored with `Transaction.put_state`, or None."""
        return self._store.get_state(key)

    # ---- inventory -----------------------------------------------------------------------

    @property
    def items(self) -> tuple[InventoryItem, ...]:
        return self._inventory.snapshot()

    def item(self, item_id: str) -> InventoryItem | None:
        return self._inventory.get(item_id)

    def add_item(self, item: InventoryItem) -> InventoryItem:
        """Put an item in the fridge; `ValueError` if its id is taken."""
        with self._changing():
            return self._inventory.add(item)

    def remove_item(self, item_id: str) -> InventoryItem:
        """Take an item out; `KeyError` if it is not inside."""
        with self._changing():
            return self._inventory.remove(item_id)

    def open_item(self, item_id: str, at: datetime | None = None) -> InventoryItem:
        """Mark an item opened (now, or `at`); the first opening counts."""
        with self._changing():
            return self._inventory.open(item_id, at or self._clock.now())

    def set_fill(self, item_id: str, fill: float | None) -> InventoryItem:
        """Record the fraction left (0..1, None when the load cell cannot tell)."""
        with self._changing():
            return self._inventory.update(item_id, fill=fill)

    def update_item(self, item_id: str, **changes: Any) -> InventoryItem:
        """Change fields of one item (validated against the contract); `KeyError` if it is not inside."""
        with self._changing():
            return self._inventory.update(item_id, **changes)

    @contextmanager
    def _changing(self) -> Iterator[None]:
        # Without persistence an inventory change is memory only (and works before `start()`).
        if not self._config.persist_inventory:
            yield
            return
        with self.transaction():
            yield

    # ---- publishing ----------------------------------------------------------------------

    def _with_freshness(self, item: InventoryItem, now: datetime) -> InventoryItem:
        spans: Sequence[TemperatureSpan] = ()
        if self._temperatures is not None:
            spans = self._temperatures.spans(item.compartment, item.added_at)
        return with_freshness(item, now, self._config.freshness, spans)

    def publish_inventory(self) -> Delivery:
        """Queue the full snapshot, each item with the device's freshness at this moment."""
        with self._publishing():
            now = self._clock.now()
            items = [self._with_freshness(item, now) for item in self._inventory.snapshot()]
            message = InventoryMessage(
                v=1,
                type="inventory",
                fridge_id=self.fridge_id,
                seq=self._next_seq(),
                at=now,
                body=InventoryBody(items=items),
            )
            return self._uplink.publish(message, qos=1)

    def publish_telemetry(self, compartments: Mapping[str, float], door_open: bool) -> Delivery:
        """Queue compartment temperatures (`{"fridge": 3.8, "freezer": -18.1}`) and the door state."""
        body = TelemetryBody.model_validate(
            {
                "compartments": [{"id": cid, "temp_c": float(t)} for cid, t in compartments.items()],
                "door_open": door_open,
            },
            strict=True,
        )
        with self._publishing():
            message = TelemetryMessage(
                v=1,
                type="telemetry",
                fridge_id=self.fridge_id,
                seq=self._next_seq(),
                at=self._clock.now(),
                body=body,
            )
            return self._uplink.publish(message, qos=self._config.telemetry_qos)

    def publish_event(
        self, kind: EventKind, item_id: str | None = None, detail: Mapping[str, Any] | None = None
    ) -> Delivery:
        """Queue an event for the server (`item_added`, `door_left_open`, ...)."""
        body = EventBody(kind=EventKind(kind), item_id=item_id, detail=dict(detail or {}))
        with self._publishing():
            message = EventMessage(
                v=1,
                type="event",
                fridge_id=self.fridge_id,
                seq=self._next_seq(),
                at=self._clock.now(),
                body=body,
            )
            return self._uplink.publish(message, qos=1)

    @contextmanager
    def _publishing(self) -> Iterator[None]:
        # The store's lock is held from numbering to queueing, so queue order is seq order.
        if not self._uplink.running:
            raise UplinkError("uplink is not started")
        with self.transaction():
            yield

    # ---- offers --------------------------------------------------------------------------

    @property
    def offers(self) -> tuple[OfferEntry, ...]:
        """The live offers, as last received on the retained `offers` topic (after `on_offers` ran)."""
        return self._board.offers

    def wait_for_offers(self, predicate: OffersPredicate, timeout: float) -> tuple[OfferEntry, ...]:
        """Block until the live offers satisfy `predicate`; `TimeoutError` after `timeout` seconds."""
        return self._board.wait_for(predicate, timeout)

    def _handle_message(self, message: IncomingMessage) -> None:
        # Runs on the uplink's network thread; callbacks must not block. The board changes after
        # `on_offers` returns, so whoever waits on `wait_for_offers` also sees its effects.
        if isinstance(message, OffersMessage):
            try:
                if self._on_offers is not None:
                    self._on_offers(tuple(message.body.offers))
            finally:
                self._board.replace(message)
        elif self._on_notice is not None:
            self._on_notice(message)
