"""The uplink's on-disk queue and server handshake against a real broker (Mosquitto on a free port).

A "server" here is a `BusObserver` on the broker: it sees what the fridge publishes and, when a
test wants, answers on the fridge's `offers` topic the way the freshtap server does when a fridge
comes online.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from freshtap.clock import ManualClock
from freshtap.contract import Channel, EventKind, EventMessage, OffersBody, OffersMessage, StateMessage, encode, topic
from freshtap.device import AgentConfig, FridgeAgent, OutboxLimits, QueueFull
from freshtap.simulator.mosquitto import MosquittoBroker
from freshtap.simulator.observer import BusObserver, Observed
from tests.device.conftest import TcpProxy
from tests.stack import wait_until

pytestmark = pytest.mark.services

FID = "f-q01"
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FAST = {"reconnect_min_delay": 0.2, "reconnect_max_delay": 0.5, "reconnect_jitter": 0.2, "stop_timeout": 3.0}


def make_agent(state_dir: Path, url: str, **options: Any) -> FridgeAgent:
    limits = options.pop("queue_limits", OutboxLimits())
    config = AgentConfig(FID, "u", "p", url, state_dir, queue_limits=limits, telemetry_qos=1,
                         uplink_options={**FAST, **options})
    return FridgeAgent(config, ManualClock(START))


def events(seen: list[Observed]) -> list[int]:
    """The events' `n`, once per `seq`: a message whose PUBACK a cut connection lost comes again."""
    found: dict[int, int] = {}
    for o in seen:
        if isinstance(o.message, EventMessage):
            found.setdefault(o.message.seq, o.message.body.detail["n"])
    return list(found.values())


def online_states(seen: list[Observed]) -> int:
    return sum(1 for o in seen if isinstance(o.message, StateMessage) and o.message.body.online and not o.retained)


def answer(observer: BusObserver, *, retain: bool = False) -> None:
    """What the freshtap server does for a fridge that came online: publish its offers list."""
    message = OffersMessage(v=1, type="offers", fridge_id=FID, at=START, body=OffersBody(offers=[]))
    observer.publish(topic(FID, Channel.OFFERS), encode(message), retain=retain)


def absent(observer: BusObserver, predicate: Any, seconds: float) -> bool:
    """True if `predicate` stays false for `seconds` (a bounded wait for something not to happen)."""
    with contextlib.suppress(AssertionError, TimeoutError):
        observer.wait_for(predicate, seconds)
        return False
    return True


def test_the_queue_survives_the_process_and_is_sent_in_order_after_a_restart(
    mosquitto: MosquittoBroker, proxy: TcpProxy, tmp_path: Path
) -> None:
    proxy.refuse(True)
    first = make_agent(tmp_path, proxy.url)
    first.start()
    try:
        deliveries = [first.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": n}) for n in range(6)]
        assert not any(d.wait(0.2) for d in deliveries[:1])
        assert first.uplink_stats().queued == 6
    finally:
        first.stop(timeout=1)
    proxy.refuse(False)
    with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.EVENTS,)) as observer:
        second = make_agent(tmp_path, proxy.url)
        second.start()
        try:
            seen = observer.wait_for(lambda s: len(events(s)) == 6, 10)
            assert second.wait_drained(10)
            assert second.uplink_stats().queued == 0
        finally:
            second.stop()
    assert events(seen) == list(range(6))
    seqs = [o.message.seq for o in seen if o.message is not None]
    assert seqs == sorted(seqs) and len(set(seqs)) == 6


def test_offline_telemetry_makes_room_and_events_are_refused_rather_than_dropped(
    mosquitto: MosquittoBroker, proxy: TcpProxy, tmp_path: Path
) -> None:
    proxy.refuse(True)
    agent = make_agent(tmp_path, proxy.url, queue_limits=OutboxLimits(max_messages=4, max_bytes=1 << 20))
    agent.start()
    try:
        telemetry = [agent.publish_telemetry({"fridge": 4.0 + n}, False) for n in range(3)]
        kept = [agent.publish_event(EventKind.TEMPERATURE_ALARM, None, {"n": n}) for n in range(4)]
        assert all(d.dropped for d in telemetry)  # each made room for an event
        with pytest.raises(QueueFull):
            agent.publish_event(EventKind.TEMPERATURE_ALARM, None, {"n": 99})
        assert agent.publish_telemetry({"fridge": 9.0}, False).dropped  # no room: the new one goes
        stats = agent.uplink_stats()
        assert stats.queued == 4 and stats.dropped_by_type == {"telemetry": 4}
        with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.EVENTS, Channel.TELEMETRY)) as observer:
            proxy.refuse(False)
            assert all(d.wait(10) for d in kept)
            seen = observer.wait_for(lambda s: len(events(s)) == 4, 5)
        assert events(seen) == [0, 1, 2, 3]
        assert not [o for o in seen if o.topic.endswith("/telemetry")]
    finally:
        agent.stop()


def test_after_a_connect_without_session_the_queue_waits_for_the_server(
    mosquitto_binary: str, tmp_path: Path
) -> None:
    broker = MosquittoBroker(tmp_path / "b1", binary=mosquitto_binary)
    broker.start()
    proxy = TcpProxy(broker.host, broker.port)
    agent = make_agent(tmp_path / "state", proxy.url, server_handshake=True)
    replacement: MosquittoBroker | None = None
    try:
        with BusObserver(broker.url, fridge_id=FID) as server:
            answer(server, retain=True)  # an offers list already retained: not proof that anyone listens
            agent.start()
            assert agent.wait_online(5)
            agent.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": 1})
            server.wait_for(lambda s: online_states(s) >= 2, 5)  # re-announced while it waits
            assert absent(server, lambda s: events(s), 0.3)
            assert not agent.server_ready and agent.uplink_stats().server_waits == 1
            answer(server)  # live: the server is there
            server.wait_for(lambda s: events(s) == [1], 5)
            assert agent.server_ready

            proxy.cut()  # the same broker, which kept our session: no waiting
            wait_until(lambda: agent.uplink_stats().connects == 2 and agent.server_ready, timeout=5)
            agent.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": 2})
            server.wait_for(lambda s: events(s) == [1, 2], 5)
            assert agent.uplink_stats().server_waits == 1

        # The broker is replaced by one that knows nothing of us (a restart without persistence).
        replacement = MosquittoBroker(tmp_path / "b2", binary=mosquitto_binary)
        replacement.start()
        with BusObserver(replacement.url, fridge_id=FID) as server:
            proxy.retarget(replacement.host, replacement.port)
            broker.stop()
            server.wait_for(lambda s: online_states(s) >= 1, 10)
            agent.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": 3})
            assert absent(server, lambda s: events(s), 0.3)
            answer(server)
            server.wait_for(lambda s: events(s) == [3], 5)
            assert agent.uplink_stats().server_waits == 2
    finally:
        agent.stop()
        proxy.close()
        broker.stop()
        if replacement is not None:
            replacement.stop()


def test_a_server_that_never_answers_gets_the_queue_after_the_handshake_timeout(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    agent = make_agent(tmp_path, mosquitto.url, server_handshake=True, handshake_timeout=0.5)
    with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.EVENTS,)) as observer:
        agent.start()
        try:
            delivery = agent.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": 7})
            assert delivery.wait(5)
            assert events(observer.wait_for(lambda s: events(s), 5)) == [7]
        finally:
            agent.stop()


def test_state_is_not_queued_and_a_foreign_message_is_refused(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    from freshtap.contract import EventBody
    from freshtap.device import UplinkError

    agent = make_agent(tmp_path, mosquitto.url)
    with pytest.raises(UplinkError):
        agent.publish_event(EventKind.DOOR_LEFT_OPEN)  # not started
    agent.start()
    try:
        other = EventMessage(v=1, type="event", fridge_id="someone-else", seq=1, at=START,
                             body=EventBody(kind=EventKind.DOOR_LEFT_OPEN))
        with pytest.raises(UplinkError):
            agent._uplink.publish(other)
        assert agent.uplink_stats().queued == 0
    finally:
        agent.stop()
