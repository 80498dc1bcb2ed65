"""The discovery message and state messages, checked against Home Assistant's documented shape."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from freshtap.contract import InventoryItem
from freshtap.device.freshness import with_freshness
from freshtap.device.homeassistant import (
    FRESHNESS_OPTIONS,
    HomeAssistantConfig,
    HomeAssistantTopics,
    TelemetryReading,
    device_state,
    discovery_payload,
    item_component_id,
    item_state,
)
from freshtap.settings import FreshnessSettings
from tests.homeassistant.ha_schema import check_device_discovery, render

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOPICS = HomeAssistantTopics("homeassistant", "f-001")
CONFIG = HomeAssistantConfig(mqtt_url="mqtt://127.0.0.1:1883", model="FT-500", firmware="1.2.3")


def _item(item_id: str, name: str, expiry: date | None, **kw: object) -> InventoryItem:
    raw = InventoryItem(
        item_id=item_id, name=name, category=str(kw.pop("category", "dairy")), added_at=NOW - timedelta(days=1),
        label_expiry=expiry, expiry_kind=None if expiry is None else "expiry", **kw,  # type: ignore[arg-type]
    )
    return with_freshness(raw, NOW, FreshnessSettings())


ITEMS = [
    _item("milk", "Whole milk 1 L", date(2026, 11, 24), fill=0.4),
    _item("ham", "Ham", date(2026, 11, 20), category="deli meat"),
    _item("cheese", "Cheddar", date(2027, 1, 20), category="hard cheese"),
    _item("odd:id.1", "Mystery jar", None, category="unknowable"),
]


def test_discovery_message_has_home_assistants_device_shape() -> None:
    payload = discovery_payload(fridge_id="f-001", topics=TOPICS, config=CONFIG, compartments=["fridge", "freezer"],
                                items=ITEMS)
    expanded = check_device_discovery(TOPICS.discovery, json.dumps(payload))
    assert TOPICS.discovery == "homeassistant/device/f-001/config"
    assert expanded["device"]["identifiers"] == ["freshtap_f-001"]
    assert expanded["device"]["model"] == "FT-500" and expanded["device"]["sw_version"] == "1.2.3"
    assert expanded["origin"]["name"] == "freshtap"
    components = expanded["components"]
    assert {components[c]["platform"] for c in components} == {"sensor", "binary_sensor"}
    assert components["door"]["device_class"] == "door"
    assert components["temp_fridge"]["device_class"] == "temperature"
    assert set(components) >= {"temp_fridge", "temp_freezer", "door", "expiring_items", "expired_items"}
    item_components = {c for c in components if c.startswith("item_")}
    assert item_components == {item_component_id(i.item_id) for i in ITEMS}
    assert components[item_component_id("milk")]["options"] == FRESHNESS_OPTIONS


def test_state_templates_render_the_values_home_assistant_will_show() -> None:
    payload = discovery_payload(fridge_id="f-001", topics=TOPICS, config=CONFIG, compartments=["fridge", "freezer"],
                                items=ITEMS)
    components = payload["cmps"]
    state = json.dumps(device_state(ITEMS, TelemetryReading({"fridge": 3.8, "freezer": 0.0}, door_open=True)))
    assert render(components["temp_fridge"]["value_template"], state) == "3.8"
    assert render(components["temp_freezer"]["value_template"], state) == "0.0"  # zero is a reading, not unknown
    assert render(components["door"]["value_template"], state) == components["door"]["payload_on"]
    assert render(components["expiring_items"]["value_template"], state) == "1"
    assert render(components["expired_items"]["value_template"], state) == "1"
    # Before any telemetry the temperatures and the door are unknown ("None" to Home Assistant), not 0.
    unknown = json.dumps(device_state(ITEMS, None))
    assert render(components["temp_fridge"]["value_template"], unknown) == "None"
    assert render(components["door"]["value_template"], unknown) == "None"

    milk = components[item_component_id("milk")]
    milk_state = json.dumps(item_state(ITEMS[0]))
    assert render(milk["value_template"], milk_state) == "expiring"
    assert json.loads(milk_state)["expires_at"] == "2026-11-25T00:00:00Z"
    mystery = components[item_component_id("odd:id.1")]
    assert render(mystery["value_template"], json.dumps(item_state(ITEMS[3]))) == "None"
    assert mystery["state_topic"] == TOPICS.item(item_component_id("odd:id.1"))


def test_removed_items_are_sent_as_platform_only_and_ids_stay_distinct() -> None:
    payload = discovery_payload(fridge_id="f-001", topics=TOPICS, config=CONFIG, compartments=[], items=ITEMS[:1],
                                removed=["item_gone", item_component_id("milk")])
    check_device_discovery(TOPICS.discovery, json.dumps(payload))
    assert payload["cmps"]["item_gone"] == {"p": "sensor"}
    assert payload["cmps"][item_component_id("milk")]["p"] == "sensor"
    assert "unique_id" in payload["cmps"][item_component_id("milk")]  # present items are never removed
    assert item_component_id("a.b") != item_component_id("a_b")
    assert item_component_id("config") != "config"  # never a topic level Home Assistant reads as discovery


def test_item_sensors_are_bounded_most_urgent_first() -> None:
    config = HomeAssistantConfig(mqtt_url="mqtt://127.0.0.1:1883", max_item_sensors=2)
    payload = discovery_payload(fridge_id="f-001", topics=TOPICS, config=config, compartments=[], items=ITEMS)
    shown = {c for c in payload["cmps"] if c.startswith("item_")}
    assert shown == {item_component_id("ham"), item_component_id("milk")}


@pytest.mark.parametrize("node", ["", "a/b", "a+b", "a b"])
def test_bad_node_ids_are_refused(node: str) -> None:
    with pytest.raises(ValueError):
        HomeAssistantTopics("homeassistant", node)


def test_the_checker_catches_what_home_assistant_refuses() -> None:
    good = discovery_payload(fridge_id="f-001", topics=TOPICS, config=CONFIG, compartments=["fridge"], items=ITEMS)
    broken = [
        {k: v for k, v in good.items() if k != "o"},
        {**good, "dev": {"name": "no ids"}},
        {**good, "cmps": {**good["cmps"], "door": {**good["cmps"]["door"], "unique_id": None}}},
        {**good, "cmps": {**good["cmps"], "x": {"p": "toaster", "unique_id": "u"}}},
        {**good, "cmps": {**good["cmps"], "door": {**good["cmps"]["door"], "colour": "red"}}},
        {**good, "name": "not a shared option"},
    ]
    for payload in broken:
        with pytest.raises(AssertionError):
            check_device_discovery(TOPICS.discovery, json.dumps(payload))
    with pytest.raises(AssertionError):
        check_device_discovery("homeassistant/sensor/f-001/config", json.dumps(good))
