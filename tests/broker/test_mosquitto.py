"""The Mosquitto files: password hashes Mosquitto accepts, the ACL of acl.py, the config's limits."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from freshtap.contract import MAX_PAYLOAD_BYTES, Channel, subscription_filter, topic
from freshtap.server.broker import MosquittoAccount, mosquitto_password_hash, write_mosquitto_files
from tests.broker.conftest import WAIT, Account, Endpoint, MqttClient, start_mosquitto
from tests.broker.test_access import control, received
from tests.conftest import missing_service

A, B = "fridge-a", "fridge-b"


def passwd_binary() -> str:
    path = shutil.which("mosquitto_passwd")
    if path is None:
        missing_service("mosquitto_passwd is not installed (apt-get install mosquitto)")
    assert path is not None
    return path


@pytest.mark.services
def test_our_hash_is_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    file = tmp_path / "passwd"
    command = [passwd_binary(), "-c", "-b", str(file), "alice", "s3cret pässword"]
    subprocess.run(command, check=True, timeout=WAIT)
    username, written = file.read_text().strip().split(":", 1)
    _, kind, iterations, salt, _digest = written.split("$")
    assert (username, kind) == ("alice", "7")
    ours = mosquitto_password_hash("s3cret pässword", salt=base64.b64decode(salt), iterations=int(iterations))
    assert ours == written


def test_hashes_are_salted() -> None:
    assert mosquitto_password_hash("same") != mosquitto_password_hash("same")
    assert mosquitto_password_hash("same").startswith("$7$101$")


def test_the_acl_spells_the_rules_of_acl_py(tmp_path: Path) -> None:
    server = MosquittoAccount("freshtap.server", mosquitto_password_hash("x"), "server", None)
    fridge = MosquittoAccount(A, mosquitto_password_hash("y"), "fridge", A)
    files = write_mosquitto_files(tmp_path, [server, fridge], "127.0.0.1", 18830)
    rules = [line for line in files.acl.read_text().splitlines() if line and not line.startswith("#")]
    pattern = subscription_filter(Channel.STATE).replace("/+/", "/%u/").rsplit("/", 1)[0]
    assert rules == [
        f"pattern write {pattern}/state",
        f"pattern write {pattern}/telemetry",
        f"pattern write {pattern}/inventory",
        f"pattern write {pattern}/events",
        f"pattern read {pattern}/offers",
        f"pattern read {pattern}/notices",
        "user freshtap.server",
        f"topic read {subscription_filter(Channel.STATE)}",
        f"topic read {subscription_filter(Channel.TELEMETRY)}",
        f"topic read {subscription_filter(Channel.INVENTORY)}",
        f"topic read {subscription_filter(Channel.EVENTS)}",
        f"topic write {subscription_filter(Channel.OFFERS)}",
        f"topic write {subscription_filter(Channel.NOTICES)}",
    ]
    assert files.passwd.read_text() == f"freshtap.server:{server.password_hash}\n{A}:{fridge.password_hash}\n"
    assert [path.name for path in files] == ["mosquitto.conf", "passwd", "acl"]
    assert files.passwd.stat().st_mode & 0o077 == 0


def test_a_server_named_like_a_fridge_is_denied_that_fridges_topics(tmp_path: Path) -> None:
    server = MosquittoAccount("freshtap-server", mosquitto_password_hash("x"), "server", None)
    acl = write_mosquitto_files(tmp_path, [server]).acl.read_text()
    for channel in Channel:
        assert f"topic deny {topic('freshtap-server', channel)}\n" in acl


def test_the_config_refuses_anonymous_binds_the_host_and_limits_packets(tmp_path: Path) -> None:
    files = write_mosquitto_files(tmp_path / "m", [], "::1", 18831, max_queued_messages=50)
    lines = files.config.read_text().splitlines()
    for expected in (
        "allow_anonymous false",
        f"password_file {files.passwd}",
        f"acl_file {files.acl}",
        f"message_size_limit {MAX_PAYLOAD_BYTES}",
        "max_queued_messages 50",
        "persistence true",
        f"persistence_location {tmp_path / 'm'}",
        "listener 18831 ::1",
        "use_username_as_clientid false",
    ):
        assert expected in lines
    limit = int(next(line.split()[1] for line in lines if line.startswith("max_packet_size ")))
    assert MAX_PAYLOAD_BYTES < limit <= MAX_PAYLOAD_BYTES + 2048


def test_accounts_and_arguments_are_checked(tmp_path: Path) -> None:
    good = mosquitto_password_hash("x")
    with pytest.raises(ValueError):
        MosquittoAccount("fridge-a", good, "fridge", "fridge-b")
    with pytest.raises(ValueError):
        MosquittoAccount("fridge-a", "plaintext", "fridge", "fridge-a")
    with pytest.raises(ValueError):
        MosquittoAccount("ops:root", good, "server", None)
    with pytest.raises(ValueError):
        MosquittoAccount("ops#", good, "server", None)
    twice = [MosquittoAccount("fridge-a", good, "fridge", "fridge-a")] * 2
    with pytest.raises(ValueError, match="more than once"):
        write_mosquitto_files(tmp_path, twice)
    with pytest.raises(ValueError):
        write_mosquitto_files(tmp_path, [], "", 1883)


@pytest.mark.services
def test_payloads_over_the_limit_never_arrive(mosquitto: Endpoint) -> None:
    state = topic(A, Channel.STATE)
    with mosquitto.client("server").connect_ok() as server:
        assert server.subscribe(subscription_filter(Channel.STATE)) == 1
        with mosquitto.client("a").connect_ok() as a:
            a.publish(state, b"x" * (MAX_PAYLOAD_BYTES + 1))  # dropped, but acknowledged
            control(a, server, state)
            a.publish(state, b"y" * MAX_PAYLOAD_BYTES)
            assert server.next_message().payload == b"y" * MAX_PAYLOAD_BYTES
            assert received(server) == []
            a.send(state, b"z" * (MAX_PAYLOAD_BYTES + 4096))  # over max_packet_size: disconnected
            assert a.disconnected.wait(WAIT)


@pytest.mark.services
def test_client_ids_can_be_bound_to_usernames(
    mosquitto_binary: str, accounts: dict[str, Account], tmp_path: Path
) -> None:
    process, port = start_mosquitto(
        mosquitto_binary,
        tmp_path,
        [account.mosquitto() for account in accounts.values()],
        bind_client_id_to_username=True,
    )
    try:
        endpoint = Endpoint("mosquitto", "127.0.0.1", port, accounts, log=process.log)
        with endpoint.client("server").connect_ok() as server, endpoint.client("a").connect_ok() as a:
            assert a.subscribe(topic(A, Channel.OFFERS)) == 1
            b = accounts["b"]
            thief = MqttClient("127.0.0.1", port, client_id=A, username=b.username, password=b.password)
            with thief:
                assert not thief.connect().is_failure  # Mosquitto renames its client id to fridge-b
                server.publish(topic(A, Channel.OFFERS), b'{"offers": []}')
                assert a.next_message().payload == b'{"offers": []}'
                assert not a.disconnected.is_set()
    finally:
        process.stop()
