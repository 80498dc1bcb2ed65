"""The fleet against a real broker and a fake accept API: valid contract traffic, one-tap accepts."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from freshtap.clock import AcceleratedClock, Clock, ManualClock
from freshtap.contract import (
    Channel,
    InventoryMessage,
    Money,
    OfferEntry,
    OfferMerchant,
    OfferProduct,
    OfferReason,
    OffersBody,
    OffersMessage,
    TelemetryMessage,
    encode,
    topic,
)
from freshtap.simulator import BusObserver, Fleet, SimFridge
from freshtap.simulator.mosquitto import MosquittoBroker
from freshtap.simulator.observer import Observed
from tests.simulator.fake_api import AcceptCall, FakeApi

pytestmark = pytest.mark.services

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FRIDGES = [SimFridge(f"sim-{n}", f"user-{n}", f"pw-{n}") for n in range(3)]


def offers(fridge_id: str, clock: Clock, *proposal_ids: str) -> bytes:
    entries = [
        OfferEntry(
            proposal_id=pid,
            offer_id="of-1",
            item_id="x",
            product=OfferProduct(gtin="09506000134352", name="Whole milk 1 L"),
            merchant=OfferMerchant(id="m-1", name="Corner Dairy"),
            price=Money(amount_minor=1290, currency="CNY"),
            reason=OfferReason(kind="expiring", text="Whole milk 1 L expires in 20 h"),
            expires_at=clock.now() + timedelta(hours=24),
        )
        for pid in proposal_ids
    ]
    body = OffersBody(offers=entries)
    return encode(OffersMessage(v=1, type="offers", fridge_id=fridge_id, at=clock.now(), body=body))


def per_fridge(seen: list[Observed], kind: type) -> dict[str, list[Observed]]:
    out: dict[str, list[Observed]] = defaultdict(list)
    for o in seen:
        if isinstance(o.message, kind):
            out[o.message.fridge_id].append(o)
    return out


def next_call(api: FakeApi) -> AcceptCall:
    return api.calls.get(timeout=10)


def test_fleet_publishes_contract_traffic_and_accepts_offers(
    mosquitto: MosquittoBroker, fake_api: FakeApi, tmp_path: Path
) -> None:
    # 1 real second = 20 simulated minutes: a snapshot every 1.5 s, telemetry every 0.5 s.
    clock = AcceleratedClock(speed=1200, start=START)
    fleet = Fleet(
        FRIDGES, mosquitto.url, fake_api.base_url, clock, seed=42, accept_probability=1.0, state_dir=tmp_path
    )
    channels = (Channel.STATE, Channel.INVENTORY, Channel.TELEMETRY, Channel.EVENTS)
    bus, server = BusObserver(mosquitto.url, channels=channels), BusObserver(mosquitto.url, channels=())
    with bus, server:
        fleet.start()
        try:
            assert fleet.wait_online(10)
            seen = bus.wait_for(
                lambda s: all(len(per_fridge(s, InventoryMessage)[f.fridge_id]) >= 2 for f in FRIDGES)
                and all(len(per_fridge(s, TelemetryMessage)[f.fridge_id]) >= 2 for f in FRIDGES),
                15,
            )
            # The server offers fridge 0 three proposals; one has gone stale on the server.
            sim0 = FRIDGES[0].fridge_id
            first_list = offers(sim0, clock, "p-1", "p-2", "gone-3")
            server.publish(topic(sim0, Channel.OFFERS), first_list, retain=True)
            calls = [next_call(fake_api) for _ in range(3)]
            # The same list again plus one new proposal: only the new one is bought.
            server.publish(
                topic(sim0, Channel.OFFERS), offers(sim0, clock, "p-1", "p-2", "gone-3", "p-4"), retain=True
            )
            calls.append(next_call(fake_api))
            assert fleet.stats.fridges_online == 3
        finally:
            fleet.stop()

    assert all(o.violation is None for o in seen), [o for o in seen if o.violation]
    for fridge in FRIDGES:
        mine = [o.message for o in seen if o.message is not None and o.message.fridge_id == fridge.fridge_id]
        seqs = [m.seq for m in mine if m.seq is not None]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        first = per_fridge(seen, InventoryMessage)[fridge.fridge_id][0].message
        assert isinstance(first, InventoryMessage)
        assert 4 <= len(first.body.items) <= 6
        fresh = [i.freshness for i in first.body.items if i.freshness is not None]
        assert min(f.expires_at for f in fresh if f.expires_at) - first.at <= timedelta(hours=48)

    assert fake_api.calls.empty()
    assert sorted(c.path for c in calls) == [
        "/api/v1/proposals/gone-3/accept",
        "/api/v1/proposals/p-1/accept",
        "/api/v1/proposals/p-2/accept",
        "/api/v1/proposals/p-4/accept",
    ]
    assert {c.authorization for c in calls} == {"Bearer pw-0"}
    assert len({c.idempotency_key for c in calls}) == 4

    stats = fleet.stats
    assert stats.offers_seen == 4
    assert stats.accepts_ok == 3 and stats.orders_by_status == {"paid": 3}
    assert stats.accepts_failed == 1 and stats.accept_failures == {"http_409": 1}
    assert stats.published >= 12 and stats.publish_errors == 0 and stats.tick_errors == 0
    assert stats.fridges_online == 0


def test_the_same_seed_decides_the_same_way(
    mosquitto: MosquittoBroker, fake_api: FakeApi, tmp_path: Path
) -> None:
    """Two fleets with one seed stock the same items and pick the same proposals."""
    results = []
    for run in range(2):
        clock = ManualClock(START)
        fleet = Fleet(
            FRIDGES[:1], mosquitto.url, fake_api.base_url, clock, seed=7, accept_probability=0.5,
            state_dir=tmp_path / str(run),
        )
        with BusObserver(mosquitto.url, channels=()) as server:
            fleet.start()
            try:
                assert fleet.wait_online(10)
                agent = fleet.agent("sim-0")
                ids = [f"p-{n}" for n in range(12)]
                server.publish(topic("sim-0", Channel.OFFERS), offers("sim-0", clock, *ids), retain=True)
                agent.wait_for_offers(lambda o: len(o) == 12, 5)
                items = [(i.gtin, i.label_expiry) for i in agent.items]
            finally:
                fleet.stop()
            # Clear the retained offers for the next run.
            server.publish(topic("sim-0", Channel.OFFERS), b"", retain=True)
        bought = []
        while not fake_api.calls.empty():
            bought.append(fake_api.calls.get_nowait().path)
        results.append((items, sorted(bought), fleet.stats.accepts_ok + fleet.stats.declined))
    assert results[0] == results[1]
    assert results[0][2] == 12
    assert 0 < len(results[0][1]) < 12
