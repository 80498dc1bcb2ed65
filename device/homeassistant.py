"""Home Assistant MQTT device discovery for the fridge (optional, off by default).

One *device-based* discovery message (`<prefix>/device/<node_id>/config`, Home Assistant 2024.11+)
describes the whole fridge: the device (`dev`), the origin (`o`) and its components (`cmps`, each
with a platform `p` and a `unique_id`):

- one temperature `sensor` per compartment the fridge has reported,
- the door (`binary_sensor`, device class `door`),
- the number of expiring items and of expired items (`sensor`),
- one `sensor` per item: its freshness state (`fresh` / `use_soon` / `expiring` / `expired`,
  device class `enum`) with the item's facts (expiry, fill, compartment, GTIN) as attributes.

States go to `<prefix>/device/<node_id>/state` (the fridge) and `.../items/<component>` (one per
item), retained, so Home Assistant reads them whenever it subscribes; availability is
`.../availability` (`online`, and `offline` as the last will). The discovery message is sent on
every connect, whenever the set of sensors changes (an item removed is sent once more as `{"p":
"sensor"}`, which removes just that entity), and again whenever Home Assistant's birth message
(`<prefix>/status` = `online`) arrives. This module is the only place that spells these topics:
they are Home Assistant's, not freshtap contract topics.

The bridge keeps its own MQTT connection (client id `<fridge_id>-ha` by default), usually to the
household's own broker: a freshtap broker's ACL lets a fridge write only its own freshtap topics,
so using it needs an account allowed `<prefix>/device/<node_id>/#` and `<prefix>/status` (see
docs/home-assistant.md). paho stays inside `HomeAssistantBridge`; the payload builders are pure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

import freshtap
from freshtap.clock import Clock
from freshtap.contract import FreshnessState, InventoryItem, format_utc
from freshtap.settings import FreshnessSettings

from .broker_address import parse_mqtt_url
from .freshness import with_freshness

__all__ = [
    "DEFAULT_DISCOVERY_PREFIX",
    "FRESHNESS_OPTIONS",
    "FridgeItems",
    "HomeAssistantBridge",
    "HomeAssistantConfig",
    "HomeAssistantTopics",
    "TelemetryReading",
    "device_state",
    "discovery_payload",
    "item_component_id",
    "item_state",
]

log = logging.getLogger(__name__)

DEFAULT_DISCOVERY_PREFIX = "homeassistant"
FRESHNESS_OPTIONS = [s.value for s in FreshnessState]
_NODE_ID = re.compile(r"[A-Za-z0-9_-]+")
_PREFIX = re.compile(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*")
_MAX_TOMBSTONES = 200


# ---- topics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class HomeAssistantTopics:
    """Every Home Assistant topic the bridge uses, for one node."""

    prefix: str
    node_id: str

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"invalid discovery prefix {self.prefix!r}")
        if not _NODE_ID.fullmatch(self.node_id):
            raise ValueError(f"node id must be [A-Za-z0-9_-]+, got {self.node_id!r}")

    @property
    def discovery(self) -> str:
        return f"{self.prefix}/device/{self.node_id}/config"

    @property
    def birth(self) -> str:
        """Where Home Assistant says `online` when it (re)starts."""
        return f"{self.prefix}/status"

    @property
    def base(self) -> str:
        return f"{self.prefix}/device/{self.node_id}"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    def item(self, component_id: str) -> str:
        return f"{self.base}/items/{component_id}"


def item_component_id(item_id: str) -> str:
    """A component id for an item: `item_<id>`, with anything outside `[A-Za-z0-9_-]` replaced.

    When replacing changed the id, a short hash of the original keeps two items apart.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", item_id)
    if cleaned != item_id:
        cleaned = f"{cleaned}_{hashlib.sha1(item_id.encode(), usedforsecurity=False).hexdigest()[:6]}"
    return f"item_{cleaned}"


# ---- payloads (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class TelemetryReading:
    compartments: Mapping[str, float]
    door_open: bool | None


@dataclass(frozen=True)
class HomeAssistantConfig:
    mqtt_url: str
    """The broker Home Assistant listens to (`mqtt://host:port`)."""
    username: str | None = None
    password: str | None = None
    node_id: str | None = None
    """Defaults to the fridge id."""
    client_id: str | None = None
    """Defaults to `<fridge_id>-ha` (never the fridge id: that would take over the agent's own session)."""
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX
    device_name: str | None = None
    """Defaults to `Fridge <fridge_id>`."""
    manufacturer: str = "freshtap"
    model: str | None = None
    firmware: str | None = None
    configuration_url: str | None = None
    """Shown in Home Assistant as the device's link, e.g. the door screen's address."""
    support_url: str | None = None
    retain_discovery: bool = False
    """Retain the discovery message too (it is re-sent on every birth message either way)."""
    refresh_seconds: float = 5.0
    """How often the fridge is re-read for changed states (besides `refresh()`)."""
    max_item_sensors: int = 100
    """At most this many item sensors (the most urgent first), to bound the discovery message."""
    keepalive: int = 30
    reconnect_min_delay: int = 1
    reconnect_max_delay: int = 60
    freshness: FreshnessSettings = field(default_factory=FreshnessSettings)

    def __post_init__(self) -> None:
        parse_mqtt_url(self.mqtt_url)
        if self.refresh_seconds <= 0 or self.max_item_sensors < 0:
            raise ValueError("refresh_seconds must be positive and max_item_sensors not negative")


def _state_of(item: InventoryItem) -> str | None:
    return None if item.freshness is None else item.freshness.state.value


_URGENCY = {FreshnessState.EXPIRED.value: 0, FreshnessState.EXPIRING.value: 1, FreshnessState.USE_SOON.value: 2}


def _shown_items(items: Sequence[InventoryItem], limit: int) -> list[InventoryItem]:
    ranked = sorted(
        items,
        key=lambda i: (
            _URGENCY.get(_state_of(i) or "", 3),
            i.freshness.expires_at.isoformat() if i.freshness and i.freshness.expires_at else "~",
            i.item_id,
        ),
    )
    return ranked[:limit]


def discovery_payload(
    *,
    fridge_id: str,
    topics: HomeAssistantTopics,
    config: HomeAssistantConfig,
    compartments: Iterable[str],
    items: Sequence[InventoryItem],
    removed: Iterable[str] = (),
) -> dict[str, Any]:
    """The device discovery message; `items` carry their freshness; `removed` are component ids to drop."""
    uid = f"freshtap_{fridge_id}"
    device: dict[str, Any] = {
        "ids": [uid],
        "name": config.device_name or f"Fridge {fridge_id}",
        "mf": config.manufacturer,
        "sn": fridge_id,
    }
    if config.model:
        device["mdl"] = config.model
    if config.firmware:
        device["sw"] = config.firmware
    if config.configuration_url:
        device["cu"] = config.configuration_url
    origin: dict[str, Any] = {"name": "freshtap", "sw": freshtap.__version__}
    if config.support_url:
        origin["url"] = config.support_url
    components: dict[str, dict[str, Any]] = {}
    for cid in sorted(set(compartments)):
        if not _NODE_ID.fullmatch(cid):
            continue
        components[f"temp_{cid}"] = {
            "p": "sensor",
            "name": f"{cid.capitalize()} temperature",
            "unique_id": f"{uid}_temp_{cid}",
            "device_class": "temperature",
            "state_class": "measurement",
            "unit_of_measurement": "°C",
            "suggested_display_precision": 1,
            "value_template": f"{{{{ value_json.compartments['{cid}'] | default('None') }}}}",
        }
    components["door"] = {
        "p": "binary_sensor",
        "name": "Door",
        "unique_id": f"{uid}_door",
        "device_class": "door",
        "payload_on": "open",
        "payload_off": "closed",
        "value_template": "{{ value_json.door | default('None') }}",
    }
    components["expiring_items"] = {
        "p": "sensor",
        "name": "Expiring items",
        "unique_id": f"{uid}_expiring_items",
        "state_class": "measurement",
        "icon": "mdi:clock-alert-outline",
        "value_template": "{{ value_json.expiring_items }}",
    }
    components["expired_items"] = {
        "p": "sensor",
        "name": "Expired items",
        "unique_id": f"{uid}_expired_items",
        "state_class": "measurement",
        "icon": "mdi:delete-clock-outline",
        "value_template": "{{ value_json.expired_items }}",
    }
    for item in _shown_items(items, config.max_item_sensors):
        component = item_component_id(item.item_id)
        components[component] = {
            "p": "sensor",
            "name": item.name,
            "unique_id": f"{uid}_{component}",
            "device_class": "enum",
            "options": FRESHNESS_OPTIONS,
            "icon": "mdi:food-apple-outline",
            "state_topic": topics.item(component),
            "value_template": "{{ value_json.state | default('None') }}",
            "json_attributes_topic": topics.item(component),
        }
    for component in removed:
        if component not in components:
            components[component] = {"p": "sensor"}
    return {
        "dev": device,
        "o": origin,
        "cmps": components,
        "state_topic": topics.state,
        "availability_topic": topics.availability,
        "qos": 1,
    }


def device_state(items: Sequence[InventoryItem], telemetry: TelemetryReading | None) -> dict[str, Any]:
    """The fridge-wide state message (`items` carry their freshness)."""
    states = [_state_of(i) for i in items]
    return {
        "compartments": {} if telemetry is None else {k: round(v, 2) for k, v in telemetry.compartments.items()},
        "door": None
        if telemetry is None or telemetry.door_open is None
        else ("open" if telemetry.door_open else "closed"),
        "expiring_items": states.count(FreshnessState.EXPIRING.value),
        "expired_items": states.count(FreshnessState.EXPIRED.value),
        "items": len(items),
    }


def item_state(item: InventoryItem) -> dict[str, Any]:
    """One item's state message: its freshness state, and its facts as attributes."""
    freshness = item.freshness
    return {
        "state": None if freshness is None else freshness.state.value,
        "expires_at": None if freshness is None or freshness.expires_at is None else format_utc(freshness.expires_at),
        "basis": None if freshness is None else freshness.basis.value,
        "name": item.name,
        "category": item.category,
        "compartment": item.compartment,
        "fill": item.fill,
        "quantity": item.quantity,
        "gtin": item.gtin,
        "label_expiry": None if item.label_expiry is None else item.label_expiry.isoformat(),
        "opened": item.opened_at is not None,
        "item_id": item.item_id,
    }


# ---- the bridge --------------------------------------------------------------------------


class FridgeItems(Protocol):
    """What the bridge reads from the agent (`FridgeAgent` satisfies it)."""

    @property
    def fridge_id(self) -> str: ...

    @property
    def items(self) -> tuple[InventoryItem, ...]: ...


@dataclass
class _Published:
    components: frozenset[str] = frozenset()
    device: str | None = None
    items: dict[str, str] = field(default_factory=dict)


class HomeAssistantBridge:
    """Publishes the fridge to Home Assistant; `start()`/`stop()`, a constructor that does no work.

    paho's callbacks only record what happened and wake the worker thread, which does all the
    publishing, so a slow broker never blocks paho's network loop.
    """

    def __init__(self, fridge: FridgeItems, clock: Clock, config: HomeAssistantConfig) -> None:
        self._fridge = fridge
        self._clock = clock
        self._config = config
        self._topics = HomeAssistantTopics(config.discovery_prefix, config.node_id or fridge.fridge_id)
        self._client: mqtt.Client | None = None
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._announce = False
        self._telemetry: TelemetryReading | None = None
        self._compartments: set[str] = set()
        self._published = _Published()
        self._tombstones: list[str] = []
        self._discoveries = 0
        self._births = 0

    @property
    def topics(self) -> HomeAssistantTopics:
        return self._topics

    @property
    def discoveries_sent(self) -> int:
        """How many discovery messages went out (for tests and diagnostics)."""
        with self._lock:
            return self._discoveries

    @property
    def births_seen(self) -> int:
        with self._lock:
            return self._births

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._client is not None:
            raise RuntimeError("the Home Assistant bridge is already started")
        config = self._config
        address = parse_mqtt_url(config.mqtt_url)
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=config.client_id or f"{self._fridge.fridge_id}-ha",
            clean_session=True,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        if config.username is not None:
            client.username_pw_set(config.username, config.password)
        client.will_set(self._topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(config.reconnect_min_delay, config.reconnect_max_delay)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self._stopping.clear()
        self._worker = threading.Thread(target=self._work, name="ha-discovery", daemon=True)
        self._worker.start()
        client.connect_async(address.host, address.port, keepalive=config.keepalive)
        client.loop_start()

    def stop(self, timeout: float = 5.0) -> None:
        client = self._client
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout)
        if client is not None:
            if self._connected.is_set():
                info = client.publish(self._topics.availability, "offline", qos=1, retain=True)
                with contextlib.suppress(RuntimeError, ValueError):  # the connection went meanwhile
                    info.wait_for_publish(timeout)
            client.disconnect()
            client.loop_stop()
        self._connected.clear()
        self._client = None
        self._worker = None

    # ---- inputs -------------------------------------------------------------------------

    def record_telemetry(self, compartments: Mapping[str, float], door_open: bool | None) -> None:
        with self._lock:
            self._telemetry = TelemetryReading(dict(compartments), door_open)
            self._compartments.update(compartments)
        self._wake.set()

    def refresh(self) -> None:
        """Publish what changed now (after the inventory changed) rather than at the next tick."""
        self._wake.set()

    # ---- paho callbacks (network thread: record and wake, nothing more) -----------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            log.warning("Home Assistant broker refused the connection: %s", reason)
            return
        client.subscribe(self._topics.birth, qos=1)
        client.publish(self._topics.availability, "online", qos=1, retain=True)
        with self._lock:
            self._announce = True
        self._connected.set()
        self._wake.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        self._connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self._topics.birth and message.payload.strip() == b"online":
            with self._lock:
                self._births += 1
                self._announce = True
            self._wake.set()

    # ---- the worker ---------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self._config.refresh_seconds)
            self._wake.clear()
            if self._stopping.is_set() or not self._connected.is_set():
                continue
            try:
                self._publish()
            except Exception:
                log.exception("Home Assistant discovery: publishing failed")

    def _publish(self) -> None:
        client = self._client
        if client is None:
            return
        now = self._clock.now()
        items = [with_freshness(i, now, self._config.freshness) for i in self._fridge.items]
        shown = _shown_items(items, self._config.max_item_sensors)
        by_component = {item_component_id(i.item_id): i for i in shown}
        with self._lock:
            announce, self._announce = self._announce, False
            telemetry = self._telemetry
            compartments = set(self._compartments)
        components = frozenset(by_component) | frozenset(f"temp_{c}" for c in compartments)
        published = self._published
        gone = [c for c in published.components - components if c.startswith("item_")]
        if gone:
            self._tombstones = (self._tombstones + [c for c in gone if c not in self._tombstones])[-_MAX_TOMBSTONES:]
        if announce or components != published.components:
            payload = discovery_payload(
                fridge_id=self._fridge.fridge_id,
                topics=self._topics,
                config=self._config,
                compartments=compartments,
                items=shown,
                removed=[c for c in self._tombstones if c not in components],
            )
            client.publish(
                self._topics.discovery,
                json.dumps(payload, ensure_ascii=False),
                qos=1,
                retain=self._config.retain_discovery,
            )
            with self._lock:
                self._discoveries += 1
            published.components = components
            announce = True  # states follow a (re)announcement, even if unchanged
        for component in gone:
            client.publish(self._topics.item(component), b"", qos=1, retain=True)  # clears the retained state
            published.items.pop(component, None)
        device = json.dumps(device_state(items, telemetry), sort_keys=True)
        if announce or device != published.device:
            client.publish(self._topics.state, device, qos=1, retain=True)
            published.device = device
        for component, item in by_component.items():
            state = json.dumps(item_state(item), sort_keys=True, ensure_ascii=False)
            if announce or published.items.get(component) != state:
                client.publish(self._topics.item(component), state, qos=1, retain=True)
                published.items[component] = state
