"""Who may publish, subscribe to and receive which freshtap topic: the broker's access rules.

Pure functions over a `Principal` and a topic string; no broker, no I/O. Everything not allowed
below is denied:

- a fridge publishes only to its own device -> server topics and subscribes to (and receives)
  only its own server -> device topics, each exactly, with no wildcards;
- the server publishes only to server -> device topics of any valid fridge id, and subscribes to
  device -> server channels, either of one fridge or of every fridge (`+` in the fridge level),
  also as an MQTT shared subscription (`$share/GROUP/...`); never `#`.

The embedded broker calls these from its amqtt plugin; the Mosquitto ACL file written by
`mosquitto.py` expresses the same rules. Topics are parsed with the contract's helpers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from freshtap.contract import (
    DEVICE_TO_SERVER,
    SERVER_TO_DEVICE,
    Channel,
    parse_topic,
    subscription_filter,
    validate_fridge_id,
)

__all__ = ["Principal", "Role", "may_publish", "may_receive", "may_subscribe"]

Role = Literal["fridge", "server"]

_SHARE_PREFIX = "$share/"


@dataclass(frozen=True)
class Principal:
    """An authenticated broker client.

    A fridge's username is its fridge id (brokers match `%u` against the topic), so a fridge
    principal must carry `fridge_id == username`; the server carries no fridge id.
    """

    username: str
    role: Role
    fridge_id: str | None

    def __post_init__(self) -> None:
        if self.role == "fridge":
            if self.fridge_id is None:
                raise ValueError("a fridge principal needs a fridge_id")
            validate_fridge_id(self.fridge_id)
            if self.username != self.fridge_id:
                raise ValueError(f"a fridge's username must be its fridge id: {self.username!r}")
        elif self.role == "server":
            if self.fridge_id is not None:
                raise ValueError("a server principal has no fridge_id")
            if not self.username:
                raise ValueError("a server principal needs a username")
        else:
            raise ValueError(f"unknown role: {self.role!r}")


def _parse(topic_name: str) -> tuple[str, Channel] | None:
    try:
        fridge_id, channel = parse_topic(topic_name)
        return fridge_id, channel
    except ValueError:
        return None


def may_publish(principal: Principal, topic_name: str) -> bool:
    """Whether `principal` may publish to the concrete topic `topic_name`."""
    parsed = _parse(topic_name)
    if parsed is None:
        return False
    fridge_id, channel = parsed
    if principal.role == "fridge":
        return fridge_id == principal.fridge_id and channel in DEVICE_TO_SERVER
    return channel in SERVER_TO_DEVICE


def may_receive(principal: Principal, topic_name: str) -> bool:
    """Whether a message published on the concrete topic `topic_name` may be delivered to `principal`."""
    parsed = _parse(topic_name)
    if parsed is None:
        return False
    fridge_id, channel = parsed
    if principal.role == "fridge":
        return fridge_id == principal.fridge_id and channel in SERVER_TO_DEVICE
    return channel in DEVICE_TO_SERVER


def may_subscribe(principal: Principal, topic_filter: str) -> bool:
    """Whether `principal` may subscribe with `topic_filter`."""
    if principal.role == "fridge":
        # Exact topics only: a wildcard or shared form never names just this fridge's topics.
        return not _has_wildcard(topic_filter) and may_receive(principal, topic_filter)
    return _is_server_filter(topic_filter)


def _has_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter or topic_filter.startswith("$")


def _is_server_filter(topic_filter: str) -> bool:
    share_group: str | None = None
    rest = topic_filter
    if topic_filter.startswith(_SHARE_PREFIX):
        share_group, slash, rest = topic_filter[len(_SHARE_PREFIX) :].partition("/")
        if not slash:
            return False
    # Rebuild the allowed filters with the contract's own builder and compare: anything else
    # (`#`, extra levels, partial wildcards, bad ids or share groups) is refused.
    try:
        allowed = {subscription_filter(channel, share_group=share_group) for channel in DEVICE_TO_SERVER}
        parsed = _parse(rest)
        if parsed is not None and parsed[1] in DEVICE_TO_SERVER:
            allowed.add(subscription_filter(parsed[1], parsed[0], share_group))
    except ValueError:
        return False
    return topic_filter in allowed
