"""The Home Assistant bridge against a real, plain Mosquitto on a free port, watched by a second client.

The watcher stands in for Home Assistant: it reads everything under `homeassistant/#` and sends the
birth message. Every wait is on a message arriving (a queue with a timeout), never a sleep.
"""

from __future__ import annotations

import json
import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from freshtap.clock import ManualClock
from freshtap.contract import InventoryItem
from freshtap.device.homeassistant import HomeAssistantBridge, HomeAssistantConfig, item_component_id
from freshtap.simulator.mosquitto import MosquittoBroker
from tests.homeassistant.ha_schema import check_device_discovery, render

pytestmark = pytest.mark.services

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FID = "f-ha-1"


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool


class Watcher:
    """Home Assistant's side of the broker: subscribed to `homeassistant/#`."""

    def __init__(self, port: int, client_id: str = "watcher") -> None:
        self.messages: queue.Queue[Received] = queue.Queue()
        self.skipped: list[Received] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv311)
        subscribed: queue.Queue[bool] = queue.Queue()
        self.client.on_message = lambda c, u, m: self.messages.put(Received(m.topic, bytes(m.payload), bool(m.retain)))
        self.client.on_subscribe = lambda *a: subscribed.put(True)
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("homeassistant/#", qos=1)
        self.client.loop_start()
        subscribed.get(timeout=10)

    def next(self, topic: str, timeout: float = 10.0) -> Received:
        """The next message on `topic`; others are kept for a later `next` on their own topic."""
        for index, message in enumerate(self.skipped):
            if message.topic == topic:
                return self.skipped.pop(index)
        while True:
            message = self.messages.get(timeout=timeout)
            if message.topic == topic:
                return message
            self.skipped.append(message)

    def until(self, topic: str, predicate: Callable[[Received], bool], timeout: float = 10.0) -> Received:
        """The first message on `topic` that satisfies `predicate` (earlier ones are dropped)."""
        while not predicate(message := self.next(topic, timeout)):
            pass
        return message

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Fridge:
    def __init__(self) -> None:
        self.fridge_id = FID
        self.items: tuple[InventoryItem, ...] = (
            InventoryItem(item_id="milk", name="Whole milk 1 L", category="dairy", added_at=NOW - timedelta(days=2),
                          label_expiry=date(2026, 11, 24), expiry_kind="expiry", fill=0.5),
            InventoryItem(item_id="ham", name="Ham", category="deli meat", added_at=NOW - timedelta(days=5),
                          label_expiry=date(2026, 11, 20), expiry_kind="expiry"),
        )


@pytest.fixture
def broker(mosquitto_binary: str, tmp_path: Path) -> Iterator[MosquittoBroker]:
    made = MosquittoBroker(tmp_path / "mosquitto", binary=mosquitto_binary)
    made.start()
    try:
        yield made
    finally:
        made.stop()


def test_discovery_states_birth_and_removal(broker: MosquittoBroker) -> None:
    watcher = Watcher(broker.port)
    fridge = Fridge()
    bridge = HomeAssistantBridge(
        fridge, ManualClock(NOW), HomeAssistantConfig(mqtt_url=broker.url, refresh_seconds=30, model="FT-500")
    )
    topics = bridge.topics
    try:
        bridge.start()
        assert watcher.next(topics.availability).payload == b"online"
        first = watcher.next(topics.discovery)
        expanded = check_device_discovery(first.topic, first.payload)
        components = expanded["components"]
        milk, ham = item_component_id("milk"), item_component_id("ham")
        assert {"door", "expiring_items", "expired_items", milk, ham} <= set(components)

        state = watcher.next(topics.state)
        assert render(components["expiring_items"]["value_template"], state.payload) == "1"
        assert render(components["expired_items"]["value_template"], state.payload) == "1"
        milk_state = watcher.next(topics.item(milk))
        assert render(components[milk]["value_template"], milk_state.payload) == "expiring"
        assert json.loads(milk_state.payload)["fill"] == 0.5

        # Telemetry adds temperature sensors: a new discovery message, then the readings.
        bridge.record_telemetry({"fridge": 3.5, "freezer": -18.0}, door_open=False)
        second = check_device_discovery(topics.discovery, watcher.next(topics.discovery).payload)["components"]
        assert {"temp_fridge", "temp_freezer"} <= set(second)
        state = watcher.next(topics.state)
        assert render(second["temp_freezer"]["value_template"], state.payload) == "-18.0"
        assert render(second["door"]["value_template"], state.payload) == "closed"

        # Home Assistant restarts: its birth message brings the discovery message again.
        sent = bridge.discoveries_sent
        watcher.client.publish(topics.birth, "online", qos=1)
        again = watcher.next(topics.discovery)
        check_device_discovery(again.topic, again.payload)
        assert bridge.discoveries_sent == sent + 1 and bridge.births_seen == 1
        watcher.next(topics.state)  # states follow every announcement

        # An "offline" status is not a birth message.
        watcher.client.publish(topics.birth, "offline", qos=1)

        # The ham is thrown away: its entity is removed (platform only) and its retained state cleared.
        fridge.items = fridge.items[:1]
        bridge.refresh()
        removal = check_device_discovery(topics.discovery, watcher.next(topics.discovery).payload)["components"]
        assert removal[ham] == {"platform": "sensor"}
        assert "unique_id" in removal[milk]
        watcher.until(topics.item(ham), lambda m: m.payload == b"")  # earlier ham states come first
        assert bridge.births_seen == 1

        # States are retained: a Home Assistant that subscribes later still reads them.
        late = Watcher(broker.port, client_id="late-watcher")
        try:
            kept = late.next(topics.item(milk))
            assert kept.retain and render(components[milk]["value_template"], kept.payload) == "expiring"
            assert late.next(topics.availability).payload == b"online"
        finally:
            late.close()
    finally:
        bridge.stop()
        try:
            assert watcher.next(topics.availability).payload == b"offline"
        finally:
            watcher.close()
