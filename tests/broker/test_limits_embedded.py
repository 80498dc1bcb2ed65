"""The embedded broker's per-client limits: publish quota, flood and reconnect-loop bans, session expiry."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from freshtap.contract import Channel, subscription_filter, topic
from freshtap.server.broker import EmbeddedBroker
from freshtap.settings import BrokerLimitSettings
from tests.broker.conftest import WAIT, Account, Endpoint, MqttClient, StaticAuthenticator
from tests.stack import wait_until

A, B = "fridge-a", "fridge-b"


class FakeMonotonic:
    """A monotonic clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def limited_broker(
    accounts: dict[str, Account], monotonic: Any = time.monotonic, **limits: Any
) -> Iterator[tuple[Endpoint, StaticAuthenticator]]:
    authenticator = StaticAuthenticator(accounts)
    broker = EmbeddedBroker(
        "127.0.0.1", 0, authenticator, limits=BrokerLimitSettings(**limits), monotonic=monotonic, sweep_interval=0.05
    )
    broker.start()
    try:
        yield Endpoint("embedded", "127.0.0.1", broker.port, accounts, embedded=broker), authenticator
    finally:
        broker.stop()


def refusals(endpoint: Endpoint) -> dict[str, int]:
    assert endpoint.embedded is not None
    return endpoint.embedded.refusals


def seqs(client: MqttClient, count: int) -> list[int]:
    return [int(client.next_message().payload) for _ in range(count)]


def test_qos1_over_quota_is_held_back_and_nothing_is_lost(accounts: dict[str, Account]) -> None:
    rate, burst, sent = 100.0, 5, 65
    with limited_broker(accounts, publish_rate=rate, publish_burst=burst) as (broker, _):  # noqa: SIM117 - the inner clients need the outer broker
        with broker.client("server").connect_ok() as server, broker.client("a").connect_ok() as a:
            assert server.subscribe(subscription_filter(Channel.TELEMETRY)) == 1
            started = time.monotonic()
            for seq in range(sent):
                a.send(topic(A, Channel.TELEMETRY), str(seq).encode(), qos=1)
            assert seqs(server, sent) == list(range(sent))  # every one, in order
            elapsed = time.monotonic() - started
    # Without the quota, 65 messages pass in a few milliseconds.
    assert elapsed >= (sent - burst) / rate * 0.9
    assert refusals(broker)["rate_limited"] == 0


def test_qos0_over_quota_is_dropped_and_counted(accounts: dict[str, Account]) -> None:
    with limited_broker(accounts, publish_rate=5.0, publish_burst=5) as (broker, _):  # noqa: SIM117 - the inner clients need the outer broker
        with broker.client("server").connect_ok() as server, broker.client("a").connect_ok() as a:
            assert server.subscribe(subscription_filter(Channel.TELEMETRY)) == 1
            for seq in range(50):
                a.send(topic(A, Channel.TELEMETRY), str(seq).encode(), qos=0)
            a.publish(topic(A, Channel.TELEMETRY), b"999", qos=1)  # held until a token; comes last
            got = []
            while not got or got[-1] != 999:
                got.append(int(server.next_message().payload))
    assert got[:5] == [0, 1, 2, 3, 4]
    assert len(got) - 1 <= 7  # the burst and what the rate refilled meanwhile
    assert refusals(broker)["rate_limited"] == 50 - (len(got) - 1)


def test_the_servers_own_account_is_not_limited(accounts: dict[str, Account]) -> None:
    with limited_broker(accounts, publish_rate=1.0, publish_burst=1) as (broker, _):  # noqa: SIM117 - the inner clients need the outer broker
        with broker.client("server").connect_ok() as server, broker.client("a").connect_ok() as a:
            assert a.subscribe(topic(A, Channel.NOTICES)) == 1
            started = time.monotonic()
            for seq in range(30):
                server.send(topic(A, Channel.NOTICES), str(seq).encode(), qos=1)
            assert seqs(a, 30) == list(range(30))
            assert time.monotonic() - started < 1.0


def test_a_fridge_flooding_for_too_long_is_banned_before_its_password_is_checked(
    accounts: dict[str, Account],
) -> None:
    with (
        limited_broker(accounts, publish_rate=50.0, publish_burst=5, flood_ban_after_seconds=0.3, ban_seconds=60) as (
            broker,
            authenticator,
        ),
        broker.client("server").connect_ok() as server,
        broker.client("b").connect_ok() as b,
    ):
        assert server.subscribe(subscription_filter(Channel.TELEMETRY)) == 1
        with broker.client("a").connect_ok() as a:
            for seq in range(500):
                a.send(topic(A, Channel.TELEMETRY), str(seq).encode(), qos=1)
            assert a.disconnected.wait(WAIT), "the flooder was not disconnected"
        assert refusals(broker)["flood_banned"] == 1
        checked = authenticator.calls
        with broker.client("a") as again:
            assert again.connect().is_failure
        assert authenticator.calls == checked  # refused before any credential work
        assert refusals(broker)["banned"] == 1
        # Another fridge is untouched.
        b.publish(topic(B, Channel.TELEMETRY), b"-1")
        while server.next_message().topic != topic(B, Channel.TELEMETRY):
            pass


def test_a_burst_within_the_quota_is_not_a_flood(accounts: dict[str, Account]) -> None:
    with limited_broker(accounts, publish_rate=100.0, publish_burst=10, flood_ban_after_seconds=1.0) as (broker, _):  # noqa: SIM117 - the inner clients need the outer broker
        with broker.client("server").connect_ok() as server, broker.client("a").connect_ok() as a:
            assert server.subscribe(subscription_filter(Channel.TELEMETRY)) == 1
            for seq in range(60):  # held back ~0.5 s, shorter than the ban threshold
                a.send(topic(A, Channel.TELEMETRY), str(seq).encode(), qos=1)
            assert seqs(server, 60) == list(range(60))
            assert not a.disconnected.is_set()
    assert refusals(broker)["flood_banned"] == 0


def test_a_fridge_reconnecting_in_a_loop_is_banned(accounts: dict[str, Account]) -> None:
    with limited_broker(accounts, connects_per_window=3, connect_window_seconds=60) as (broker, _):
        for _ in range(3):
            with broker.client("a") as a:
                assert not a.connect().is_failure
        with broker.client("a") as a:
            assert a.connect().is_failure  # the 4th in the window
        with broker.client("a") as a:
            assert a.connect().is_failure  # and banned now
        assert refusals(broker)["connect_rate"] == 1
        assert refusals(broker)["banned"] == 1
        # Other fridges and the server (never limited per username) still connect.
        with broker.client("b") as b:
            assert not b.connect().is_failure
        for _ in range(5):
            with broker.client("server") as server:
                assert not server.connect().is_failure


def test_a_wrong_password_never_gets_a_fridge_banned(accounts: dict[str, Account]) -> None:
    # Only logins that passed count per username: nobody can get a fridge banned without its password.
    with limited_broker(accounts, connects_per_window=2) as (broker, _):
        for _ in range(5):
            with MqttClient(broker.host, broker.port, client_id=A, username=A, password="guess") as attacker:
                assert attacker.connect().is_failure
        with broker.client("a") as a:
            assert not a.connect().is_failure


def test_an_address_connecting_in_a_loop_is_banned(accounts: dict[str, Account]) -> None:
    with limited_broker(accounts, connects_per_ip_per_window=4, connect_rate_exempt=[]) as (broker, _):
        for _ in range(4):
            with MqttClient(broker.host, broker.port, client_id=A, username=A, password="guess") as attacker:
                assert attacker.connect().is_failure  # refused: wrong password, yet counted
        with socket.create_connection((broker.host, broker.port), timeout=WAIT) as sock:
            assert sock.recv(1) == b""  # closed before a byte was read
        with broker.client("a") as a:  # the whole address is banned now  # noqa: SIM117 - the inner clients need the outer broker
            with pytest.raises(ConnectionError):
                a.connect()
        assert refusals(broker)["connect_rate"] == 1
        assert refusals(broker)["banned"] >= 1


def test_a_ban_ends(accounts: dict[str, Account]) -> None:
    clock = FakeMonotonic()
    with limited_broker(accounts, clock, connects_per_window=1, ban_seconds=30) as (broker, _):
        with broker.client("a") as a:
            assert not a.connect().is_failure
        with broker.client("a") as a:
            assert a.connect().is_failure
        clock.now += 29
        with broker.client("a") as a:
            assert a.connect().is_failure
        clock.now += 61  # past the ban and the connection window
        with broker.client("a") as a:
            assert not a.connect().is_failure


def test_sessions_of_clients_gone_too_long_expire_with_their_queues(accounts: dict[str, Account]) -> None:
    clock = FakeMonotonic()
    with limited_broker(accounts, clock, session_expiry_seconds=3600) as (broker, _):
        embedded = broker.embedded
        assert embedded is not None
        with broker.client("a", clean_session=False).connect_ok() as a:
            assert a.subscribe(topic(A, Channel.NOTICES)) == 1
        with broker.client("b", clean_session=False).connect_ok() as b:
            assert b.subscribe(topic(B, Channel.NOTICES)) == 1
        with broker.client("server").connect_ok() as server:
            server.publish(topic(A, Channel.NOTICES), b"queued while away")
        # The server's clean session goes once its disconnect is handled; a's and b's stay.
        wait_until(lambda: embedded.expire_sessions() == 0 and embedded.session_count() == 2, timeout=WAIT)
        clock.now += 1800
        with broker.client("b", clean_session=False).connect_ok() as b:  # b came back meanwhile
            assert b.session_present
        clock.now += 1801
        assert embedded.expire_sessions() == 1
        assert embedded.session_count() == 1  # only b's
        assert refusals(broker)["session_expired"] == 1
        with broker.client("a", clean_session=False).connect_ok() as a:
            assert not a.session_present  # a fresh session: no subscription, no queue
            with pytest.raises(Exception):  # noqa: B017 - queue.Empty: nothing was kept
                a.next_message(timeout=0.3)


def test_limit_state_is_forgotten_when_idle(accounts: dict[str, Account]) -> None:
    clock = FakeMonotonic()
    with limited_broker(accounts, clock, publish_rate=10.0, publish_burst=5) as (broker, _):
        embedded = broker.embedded
        assert embedded is not None
        with broker.client("server").connect_ok() as server, broker.client("a").connect_ok() as a:
            assert server.subscribe(subscription_filter(Channel.TELEMETRY)) == 1
            a.publish(topic(A, Channel.TELEMETRY), b"1")
            server.next_message()
        gate = embedded.gatekeeper
        assert gate is not None

        async def tracked() -> dict[str, int]:
            return gate.tracked()

        assert embedded.call(tracked())["quotas"] == 1
        clock.now += 120

        async def swept() -> dict[str, int]:
            gate.sweep()
            return gate.tracked()

        assert embedded.call(swept()) == {"quotas": 0, "user_windows": 0, "ip_windows": 0, "bans": 0}
