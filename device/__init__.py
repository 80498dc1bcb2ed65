"""The agent on the fridge: local inventory and freshness, spoken over MQTT per the contract.

Parts, each with `start()`/`stop()` and a constructor that does no work: `SeqStore` (the durable,
ever-growing `seq`), `Uplink` (the one MQTT connection) and `FridgeAgent`, which composes them.
Label reading lives in `freshtap.device.labels`.
"""

from .agent import AgentConfig, FridgeAgent
from .broker_address import BrokerAddress, parse_mqtt_url
from .delivery import Delivery
from .seqstore import SeqStore, SeqStoreError
from .uplink import ConnectionState, QueueFull, Uplink, UplinkConfig, UplinkError, UplinkStats

__all__ = [
    "AgentConfig",
    "BrokerAddress",
    "ConnectionState",
    "Delivery",
    "FridgeAgent",
    "QueueFull",
    "SeqStore",
    "SeqStoreError",
    "Uplink",
    "UplinkConfig",
    "UplinkError",
    "UplinkStats",
    "parse_mqtt_url",
]
