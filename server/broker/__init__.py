"""The MQTT broker side of freshtap: access rules, the embedded amqtt broker, Mosquitto files.

- `acl`: who may publish, subscribe to and receive which topic (pure rules).
- `embedded`: amqtt 0.12.1 run in its own thread, with authentication before the session
  lookup, the topic rules, packet size limits and refusal counters.
- `mosquitto`: the password, ACL and config files that make Mosquitto 2.0 enforce the same rules.
- `limits` (pure) and `gatekeeper`: publish quotas, connection rates and bans (embedded broker);
  `dynsec`: bans on Mosquitto through its dynamic security plugin.
"""

from freshtap.server.broker.acl import Principal, may_publish, may_receive, may_subscribe
from freshtap.server.broker.embedded import Authenticator, EmbeddedBroker
from freshtap.server.broker.mosquitto import MosquittoAccount, mosquitto_password_hash, write_mosquitto_files

__all__ = [
    "Authenticator",
    "EmbeddedBroker",
    "MosquittoAccount",
    "Principal",
    "may_publish",
    "may_receive",
    "may_subscribe",
    "mosquitto_password_hash",
    "write_mosquitto_files",
]
