"""A fridge's life as the messages its agent sends, for ordering and scale-out tests.

`FridgeTimeline` keeps what a device knows (items in, which are opened) and turns each change
into the messages a real agent would publish: an `event` when something happens, an
`inventory` snapshot of everything it holds whenever it chooses, `telemetry` now and then. Each
message takes the next `seq`, as on a device. The tests then deliver these out of order and more
than once, as shared subscriptions and redelivery do, and compare what the server ends with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

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

MILK_GTIN = "09506000134352"
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

# (name, category, gtin, days until the label date): milk is due within two days, so an
# `expiring` milk offer matches it; the rest stay fresh for weeks.
ITEMS: dict[str, tuple[str, str, str | None, int]] = {
    "milk": ("Whole milk 1 L", "dairy", MILK_GTIN, 1),
    "eggs": ("Eggs, 10", "eggs", None, 25),
    "butter": ("Butter 250 g", "dairy", None, 40),
    "ham": ("Sliced ham", "meat", None, 20),
    "juice": ("Orange juice", "beverages", None, 30),
}


@dataclass(frozen=True)
class Sent:
    """One message as it goes on the wire."""

    seq: int
    topic: str
    payload: bytes
    kind: str


@dataclass
class FridgeTimeline:
    fridge_id: str
    today: date
    seq: int = 0
    at: datetime = START
    held: dict[str, datetime | None] = field(default_factory=dict)
    """item id -> when it was opened (None: still closed)."""
    added: dict[str, datetime] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)

    def _next(self) -> tuple[int, datetime]:
        self.seq += 1
        self.at += timedelta(seconds=7)
        return self.seq, self.at

    def _emit(self, seq: int, channel: Channel, payload: bytes, kind: str) -> Sent:
        message = Sent(seq, topic(self.fridge_id, channel), payload, kind)
        self.sent.append(message)
        return message

    def item(self, item_id: str) -> InventoryItem:
        name, category, gtin, days = ITEMS[item_id.split(".")[0]]
        return InventoryItem(
            item_id=item_id,
            gtin=gtin,
            name=name,
            category=category,
            quantity=1,
            unit="pcs",
            fill=0.8,
            compartment="fridge",
            added_at=self.added[item_id],
            opened_at=self.held[item_id],
            label_expiry=self.today + timedelta(days=days),
            expiry_kind="expiry",
        )

    def event(self, kind: EventKind, item_id: str | None) -> Sent:
        seq, at = self._next()
        message = EventMessage(
            fridge_id=self.fridge_id, seq=seq, at=at, type="event", body=EventBody(kind=kind, item_id=item_id)
        )
        return self._emit(seq, Channel.EVENTS, encode(message), "event")

    def add(self, item_id: str) -> Sent:
        self.held[item_id] = None
        self.added[item_id] = self.at + timedelta(seconds=7)
        return self.event(EventKind.ITEM_ADDED, item_id)

    def open(self, item_id: str) -> Sent:
        sent = self.event(EventKind.ITEM_OPENED, item_id)
        self.held[item_id] = self.at
        return sent

    def remove(self, item_id: str) -> Sent:
        sent = self.event(EventKind.ITEM_REMOVED, item_id)
        del self.held[item_id]
        return sent

    def snapshot(self) -> Sent:
        seq, at = self._next()
        items = [self.item(item_id) for item_id in sorted(self.held)]
        message = InventoryMessage(
            fridge_id=self.fridge_id, seq=seq, at=at, type="inventory", body=InventoryBody(items=items)
        )
        return self._emit(seq, Channel.INVENTORY, encode(message), "inventory")

    def telemetry(self, temp_c: float = 3.5) -> Sent:
        seq, at = self._next()
        message = TelemetryMessage(
            fridge_id=self.fridge_id,
            seq=seq,
            at=at,
            type="telemetry",
            body=TelemetryBody(compartments=[CompartmentReading(id="fridge", temp_c=temp_c)], door_open=False),
        )
        return self._emit(seq, Channel.TELEMETRY, encode(message), "telemetry")

    def state(self, online: bool = True) -> Sent:
        self.at += timedelta(seconds=7)
        message = StateMessage(
            fridge_id=self.fridge_id, at=self.at, type="state", body=StateBody(online=online, agent="freshtap test")
        )
        return self._emit(0, Channel.STATE, encode(message), "state")

    def expected_present(self) -> dict[str, datetime | None]:
        """What the server must end up holding after every message: item id -> opened at."""
        return dict(self.held)
