"""The fridge agent and its uplink against a real MQTT broker (Mosquitto on a free port)."""

from __future__ import annotations

import queue
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import freshtap
from freshtap.clock import ManualClock
from freshtap.contract import (
    Channel,
    EventKind,
    InventoryItem,
    InventoryMessage,
    Money,
    OfferEntry,
    OfferMerchant,
    OfferProduct,
    OfferReason,
    OffersBody,
    OffersMessage,
    StateMessage,
    encode,
    topic,
)
from freshtap.device import AgentConfig, ConnectionState, FridgeAgent
from freshtap.simulator.mosquitto import MosquittoBroker
from freshtap.simulator.observer import BusObserver, Observed

pytestmark = pytest.mark.services

FID = "f-001"
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FAST = {"reconnect_min_delay": 1, "reconnect_max_delay": 2, "reconnect_jitter": 0.2, "stop_timeout": 4.0}


def make_agent(state_dir: Path, url: str, clock: ManualClock, **kwargs: Any) -> FridgeAgent:
    config = AgentConfig(
        FID, "fridge-user", "s3cret", url, state_dir, model="FT-500", firmware="1.2.3", uplink_options=FAST
    )
    return FridgeAgent(config, clock, **kwargs)


def milk(item_id: str = "a1") -> InventoryItem:
    return InventoryItem(
        item_id=item_id,
        gtin="09506000134352",
        name="Whole milk 1 L",
        category="dairy",
        fill=0.4,
        added_at=START - timedelta(days=3),
        label_expiry=date(2026, 11, 24),
        expiry_kind="expiry",
    )


def offers_message(*proposal_ids: str) -> OffersMessage:
    entries = [
        OfferEntry(
            proposal_id=pid,
            offer_id="of-1",
            item_id="a1",
            product=OfferProduct(gtin="09506000134352", name="Whole milk 1 L"),
            merchant=OfferMerchant(id="m-1", name="Corner Dairy"),
            price=Money(amount_minor=1290, currency="CNY"),
            reason=OfferReason(kind="expiring", text="Whole milk 1 L expires in 20 h"),
            expires_at=START + timedelta(hours=24),
        )
        for pid in proposal_ids
    ]
    return OffersMessage(v=1, type="offers", fridge_id=FID, at=START, body=OffersBody(offers=entries))


def states(seen: list[Observed]) -> list[bool]:
    return [o.message.body.online for o in seen if isinstance(o.message, StateMessage)]


def test_connect_publishes_retained_online_state(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    agent = make_agent(tmp_path, mosquitto.url, ManualClock(START))
    agent.start()
    try:
        assert agent.wait_online(5)
        # A subscriber arriving later gets the retained state.
        with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.STATE,)) as late:
            seen = late.wait_for(lambda s: len(s) >= 1, 5)
        first = seen[0]
        assert first.retained
        assert isinstance(first.message, StateMessage)
        body = first.message.body
        assert (body.online, body.model, body.firmware) == (True, "FT-500", "1.2.3")
        assert body.agent == f"freshtap {freshtap.__version__}"
        assert first.message.at == START
    finally:
        agent.stop()
    assert agent.connection is ConnectionState.OFFLINE


def test_unclean_loss_fires_the_will_then_reconnects(
    mosquitto: MosquittoBroker, proxy: Any, tmp_path: Path
) -> None:
    transitions: queue.Queue[ConnectionState] = queue.Queue()
    agent = make_agent(tmp_path, proxy.url, ManualClock(START), on_connection=transitions.put)
    with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.STATE,)) as obs:
        agent.start()
        try:
            assert agent.wait_online(5)
            obs.wait_for(lambda s: states(s) == [True], 5)
            proxy.cut()  # the TCP connection dies without a DISCONNECT
            obs.wait_for(lambda s: states(s)[:2] == [True, False], 10)
            obs.wait_for(lambda s: states(s)[:3] == [True, False, True], 10)
            assert agent.wait_online(5)
            stats = agent.uplink_stats()
            assert stats.connection_losses == 1
            assert stats.connects == 2
        finally:
            agent.stop()
        obs.wait_for(lambda s: states(s) == [True, False, True, False], 5)  # the clean goodbye
    with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.STATE,)) as late:
        retained = late.wait_for(lambda s: len(s) >= 1, 5)[0]
    assert retained.retained and states([retained]) == [False]
    seen_states = []
    while not transitions.empty():
        seen_states.append(transitions.get_nowait())
    assert seen_states == [
        ConnectionState.CONNECTING,
        ConnectionState.ONLINE,
        ConnectionState.OFFLINE,
        ConnectionState.CONNECTING,
        ConnectionState.ONLINE,
        ConnectionState.OFFLINE,
    ]


def test_inventory_seq_grows_strictly_across_restarts(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    clock = ManualClock(START)
    with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.INVENTORY, Channel.EVENTS)) as obs:
        for run, snapshots in enumerate((3, 2, 2)):
            agent = make_agent(tmp_path / "state", mosquitto.url, clock)
            agent.add_item(milk())
            agent.start()
            try:
                if run == 0:
                    assert agent.publish_event(EventKind.ITEM_ADDED, "a1", {"gtin": "09506000134352"}).wait(5)
                for _ in range(snapshots):
                    clock.advance(timedelta(minutes=30))
                    assert agent.publish_inventory().wait(5)
            finally:
                agent.stop()
        seen = obs.wait_for(lambda s: len(s) == 8, 5)
    assert all(o.violation is None for o in seen)
    seqs = [o.message.seq for o in seen if o.message is not None and o.message.seq is not None]
    assert seqs == sorted(seqs) and len(set(seqs)) == 8
    snapshots_seen = [o.message for o in seen if isinstance(o.message, InventoryMessage)]
    assert [m.at for m in snapshots_seen] == [START + timedelta(minutes=30 * n) for n in range(1, 8)]
    item = snapshots_seen[0].body.items[0]
    assert item.item_id == "a1" and item.fill == 0.4
    assert item.freshness is not None and item.freshness.state == "expiring"


def test_offers_arrive_from_the_retained_topic(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    got: queue.Queue[tuple[OfferEntry, ...]] = queue.Queue()
    with BusObserver(mosquitto.url, fridge_id=FID, channels=()) as server:
        # The server published the offers before the fridge came online.
        server.publish(topic(FID, Channel.OFFERS), encode(offers_message("p-1", "p-2")), retain=True)
        agent = make_agent(tmp_path, mosquitto.url, ManualClock(START), on_offers=got.put)
        agent.start()
        try:
            offers = agent.wait_for_offers(lambda o: len(o) == 2, 5)
            assert [o.proposal_id for o in offers] == ["p-1", "p-2"]
            assert [o.proposal_id for o in got.get(timeout=1)] == ["p-1", "p-2"]
            # Garbage on the offers topic is counted and skipped; the next good message still lands.
            server.publish(topic(FID, Channel.OFFERS), b"{not json")
            server.publish(topic(FID, Channel.OFFERS), b'{"v": 1, "type": "offers"}')
            server.publish(topic(FID, Channel.OFFERS), encode(offers_message()), retain=True)
            assert agent.wait_for_offers(lambda o: o == (), 5) == ()
            stats = agent.uplink_stats()
            assert stats.rejected == {"not_json": 1, "invalid": 1}
            assert stats.handler_errors == 0
            with pytest.raises(TimeoutError):
                agent.wait_for_offers(lambda o: len(o) == 5, 0.2)
        finally:
            agent.stop()


def test_messages_published_while_offline_are_delivered_in_order(
    mosquitto: MosquittoBroker, proxy: Any, tmp_path: Path
) -> None:
    proxy.refuse(True)
    agent = make_agent(tmp_path, proxy.url, ManualClock(START))
    with BusObserver(mosquitto.url, fridge_id=FID, channels=(Channel.EVENTS,)) as obs:
        agent.start()
        try:
            deliveries = [agent.publish_event(EventKind.DOOR_LEFT_OPEN, None, {"n": n}) for n in range(5)]
            assert not agent.wait_online(0.3)
            proxy.refuse(False)
            assert all(d.wait(10) for d in deliveries)
            seen = obs.wait_for(lambda s: len(s) == 5, 5)
        finally:
            agent.stop()
    assert [o.message.body.detail["n"] for o in seen] == [0, 1, 2, 3, 4]  # type: ignore[union-attr]


def test_stop_is_bounded_when_the_broker_is_unreachable(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = make_agent(tmp_path, f"mqtt://127.0.0.1:{port}", ManualClock(START))
    agent.start()
    assert not agent.wait_online(0.5)
    began = time.monotonic()
    agent.stop(timeout=2)
    assert time.monotonic() - began < 3
    assert agent.connection is ConnectionState.OFFLINE


def test_a_refused_login_is_reported_and_retried(mosquitto_binary: str, tmp_path: Path) -> None:
    transitions: queue.Queue[ConnectionState] = queue.Queue()
    with MosquittoBroker(tmp_path / "broker", binary=mosquitto_binary, extra_config=["allow_anonymous false"]) as b:
        agent = make_agent(tmp_path / "state", b.url, ManualClock(START), on_connection=transitions.put)
        agent.start()
        try:
            assert transitions.get(timeout=5) is ConnectionState.CONNECTING
            assert transitions.get(timeout=5) is ConnectionState.OFFLINE
            assert transitions.get(timeout=5) is ConnectionState.CONNECTING  # it keeps trying
            assert agent.connection is not ConnectionState.ONLINE
            assert "refused" in (agent.last_error or "")
            assert agent.uplink_stats().connects == 0
        finally:
            agent.stop(timeout=2)
