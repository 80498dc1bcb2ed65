"""The agent on the fridge: local inventory and freshness, spoken over MQTT per the contract.

Parts, each with `start()`/`stop()` and a constructor that does no work: `SeqStore` (the durable,
ever-growing `seq`), `DeviceStore` (one SQLite file: the on-disk `Outbox` and state that commits
with it), `Uplink` (the one MQTT connection, fed from the outbox) and `FridgeAgent`, which
composes them. `freshtap.device.fridge_device.FridgeDevice` adds the hardware: a `FirmwareLink`
to the fridge's controller (docs/firmware-protocol.md), the `tracker` that turns load cells and
camera frames into inventory events, sensor health, alarms and the measured temperatures behind
freshness; it is not imported here, so an agent alone (the simulator's) stays free of OpenCV.
Label reading lives in `freshtap.device.labels`.
"""

from .agent import AgentConfig, FridgeAgent, TemperatureHistory
from .broker_address import BrokerAddress, parse_mqtt_url
from .delivery import Delivery
from .device_store import DeviceStore, DeviceStoreError, Transaction
from .errors import QueueFull, UplinkError
from .outbox import DroppedMessage, Outbox, OutboxLimits, QueuedMessage
from .seqstore import SeqStore, SeqStoreError
from .uplink import ConnectionState, Uplink, UplinkConfig, UplinkStats

__all__ = [
    "AgentConfig",
    "BrokerAddress",
    "ConnectionState",
    "Delivery",
    "DeviceStore",
    "DeviceStoreError",
    "DroppedMessage",
    "FridgeAgent",
    "Outbox",
    "OutboxLimits",
    "QueueFull",
    "QueuedMessage",
    "SeqStore",
    "SeqStoreError",
    "TemperatureHistory",
    "Transaction",
    "Uplink",
    "UplinkConfig",
    "UplinkError",
    "UplinkStats",
    "parse_mqtt_url",
]
