"""Logins and topic rules on each broker freshtap supports: the embedded amqtt and Mosquitto 2.0.

The same tests run against both (the `broker` fixture); real paho clients, MQTT 3.1.1. A message
"never arrives" is shown with a control message sent after it by the same publisher: brokers
route one connection's messages in order, so once the control has arrived the refused message
would have too.
"""

from __future__ import annotations

import itertools
import json

import pytest

from freshtap.contract import DEVICE_TO_SERVER, SERVER_TO_DEVICE, Channel, subscription_filter, topic
from freshtap.server.broker.acl import may_publish
from tests.broker.conftest import Endpoint, MqttClient

A, B = "fridge-a", "fridge-b"
CONTROL = b"control"


def control(client: MqttClient, to: MqttClient, topic_name: str) -> None:
    """`client` publishes a control message on `topic_name`; wait until `to` has it.

    What `to` received before the control stays in its queue, for the test to look at.
    """
    client.publish(topic_name, CONTROL)
    before = []
    while True:
        message = to.next_message()  # queue.Empty if the control never arrives
        if message.payload == CONTROL and message.topic == topic_name:
            break
        before.append(message)
    for message in before:
        to.messages.put(message)


def received(client: MqttClient) -> list[tuple[str, bytes]]:
    return [(m.topic, bytes(m.payload)) for m in client.drain() if m.payload != CONTROL]


def test_logins_without_valid_credentials_are_refused(broker: Endpoint) -> None:
    a = broker.accounts["a"]
    host, port = broker.host, broker.port
    attempts = {
        "anonymous": MqttClient(host, port, client_id=A),
        "wrong password": MqttClient(host, port, client_id=A, username=A, password="wrong"),
        "username only": MqttClient(host, port, client_id=A, username=A),
        "unknown user": MqttClient(host, port, client_id="x", username="x", password=a.password),
        "another's password": MqttClient(host, port, client_id=B, username=B, password=a.password),
    }
    for what, client in attempts.items():
        with client:
            reason = client.connect()
            assert reason.is_failure, f"{what}: {reason}"
    if broker.embedded is not None:
        assert broker.embedded.refusals["auth_refused"] == len(attempts)


def test_fridges_and_the_server_log_in_with_their_credentials(broker: Endpoint) -> None:
    for key in ("a", "b", "server"):
        with broker.client(key) as client:
            assert not client.connect().is_failure


def test_a_fridge_cannot_publish_to_another_fridges_topics(broker: Endpoint) -> None:
    with (
        broker.client("server").connect_ok() as server,
        broker.client("a").connect_ok() as a,
        broker.client("b").connect_ok() as b,
    ):
        for channel in DEVICE_TO_SERVER:
            assert server.subscribe(subscription_filter(channel)) == 1
        assert b.subscribe(topic(B, Channel.OFFERS)) == 1
        for channel in Channel:
            a.publish(topic(B, channel), b'{"spoofed": true}')
        control(a, server, topic(A, Channel.STATE))
        control(server, b, topic(B, Channel.OFFERS))
        assert received(server) == []
        assert received(b) == []
    if broker.embedded is not None:
        assert broker.embedded.refusals["publish_denied"] == len(Channel)


def test_a_fridge_cannot_subscribe_to_another_fridges_topics_nor_everything(broker: Endpoint) -> None:
    forbidden = [
        topic(B, Channel.OFFERS),
        topic(B, Channel.NOTICES),
        topic(B, Channel.STATE),
        "#",
        "freshtap/#",
        subscription_filter(Channel.OFFERS),
        subscription_filter(Channel.STATE),
    ]
    with broker.client("server").connect_ok() as server, broker.client("a").connect_ok() as a:
        codes = {topic_filter: a.subscribe(topic_filter) for topic_filter in forbidden}
        if broker.kind == "embedded":
            assert set(codes.values()) == {0x80}
            assert broker.embedded is not None
            assert broker.embedded.refusals["subscribe_denied"] == len(forbidden)
        # Mosquitto 2.0's acl_file grants every SUBSCRIBE and filters at delivery instead; on
        # both, nothing but A's own topics may ever arrive.
        assert a.subscribe(topic(A, Channel.OFFERS)) == 1
        for channel in SERVER_TO_DEVICE:
            server.publish(topic(B, channel), b'{"for": "b"}')
        with broker.client("b").connect_ok() as b:
            b.publish(topic(B, Channel.STATE), b'{"from": "b"}')
        control(server, a, topic(A, Channel.OFFERS))
        assert received(a) == []


def test_the_server_subscribes_to_every_fridges_device_to_server_topics(broker: Endpoint) -> None:
    with (
        broker.client("server").connect_ok() as server,
        broker.client("a").connect_ok() as a,
        broker.client("b").connect_ok() as b,
    ):
        for channel in DEVICE_TO_SERVER:
            assert server.subscribe(subscription_filter(channel)) == 1
        expected = set()
        for fridge, client in ((A, a), (B, b)):
            for channel in DEVICE_TO_SERVER:
                client.publish(topic(fridge, channel), fridge.encode())
                expected.add((topic(fridge, channel), fridge.encode()))
        got = {(m.topic, m.payload) for m in (server.next_message() for _ in expected)}
        assert got == expected


def test_the_server_cannot_publish_as_a_fridge(broker: Endpoint) -> None:
    server_name = broker.accounts["server"].username  # "freshtap-server": also a valid fridge id
    with broker.client("server").connect_ok() as server, broker.client("a").connect_ok() as a:
        assert server.subscribe(subscription_filter(Channel.STATE)) == 1
        assert a.subscribe(topic(A, Channel.OFFERS)) == 1
        server.publish(topic(A, Channel.STATE), b'{"spoofed": true}')
        server.publish(topic(server_name, Channel.STATE), b'{"spoofed": true}')
        control(server, a, topic(A, Channel.OFFERS))
        control(a, server, topic(A, Channel.STATE))
        assert received(server) == []


def test_publish_rules_match_acl_py(broker: Endpoint) -> None:
    """Every topic a fridge or the server publishes to arrives exactly when acl.py allows it."""
    server_name = broker.accounts["server"].username
    with (
        broker.client("server").connect_ok() as server,
        broker.client("a").connect_ok() as a,
        broker.client("b").connect_ok() as b,
    ):
        for channel in DEVICE_TO_SERVER:
            server.subscribe(subscription_filter(channel))
        for fridge, client in ((A, a), (B, b)):
            for channel in SERVER_TO_DEVICE:
                client.subscribe(topic(fridge, channel))
        for publisher_key, publisher in (("a", a), ("server", server)):
            principal = broker.accounts[publisher_key].principal
            attempted = [
                topic(fridge, channel)
                for fridge, channel in itertools.product((A, B, server_name), Channel)
                # every topic but a server -> device one of a fridge nobody is (nobody could see it)
                if fridge != server_name or channel in DEVICE_TO_SERVER
            ]
            for topic_name in attempted:
                publisher.publish(topic_name, json.dumps({"by": publisher_key}).encode())
            # Flush: the publisher's own control, then one to each subscriber.
            if publisher_key == "a":
                control(a, server, topic(A, Channel.STATE))
            else:
                control(server, a, topic(A, Channel.OFFERS))
            control(server, a, topic(A, Channel.NOTICES))
            control(server, b, topic(B, Channel.NOTICES))
            control(a, server, topic(A, Channel.EVENTS))
            delivered = {name for client in (server, a, b) for name, _ in received(client)}
            allowed = {name for name in attempted if may_publish(principal, name)}
            assert delivered == allowed, publisher_key


def test_retained_offers_and_the_last_will_of_state(broker: Endpoint) -> None:
    offers = topic(A, Channel.OFFERS)
    state = topic(A, Channel.STATE)
    with broker.client("server").connect_ok() as server:
        server.publish(offers, b'{"offers": []}', retain=True)
        assert server.subscribe(subscription_filter(Channel.STATE)) == 1

        fridge = broker.client("a").will(state, b'{"online": false}', retain=True).connect_ok()
        assert fridge.subscribe(offers) == 1
        first = fridge.next_message()
        assert (first.topic, first.payload, first.retain) == (offers, b'{"offers": []}', True)
        fridge.publish(state, b'{"online": true}', retain=True)
        assert server.next_message().payload == b'{"online": true}'
        fridge.drop()
        assert server.next_message().payload == b'{"online": false}'

    with broker.client("server").connect_ok() as later:
        assert later.subscribe(subscription_filter(Channel.STATE)) == 1
        retained = later.next_message()
        assert (retained.topic, retained.payload, retained.retain) == (state, b'{"online": false}', True)


def test_a_persistent_session_gets_what_was_sent_while_offline(broker: Endpoint) -> None:
    notices = topic(A, Channel.NOTICES)
    with broker.client("a", clean_session=False) as fridge:
        fridge.connect_ok()
        assert fridge.subscribe(notices) == 1
    with broker.client("server").connect_ok() as server:
        server.publish(notices, b'{"kind": "order_status"}', qos=1)
    with broker.client("a", clean_session=False) as fridge:
        fridge.connect_ok()
        assert fridge.session_present
        message = fridge.next_message()
        assert (message.topic, message.payload) == (notices, b'{"kind": "order_status"}')


@pytest.mark.parametrize("clean_session", [True, False])
def test_a_fridge_connecting_again_takes_over_its_old_connection(
    broker: Endpoint, clean_session: bool
) -> None:
    offers = topic(A, Channel.OFFERS)
    with broker.client("server").connect_ok() as server:
        old = broker.client("a", clean_session=clean_session).connect_ok()
        assert old.subscribe(offers) == 1
        with broker.client("a", clean_session=clean_session).connect_ok() as new:
            assert old.disconnected.wait(5), "the old connection was not closed"
            if clean_session:
                assert new.subscribe(offers) == 1
            server.publish(offers, b'{"offers": []}')
            assert new.next_message().payload == b'{"offers": []}'
        old.close()
