"""Mosquitto's side of the broker limits: the generated config, and bans through the dynamic security plugin."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from freshtap.contract import MAX_PAYLOAD_BYTES, Channel, subscription_filter, topic
from freshtap.server.broker.dynsec import DynsecBans
from freshtap.server.broker.mosquitto import find_dynsec_plugin, write_mosquitto_files
from freshtap.settings import BrokerLimitSettings
from tests.broker.conftest import WAIT, Account, Endpoint, start_mosquitto
from tests.stack import wait_until

A, B = "fridge-a", "fridge-b"


def config_lines(tmp_path: Path, accounts: dict[str, Account], **options: object) -> list[str]:
    files = write_mosquitto_files(tmp_path, [a.mosquitto() for a in accounts.values()], **options)  # type: ignore[arg-type]
    return files.config.read_text().splitlines()


def test_the_config_carries_the_limits(tmp_path: Path, accounts: dict[str, Account]) -> None:
    limits = BrokerLimitSettings(max_inflight_messages=7, session_expiry_seconds=7 * 24 * 3600)
    lines = config_lines(tmp_path, accounts, limits=limits, max_connections=500, max_queued_messages=5000)
    assert "max_inflight_messages 7" in lines
    assert "persistent_client_expiration 7d" in lines
    assert f"message_size_limit {MAX_PAYLOAD_BYTES}" in lines
    assert "max_queued_messages 5000" in lines
    assert any(line.startswith("max_queued_bytes ") for line in lines)
    assert any(line.startswith("max_packet_size ") for line in lines)
    # max_connections is a listener setting: it must come after the listener line.
    assert lines.index("max_connections 500") > next(i for i, line in enumerate(lines) if line.startswith("listener "))
    assert not any(line.startswith("plugin") for line in lines)
    short = config_lines(tmp_path, accounts, limits=BrokerLimitSettings(session_expiry_seconds=90 * 60))
    assert "persistent_client_expiration 2h" in short


def test_dynsec_is_loaded_and_only_the_server_may_use_its_control_topic(
    tmp_path: Path, accounts: dict[str, Account]
) -> None:
    lines = config_lines(tmp_path, accounts, dynsec_plugin="/plugins/dynsec.so")
    assert "plugin /plugins/dynsec.so" in lines
    assert f"plugin_opt_config_file {tmp_path.resolve() / 'dynamic-security.json'}" in lines
    acl = (tmp_path / "acl").read_text().split("\nuser ")
    server_block = next(block for block in acl[1:] if block.startswith(accounts["server"].username))
    assert "topic write $CONTROL/dynamic-security/v1" in server_block
    assert "$CONTROL" not in acl[0]  # nothing for fridges
    # Mosquitto owns the plugin's file once it exists: regenerating keeps it.
    (tmp_path / "dynamic-security.json").write_text('{"clients": [1]}')
    config_lines(tmp_path, accounts, dynsec_plugin="/plugins/dynsec.so")
    assert (tmp_path / "dynamic-security.json").read_text() == '{"clients": [1]}'
    with pytest.raises(ValueError, match="bind_client_id_to_username"):
        config_lines(tmp_path, accounts, dynsec_plugin="/x.so", bind_client_id_to_username=True)


@pytest.mark.services
def test_mosquitto_enforces_max_connections(
    mosquitto_binary: str, accounts: dict[str, Account], tmp_path: Path
) -> None:
    process, port = start_mosquitto(
        mosquitto_binary, tmp_path / "m", [a.mosquitto() for a in accounts.values()], max_connections=2
    )
    endpoint = Endpoint("mosquitto", "127.0.0.1", port, accounts)
    try:
        with endpoint.client("a").connect_ok(), endpoint.client("b").connect_ok():  # noqa: SIM117 - the inner clients need the outer broker
            with endpoint.client("server") as third, pytest.raises(ConnectionError):
                third.connect()
    finally:
        process.stop()


@pytest.fixture
def dynsec_mosquitto(mosquitto_binary: str, accounts: dict[str, Account], tmp_path: Path) -> Iterator[Endpoint]:
    plugin = find_dynsec_plugin()
    if plugin is None:
        pytest.skip("Mosquitto's dynamic security plugin is not installed")
    process, port = start_mosquitto(
        mosquitto_binary, tmp_path / "m", [a.mosquitto() for a in accounts.values()], dynsec_plugin=plugin
    )
    try:
        yield Endpoint("mosquitto", "127.0.0.1", port, accounts, log=process.log)
    finally:
        process.stop()


def dynsec_for(endpoint: Endpoint, **options: object) -> DynsecBans:
    server = endpoint.accounts["server"]
    bans = DynsecBans(endpoint.host, endpoint.port, server.username, server.password, **options)  # type: ignore[arg-type]
    bans.start()
    return bans


@pytest.mark.services
def test_a_banned_fridge_is_kicked_refused_and_let_back_in(dynsec_mosquitto: Endpoint) -> None:
    broker = dynsec_mosquitto
    bans = dynsec_for(broker)
    try:
        with broker.client("server").connect_ok() as server, broker.client("b").connect_ok() as b:
            assert server.subscribe(subscription_filter(Channel.TELEMETRY)) == 1
            with broker.client("a").connect_ok() as a:
                a.publish(topic(A, Channel.TELEMETRY), b"before")  # fridges still pass the password file and ACL
                assert server.next_message().payload == b"before"
                bans.ban(A, 0.6)
                assert a.disconnected.wait(WAIT), "the banned fridge was not kicked"
            with broker.client("a") as again:
                assert again.connect().is_failure
            assert bans.banned().keys() == {A}
            b.publish(topic(B, Channel.TELEMETRY), b"b still")  # others are untouched
            assert server.next_message().payload == b"b still"

            def back_in() -> bool:
                with broker.client("a") as retry:
                    return not retry.connect().is_failure

            wait_until(back_in, timeout=WAIT, interval=0.1)  # the ban ran out
            assert bans.banned() == {}
    finally:
        bans.stop()


@pytest.mark.services
def test_bans_that_ran_out_while_no_server_watched_are_lifted_at_start(dynsec_mosquitto: Endpoint) -> None:
    broker = dynsec_mosquitto
    first = dynsec_for(broker)
    first.ban(A, 3600)
    first.ban(B, 30)
    first.stop()  # the server went away; its timers with it
    later = dynsec_for(broker, wall=lambda: time.time() + 60)
    try:
        assert later.banned().keys() == {A}  # B's ban had run out
        with broker.client("b") as b:
            assert not b.connect().is_failure
        with broker.client("a") as a:
            assert a.connect().is_failure
        later.lift(A)
        with broker.client("a") as a:
            assert not a.connect().is_failure
    finally:
        later.stop()


def test_a_fridge_that_cannot_reach_the_plugin_fails_clearly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bans = DynsecBans("127.0.0.1", port, "server", "pw", timeout=0.5)
    with pytest.raises(Exception, match="dynamic security"):
        bans.start()
