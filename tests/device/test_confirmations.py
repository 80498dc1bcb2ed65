"""The uplink keeps what the broker acknowledged until the server confirms it (real Mosquitto on a free port).

The "server" is a `BusObserver` that sees what the fridge publishes and answers with `applied`
notices the way `server/ingest/confirmations.py` does; the server's own side is tested in
tests/faults/test_broker_restarts.py and tests/server/test_confirmations.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from freshtap.clock import ManualClock
from freshtap.contract import Channel, EventKind, EventMessage, NoticeMessage, applied_notice, encode, topic
from freshtap.device import AgentConfig, FridgeAgent
from freshtap.simulator.mosquitto import MosquittoBroker
from freshtap.simulator.observer import BusObserver, Observed
from tests.device.conftest import TcpProxy
from tests.stack import wait_until

pytestmark = pytest.mark.services

FID = "f-c01"
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FAST = {"reconnect_min_delay": 0.2, "reconnect_max_delay": 0.5, "reconnect_jitter": 0.2, "stop_timeout": 3.0}


def make_agent(state_dir: Path, url: str, notices: list[NoticeMessage], **options: Any) -> FridgeAgent:
    config = AgentConfig(FID, "u", "p", url, state_dir, telemetry_qos=1, uplink_options={**FAST, **options})
    return FridgeAgent(config, ManualClock(START), on_notice=notices.append)


def event_seqs(seen: list[Observed]) -> list[int]:
    return [o.message.seq for o in seen if isinstance(o.message, EventMessage)]


def confirm(server: BusObserver, seqs: list[tuple[int, int]]) -> None:
    server.publish(topic(FID, Channel.NOTICES), encode(applied_notice(FID, seqs, START)))


def test_acknowledged_messages_wait_for_the_server_and_are_sent_again_after_a_reconnect(
    mosquitto: MosquittoBroker, proxy: TcpProxy, tmp_path: Path
) -> None:
    notices: list[NoticeMessage] = []
    agent = make_agent(tmp_path, proxy.url, notices, confirmations="required")
    with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.EVENTS,)) as server:
        agent.start()
        try:
            deliveries = [agent.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": n}) for n in range(4)]
            assert all(d.wait(10) for d in deliveries)  # the broker acknowledged them ...
            assert agent.wait_drained(10)
            stats = agent.uplink_stats()
            assert stats.queued == 4 and stats.waits_for_server  # ... and they are still kept
            seqs = server.wait_for(lambda s: len(event_seqs(s)) == 4, 5)
            first = event_seqs(seqs)

            proxy.cut()  # as if the broker had crashed: everything unconfirmed goes again
            again = server.wait_for(lambda s: len(event_seqs(s)) == 8, 10)
            assert sorted(event_seqs(again)) == sorted(first * 2)

            confirm(server, [(first[0], first[1])])
            wait_until(lambda: agent.uplink_stats().queued == 2, timeout=5)
            confirm(server, [(first[2], first[3])])
            wait_until(lambda: agent.uplink_stats().queued == 0, timeout=5)
            assert agent.uplink_stats().confirmed == 4
            assert notices == []  # confirmations are the uplink's own
        finally:
            agent.stop()


def test_a_server_that_never_confirms_leaves_the_queue_as_before_until_one_does(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    notices: list[NoticeMessage] = []
    agent = make_agent(tmp_path, mosquitto.url, notices)  # confirmations="auto"
    with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.EVENTS,)) as server:
        agent.start()
        try:
            assert agent.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": 0}).wait(10)
            wait_until(lambda: agent.uplink_stats().queued == 0, timeout=5)  # the broker's acknowledgement was enough
            assert not agent.uplink_stats().waits_for_server
            (seq,) = event_seqs(server.wait_for(lambda s: len(event_seqs(s)) == 1, 5))
            confirm(server, [(seq, seq)])  # the first confirmation: from now on, wait for the server
            wait_until(lambda: agent.uplink_stats().waits_for_server, timeout=5)
            assert agent.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": 1}).wait(10)
            assert agent.wait_drained(5) and agent.uplink_stats().queued == 1
        finally:
            agent.stop()
    restarted = make_agent(tmp_path, mosquitto.url, notices)
    restarted.start()
    try:
        assert restarted.uplink_stats().waits_for_server  # remembered across a restart
    finally:
        restarted.stop()


def test_a_malformed_confirmation_is_counted_and_deletes_nothing(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    notices: list[NoticeMessage] = []
    agent = make_agent(tmp_path, mosquitto.url, notices, confirmations="required")
    with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.EVENTS,)) as server:
        agent.start()
        try:
            assert agent.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": 0}).wait(10)
            bad = b'{"v":1,"type":"notice","fridge_id":"%s","at":"2026-11-23T12:00:00Z","body":{"kind":"applied","seqs":[[5,1]]}}'
            server.publish(topic(FID, Channel.NOTICES), bad % FID.encode())
            wait_until(lambda: agent.uplink_stats().rejected.get("invalid") == 1, timeout=5)
            assert agent.uplink_stats().queued == 1 and notices == []
        finally:
            agent.stop()
