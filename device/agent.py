"""The agent on the fridge: local inventory and freshness, built into contract messages.

`FridgeAgent` is composed of parts with `start()`/`stop()` and constructors that do no work: the
durable `SeqStore` and the MQTT `Uplink`. It holds the inventory, builds every device -> server
message (next `seq` from the store, `at` from the injected clock, in UTC) and keeps the live
offers the server last sent on its retained `offers` topic.

Inventory changes are local until published: `add_item` and friends change what the fridge
knows; `publish_event` tells the server what happened and `publish_inventory` sends the full
snapshot. Messages are numbered and handed to the uplink under one lock, so the wire order
matches the `seq` order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

from .delivery import Delivery
from .freshness import with_freshness
from .inventory import Inventory
from .offers_board import OffersBoard, OffersPredicate
from .seqstore import SeqStore
from .uplink import ConnectionState, IncomingMessage, Uplink, UplinkConfig, UplinkStats

__all__ = ["AgentConfig", "FridgeAgent"]

log = logging.getLogger(__name__)

_SEQ_FILE = "seq"


@dataclass(frozen=True)
class AgentConfig:
    fridge_id: str
    username: str
    password: str
    mqtt_url: str
    state_dir: Path
    """Where this fridge keeps what must survive a restart (its `seq`); one directory per fridge."""
    model: str = "freshtap-fridge"
    firmware: str = "0.0.0"
    freshness: FreshnessSettings = field(default_factory=FreshnessSettings)
    seq_block: int = 64
    telemetry_qos: int = 0
    uplink_options: Mapping[str, Any] = field(default_factory=dict)
    """Extra `UplinkConfig` fields (window, queue, reconnect delays, timeouts)."""

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
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_offers = on_offers
        self._on_notice = on_notice
        self._inventory = Inventory()
        self._board = OffersBoard()
        self._seq = SeqStore(Path(config.state_dir) / _SEQ_FILE, block=config.seq_block)
        self._uplink = Uplink(
            config.uplink_config(), clock, on_message=self._handle_message, on_state=on_connection
        )
        self._publish_lock = threading.Lock()

    # ---- lifecycle -----------------------------------------------------------------------

    @property
    def fridge_id(self) -> str:
        return self._config.fridge_id

    def start(self) -> None:
        """Open the sequence store and start connecting; returns without waiting for the broker."""
        self._seq.start()
        try:
            self._uplink.start()
        except BaseException:
            self._seq.stop()
            raise

    def stop(self, timeout: float | None = None) -> None:
        """Go offline cleanly (within `timeout`) and release the sequence store."""
        try:
            self._uplink.stop(timeout)
        finally:
            self._seq.stop()

    def wait_online(self, timeout: float) -> bool:
        return self._uplink.wait_online(timeout)

    @property
    def connection(self) -> ConnectionState:
        return self._uplink.state

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed or the last connection ended, if it did."""
        return self._uplink.last_error

    def uplink_stats(self) -> UplinkStats:
        return self._uplink.stats()

    # ---- inventory -----------------------------------------------------------------------

    @property
    def items(self) -> tuple[InventoryItem, ...]:
        return self._inventory.snapshot()

    def item(self, item_id: str) -> InventoryItem | None:
        return self._inventory.get(item_id)

    def add_item(self, item: InventoryItem) -> InventoryItem:
        """Put an item in the fridge; `ValueError` if its id is taken."""
        return self._inventory.add(item)

    def remove_item(self, item_id: str) -> InventoryItem:
        """Take an item out; `KeyError` if it is not inside."""
        return self._inventory.remove(item_id)

    def open_item(self, item_id: str) -> InventoryItem:
        """Mark an item opened now (the first opening counts)."""
        return self._inventory.open(item_id, self._clock.now())

    def set_fill(self, item_id: str, fill: float | None) -> InventoryItem:
        """Record the fraction left (0..1, None when the load cell cannot tell)."""
        return self._inventory.update(item_id, fill=fill)

    # ---- publishing ----------------------------------------------------------------------

    def publish_inventory(self) -> Delivery:
        """Send the full snapshot, each item with the device's freshness at this moment."""
        with self._publish_lock:
            now = self._clock.now()
            items = [with_freshness(item, now, self._config.freshness) for item in self._inventory.snapshot()]
            message = InventoryMessage(
                v=1,
                type="inventory",
                fridge_id=self.fridge_id,
                seq=self._seq.next(),
                at=now,
                body=InventoryBody(items=items),
            )
            return self._uplink.publish(message, qos=1)

    def publish_telemetry(self, compartments: Mapping[str, float], door_open: bool) -> Delivery:
        """Send compartment temperatures (`{"fridge": 3.8, "freezer": -18.1}`) and the door state."""
        body = TelemetryBody.model_validate(
            {
                "compartments": [{"id": cid, "temp_c": float(t)} for cid, t in compartments.items()],
                "door_open": door_open,
            },
            strict=True,
        )
        with self._publish_lock:
            message = TelemetryMessage(
                v=1,
                type="telemetry",
                fridge_id=self.fridge_id,
                seq=self._seq.next(),
                at=self._clock.now(),
                body=body,
            )
            return self._uplink.publish(message, qos=self._config.telemetry_qos)

    def publish_event(
        self, kind: EventKind, item_id: str | None = None, detail: Mapping[str, Any] | None = None
    ) -> Delivery:
        """Tell the server something happened (`item_added`, `door_left_open`, ...)."""
        body = EventBody(kind=EventKind(kind), item_id=item_id, detail=dict(detail or {}))
        with self._publish_lock:
            message = EventMessage(
                v=1,
                type="event",
                fridge_id=self.fridge_id,
                seq=self._seq.next(),
                at=self._clock.now(),
                body=body,
            )
            return self._uplink.publish(message, qos=1)

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
