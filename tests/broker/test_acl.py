"""The broker's access rules (acl.py), as pure functions: who may publish, subscribe and receive what."""

from __future__ import annotations

from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshtap.contract import DEVICE_TO_SERVER, SERVER_TO_DEVICE, Channel, subscription_filter, topic
from freshtap.server.broker.acl import Principal, may_publish, may_receive, may_subscribe

A = Principal("fridge-a", "fridge", "fridge-a")
SERVER = Principal("freshtap-server", "server", None)
D2S = sorted(DEVICE_TO_SERVER)
S2D = sorted(SERVER_TO_DEVICE)


@pytest.mark.parametrize("channel", D2S)
def test_a_fridge_publishes_only_its_own_device_to_server_topics(channel: Channel) -> None:
    assert may_publish(A, topic("fridge-a", channel))
    assert not may_publish(A, topic("fridge-b", channel))


@pytest.mark.parametrize("channel", S2D)
def test_a_fridge_never_publishes_server_to_device_topics(channel: Channel) -> None:
    assert not may_publish(A, topic("fridge-a", channel))
    assert not may_publish(A, topic("fridge-b", channel))


@pytest.mark.parametrize("channel", S2D)
def test_a_fridge_subscribes_to_and_receives_only_its_own_server_to_device_topics(channel: Channel) -> None:
    assert may_subscribe(A, topic("fridge-a", channel))
    assert may_receive(A, topic("fridge-a", channel))
    assert not may_subscribe(A, topic("fridge-b", channel))
    assert not may_receive(A, topic("fridge-b", channel))


@pytest.mark.parametrize(
    "topic_filter",
    [
        "#",
        "+",
        "freshtap/#",
        "freshtap/v1/fridges/#",
        "freshtap/v1/fridges/+/offers",
        "freshtap/v1/fridges/fridge-a/+",
        "freshtap/v1/fridges/fridge-a/#",
        "freshtap/v1/fridges/fridge-a/offers/#",
        "$share/g/freshtap/v1/fridges/fridge-a/offers",
        "$SYS/#",
        "freshtap/v1/fridges/fridge-a/state",  # its own, but device -> server
        "freshtap/v1/fridges/fridge-a/offers/",
        "freshtap/v1/fridges/fridge-a/offers/x",
        "/freshtap/v1/fridges/fridge-a/offers",
        "freshtap/v2/fridges/fridge-a/offers",
        "",
    ],
)
def test_a_fridge_may_not_subscribe_with_wildcards_or_to_anything_else(topic_filter: str) -> None:
    assert not may_subscribe(A, topic_filter)


@pytest.mark.parametrize("channel", S2D)
def test_the_server_publishes_server_to_device_topics_of_any_fridge(channel: Channel) -> None:
    assert may_publish(SERVER, topic("fridge-a", channel))
    assert may_publish(SERVER, topic("any_other-1", channel))


@pytest.mark.parametrize("channel", D2S)
def test_the_server_never_publishes_as_a_fridge(channel: Channel) -> None:
    assert not may_publish(SERVER, topic("fridge-a", channel))
    assert not may_publish(SERVER, topic("freshtap-server", channel))


@pytest.mark.parametrize("channel", D2S)
def test_the_server_subscribes_to_device_to_server_channels_of_every_fridge(channel: Channel) -> None:
    assert may_subscribe(SERVER, subscription_filter(channel))
    assert may_subscribe(SERVER, subscription_filter(channel, share_group="workers"))
    assert may_subscribe(SERVER, subscription_filter(channel, "fridge-a"))
    assert may_receive(SERVER, topic("fridge-a", channel))


@pytest.mark.parametrize(
    "topic_filter",
    [
        "#",
        "freshtap/#",
        "freshtap/v1/fridges/#",
        "freshtap/v1/fridges/+/#",
        "freshtap/v1/fridges/+/+",
        "freshtap/v1/fridges/+/offers",
        "freshtap/v1/fridges/+/notices",
        "freshtap/v1/fridges/fridge-a/offers",
        "freshtap/v1/fridges/f+/state",
        "freshtap/v1/fridges/+/state/#",
        "freshtap/v1/+/+/state",
        "$share/g/#",
        "$share/g/freshtap/v1/fridges/#",
        "$share//freshtap/v1/fridges/+/state",
        "$share/a/b/freshtap/v1/fridges/+/state",
        "$share/g",
        "$SYS/#",
        "",
    ],
)
def test_the_server_may_not_subscribe_to_anything_else(topic_filter: str) -> None:
    assert not may_subscribe(SERVER, topic_filter)


@pytest.mark.parametrize("channel", S2D)
def test_the_server_does_not_receive_server_to_device_messages(channel: Channel) -> None:
    assert not may_receive(SERVER, topic("fridge-a", channel))


def test_principals_keep_their_invariants() -> None:
    with pytest.raises(ValueError):
        Principal("fridge-a", "fridge", None)
    with pytest.raises(ValueError):
        Principal("someone-else", "fridge", "fridge-a")
    with pytest.raises(ValueError):
        Principal("bad/id", "fridge", "bad/id")
    with pytest.raises(ValueError):
        Principal("freshtap-server", "server", "fridge-a")
    with pytest.raises(ValueError):
        Principal("", "server", None)
    with pytest.raises(ValueError):
        Principal("x", cast(Any, "admin"), None)


_level = st.text(alphabet="ab+#/$-_0f", max_size=12)


@given(topic_filter=st.builds(lambda *parts: "/".join(parts), *[_level] * 5) | st.text(max_size=80))
def test_nothing_outside_the_rules_is_allowed(topic_filter: str) -> None:
    """Default deny: every allowed filter is one the contract's own builders produce."""
    fridge_allowed = {topic("fridge-a", channel) for channel in S2D}
    server_allowed = {
        subscription_filter(channel, fridge_id, group)
        for channel in D2S
        for fridge_id in (None, "fridge-a")
        for group in (None, "g")
    }
    if may_subscribe(A, topic_filter):
        assert topic_filter in fridge_allowed
    if may_subscribe(SERVER, topic_filter) and "fridge-a" in topic_filter.split("/"):
        assert topic_filter in server_allowed
    if may_publish(A, topic_filter):
        assert topic_filter in {topic("fridge-a", channel) for channel in D2S}
    if may_publish(SERVER, topic_filter) or may_receive(SERVER, topic_filter) or may_receive(A, topic_filter):
        assert "+" not in topic_filter and "#" not in topic_filter
