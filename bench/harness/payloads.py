"""Contract messages for load: realistic inventory snapshots and telemetry, encoded ahead of time.

Snapshots hold what a simulated household stocks (`freshtap.simulator.Household`, seeded per
fridge): 4-6 items, one of them due within two days, so the merchant's `expiring` offers match.
Each fridge's message is encoded once; only `seq` changes from one message to the next.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from freshtap.contract import (
    Channel,
    CompartmentReading,
    InventoryBody,
    InventoryItem,
    InventoryMessage,
    TelemetryBody,
    TelemetryMessage,
    decode,
    encode,
    topic,
)
from freshtap.simulator.catalog import CATALOG
from freshtap.simulator.household import Household

__all__ = ["MILK", "SeqPayloads", "inventory", "milk_item", "stock", "telemetry"]

MILK = CATALOG[0]


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def stock(fridge_id: str, at: datetime) -> list[InventoryItem]:
    return Household(random.Random(f"bench:{fridge_id}")).initial_stock(at)


def milk_item(item_id: str, at: datetime, expires_in: timedelta = timedelta(hours=20)) -> InventoryItem:
    """Whole milk whose label date falls within the merchant's `expiring` window."""
    day: date = (at + expires_in).date()
    return InventoryItem(
        item_id=item_id,
        gtin=MILK.gtin,
        name=MILK.name,
        category=MILK.category,
        fill=0.4,
        compartment="door",
        added_at=at - timedelta(days=3),
        label_expiry=day,
        expiry_kind="expiry",
        batch="B1",
    )


def inventory(fridge_id: str, seq: int, items: list[InventoryItem], at: datetime | None = None) -> bytes:
    message = InventoryMessage(
        v=1, type="inventory", fridge_id=fridge_id, seq=seq, at=at or now(), body=InventoryBody(items=items)
    )
    return encode(message)


def telemetry(fridge_id: str, seq: int, at: datetime | None = None, temp_c: float = 3.8) -> bytes:
    body = TelemetryBody(
        compartments=[CompartmentReading(id="fridge", temp_c=temp_c), CompartmentReading(id="freezer", temp_c=-18.0)],
        door_open=False,
    )
    return encode(TelemetryMessage(v=1, type="telemetry", fridge_id=fridge_id, seq=seq, at=at or now(), body=body))


class SeqPayloads:
    """One fridge's message encoded once, re-numbered per `seq` by replacing the envelope's `seq`."""

    def __init__(self, fridge_id: str, channel: Channel, payload_at_seq_0: bytes) -> None:
        marker = b'"seq":0,'
        if marker not in payload_at_seq_0:
            raise ValueError("the template must carry seq 0")
        self.topic = topic(fridge_id, channel)
        self._head, self._tail = payload_at_seq_0.split(marker, 1)
        decode(self.topic, self.payload(1))  # the renumbered message still follows the contract

    def payload(self, seq: int) -> bytes:
        return self._head + b'"seq":%d,' % seq + self._tail

    @classmethod
    def inventory(cls, fridge_id: str, at: datetime | None = None) -> SeqPayloads:
        at = at or now()
        return cls(fridge_id, Channel.INVENTORY, inventory(fridge_id, 0, stock(fridge_id, at), at))

    @classmethod
    def telemetry(cls, fridge_id: str, at: datetime | None = None) -> SeqPayloads:
        return cls(fridge_id, Channel.TELEMETRY, telemetry(fridge_id, 0, at))
