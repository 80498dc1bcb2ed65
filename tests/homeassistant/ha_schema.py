"""Home Assistant's documented MQTT *device* discovery shape, as a checker for tests.

Mirrors what Home Assistant (2024.11+) applies to `<prefix>/device/<object_id>/config`: the topic
pattern of its discovery subscriber, its abbreviations, `DEVICE_DISCOVERY_SCHEMA` (a `device` with an
identifier, an `origin` with a `name`, `components` each with a supported `platform`, and only the
shared options it allows at the root), `unique_id` on every entity component, a component holding only
`platform` meaning "remove it", and the keys the sensor / binary_sensor platforms accept (their
schemas refuse unknown keys). Values are rendered with Jinja, as Home Assistant renders templates.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jinja2

TOPIC = re.compile(r"(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config")

ROOT_ABBREVIATIONS = {
    "dev": "device", "o": "origin", "cmps": "components", "p": "platform", "uniq_id": "unique_id",
    "stat_t": "state_topic", "cmd_t": "command_topic", "avty_t": "availability_topic", "avty": "availability",
    "avty_mode": "availability_mode", "avty_tpl": "availability_template", "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available", "val_tpl": "value_template", "dev_cla": "device_class",
    "stat_cla": "state_class", "unit_of_meas": "unit_of_measurement", "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template", "pl_on": "payload_on", "pl_off": "payload_off", "ic": "icon",
    "ops": "options", "e": "encoding", "exp_aft": "expire_after", "frc_upd": "force_update",
    "ent_cat": "entity_category", "en": "enabled_by_default", "obj_id": "object_id",
    "sug_dsp_prc": "suggested_display_precision", "off_dly": "off_delay",
}
DEVICE_ABBREVIATIONS = {
    "cns": "connections", "cu": "configuration_url", "ids": "identifiers", "mf": "manufacturer", "mdl": "model",
    "mdl_id": "model_id", "hw": "hw_version", "sw": "sw_version", "sa": "suggested_area", "sn": "serial_number",
    "name": "name", "via_device": "via_device",
}
ORIGIN_ABBREVIATIONS = {"sw": "sw_version", "url": "support_url", "name": "name"}

SUPPORTED_PLATFORMS = {
    "alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover", "device_automation",
    "device_tracker", "event", "fan", "humidifier", "image", "lawn_mower", "light", "lock", "notify", "number",
    "scene", "select", "sensor", "siren", "switch", "tag", "text", "update", "vacuum", "valve", "water_heater",
}
ROOT_OPTIONS = {
    "device", "origin", "components", "availability", "availability_topic", "availability_template",
    "availability_mode", "payload_available", "payload_not_available", "state_topic", "command_topic", "qos",
    "encoding",
}
DEVICE_OPTIONS = set(DEVICE_ABBREVIATIONS.values())
ORIGIN_OPTIONS = {"name", "sw_version", "support_url"}
_ENTITY_COMMON = {
    "platform", "name", "unique_id", "icon", "entity_category", "enabled_by_default", "object_id",
    "default_entity_id", "entity_picture", "json_attributes_topic", "json_attributes_template", "availability",
    "availability_topic", "availability_template", "availability_mode", "payload_available",
    "payload_not_available", "qos", "encoding", "state_topic", "value_template", "device_class", "expire_after",
    "force_update",
}
PLATFORM_OPTIONS = {
    "sensor": _ENTITY_COMMON | {"state_class", "unit_of_measurement", "suggested_display_precision", "options",
                                "last_reset_value_template"},
    "binary_sensor": _ENTITY_COMMON | {"payload_on", "payload_off", "off_delay"},
}
SENSOR_DEVICE_CLASSES = {"temperature", "enum", "timestamp", "duration", "humidity"}
BINARY_SENSOR_DEVICE_CLASSES = {"door", "opening", "problem", "connectivity"}


def _expand(mapping: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
    return {table.get(key, key): value for key, value in mapping.items()}


def _valid_publish_topic(topic: Any) -> bool:
    return isinstance(topic, str) and bool(topic) and "+" not in topic and "#" not in topic and "\0" not in topic


def check_device_discovery(topic: str, payload: bytes | str, prefix: str = "homeassistant") -> dict[str, Any]:
    """The expanded payload; `AssertionError` naming the first way it breaks Home Assistant's rules."""
    assert topic.startswith(prefix + "/"), topic
    match = TOPIC.fullmatch(topic[len(prefix) + 1 :])
    assert match is not None, f"not a discovery topic Home Assistant subscribes to: {topic}"
    assert match["component"] == "device", f"device discovery needs <prefix>/device/..., got {topic}"
    raw = json.loads(payload)
    assert isinstance(raw, dict), "payload must be a JSON object"
    root = _expand(raw, ROOT_ABBREVIATIONS)
    unknown = set(root) - ROOT_OPTIONS
    assert not unknown, f"options not allowed at the root of a device discovery: {sorted(unknown)}"
    assert isinstance(root.get("device"), dict), "device (dev) is required"
    device = _expand(root["device"], DEVICE_ABBREVIATIONS)
    assert set(device) <= DEVICE_OPTIONS, f"unknown device options {set(device) - DEVICE_OPTIONS}"
    identifiers = device.get("identifiers")
    identifiers = [identifiers] if isinstance(identifiers, str) else identifiers
    assert identifiers or device.get("connections"), "device needs identifiers or connections"
    assert all(isinstance(i, str) and i for i in identifiers or []), "identifiers are strings"
    root["device"] = device
    assert isinstance(root.get("origin"), dict), "origin (o) is required"
    origin = _expand(root["origin"], ORIGIN_ABBREVIATIONS)
    assert isinstance(origin.get("name"), str) and origin["name"], "origin needs a name"
    assert set(origin) <= ORIGIN_OPTIONS, f"unknown origin options {set(origin) - ORIGIN_OPTIONS}"
    root["origin"] = origin
    assert isinstance(root.get("components"), dict) and root["components"], "components (cmps) is required"
    for key in ("state_topic", "availability_topic"):
        if key in root:
            assert _valid_publish_topic(root[key]), f"{key} is not a valid topic"
    if "qos" in root:
        assert root["qos"] in (0, 1, 2)
    components: dict[str, dict[str, Any]] = {}
    unique_ids: set[str] = set()
    for component_id, raw_component in root["components"].items():
        assert isinstance(raw_component, dict), component_id
        component = _expand(raw_component, ROOT_ABBREVIATIONS)
        platform = component.get("platform")
        assert platform in SUPPORTED_PLATFORMS, f"{component_id}: platform {platform!r} is not supported"
        components[component_id] = component
        if set(component) == {"platform"}:
            continue  # a removal marker
        allowed = PLATFORM_OPTIONS.get(platform)
        if allowed is not None:
            unknown = set(component) - allowed
            assert not unknown, f"{component_id}: {platform} does not accept {sorted(unknown)}"
        unique_id = component.get("unique_id")
        assert isinstance(unique_id, str) and unique_id, f"{component_id}: unique_id is required"
        assert unique_id not in unique_ids, f"{component_id}: unique_id {unique_id} is not unique"
        unique_ids.add(unique_id)
        state_topic = component.get("state_topic", root.get("state_topic"))
        assert _valid_publish_topic(state_topic), f"{component_id}: no valid state topic"
        if platform == "sensor":
            device_class = component.get("device_class")
            assert device_class is None or device_class in SENSOR_DEVICE_CLASSES, device_class
            if device_class == "enum":
                assert component.get("options"), f"{component_id}: an enum sensor lists its options"
                assert "state_class" not in component and "unit_of_measurement" not in component
            if device_class == "temperature":
                assert component.get("unit_of_measurement") in ("°C", "°F", "K")
        if platform == "binary_sensor":
            assert component.get("device_class") in BINARY_SENSOR_DEVICE_CLASSES | {None}
        if "value_template" in component:
            jinja2.Environment().parse(component["value_template"])
    root["components"] = components
    return root


def render(template: str, payload: bytes | str) -> str:
    """What Home Assistant's `value_template` gives for `payload` (its `value_json`)."""
    return jinja2.Environment().from_string(template).render(value_json=json.loads(payload), value=payload)
