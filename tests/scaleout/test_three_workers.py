"""Three server workers on one shared subscription, Mosquitto and PostgreSQL, against one worker on
the same input: each takes a fair share, and they end in the same state, nothing lost or doubled.

The input is a fleet of fridges living plausible lives (tests/scaleout/timeline.py): items come in,
get opened, go out; snapshots, events, telemetry and state. A merchant's milk offer matches, so
proposals open; the households then tap "buy", and in the three-worker run each tap is sent to
every worker at once with the same Idempotency-Key, and once more with another key.

What "the same state" means: everything a fridge or household can see and everything that must
happen once. Proposals that opened and closed again on the way are left out: with a shared
subscription the messages of one fridge reach different workers in a different order, so the
path may differ even though where it ends does not (docs/deployment.md, "Per-fridge order").
"""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from freshtap.clock import SystemClock
from freshtap.server.api.schemas import OfferCreate, ProductCreate
from freshtap.server.services import accounts
from freshtap.server.services.catalog import CatalogService
from freshtap.server.store.db import session_factory
from tests.faults.deployment import FaultStack, MakeStack, Worker, fault_stack_factory
from tests.faults.fleet import PublishingFleet
from tests.scaleout.timeline import MILK_GTIN, FridgeTimeline
from tests.stack import wait_until

FRIDGES = 8
SHARE_GROUP = "ingest"


@pytest.fixture
def make_fault_stack(request: pytest.FixtureRequest, tmp_path: Any, mosquitto_binary: str) -> MakeStack:
    return fault_stack_factory(request, tmp_path, mosquitto_binary)


def _workload(fridge_ids: list[str], start: datetime) -> list[FridgeTimeline]:
    rng = random.Random(20261123)
    lives = []
    for fridge_id in fridge_ids:
        fridge = FridgeTimeline(fridge_id, start.date(), at=start)
        fridge.state(online=True)
        fridge.add("milk")
        for _ in range(rng.randint(15, 30)):
            roll = rng.random()
            absent = [n for n in ("eggs", "butter", "ham", "juice") if n not in fridge.held]
            if roll < 0.25 and absent:
                fridge.add(rng.choice(absent))
            elif roll < 0.35 and [n for n, o in fridge.held.items() if o is None and n != "milk"]:
                fridge.open(rng.choice([n for n, o in fridge.held.items() if o is None and n != "milk"]))
            elif roll < 0.45 and len(fridge.held) > 1:
                fridge.remove(rng.choice(sorted(n for n in fridge.held if n != "milk")))
            elif roll < 0.7:
                fridge.telemetry(3.0 + rng.random())
            else:
                fridge.snapshot()
        fridge.snapshot()
        lives.append(fridge)
    return lives


def _seed_offer(stack: FaultStack) -> None:
    sessions = session_factory(stack.engine)
    merchant = accounts.create_merchant(sessions, SystemClock(), "Dairy")
    catalog = CatalogService(sessions, SystemClock())
    catalog.create_product(
        merchant.merchant_id,
        ProductCreate.model_validate(
            {"gtin": MILK_GTIN, "name": "Whole milk 1 L", "category": "dairy",
             "price": {"amount_minor": 1290, "currency": "CNY"}}
        ),
    )
    catalog.create_offer(
        merchant.merchant_id,
        OfferCreate.model_validate(
            {"gtin": MILK_GTIN, "match": {"gtin": MILK_GTIN}, "trigger": {"kind": "expiring", "within_hours": 48}}
        ),
    )


def _handled(worker: Worker) -> int:
    total = 0.0
    for line in worker.metrics().splitlines():
        if line.startswith(("freshtap_ingest_messages_total{", "freshtap_ingest_rejected_total{")):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def _leaders(workers: list[Worker]) -> int:
    count = 0
    for worker in workers:
        for line in worker.metrics().splitlines():
            if line.startswith("freshtap_scheduler_leader "):
                count += int(float(line.split()[1]))
    return count


def _tap(worker: Worker, password: str, proposal_id: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{worker.http}/api/v1/proposals/{proposal_id}/accept",
        headers={"Authorization": f"Bearer {password}", "Idempotency-Key": key},
        timeout=30,
    )


def _live_proposals(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, fridge_id, item_id FROM proposal WHERE status = 'live' ORDER BY fridge_id, item_id")
        ).all()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def run(stack: FaultStack, workers: int, start: datetime) -> dict[str, Any]:
    """Feed the workload to `workers` workers; tap every live proposal; return the final state and shares."""
    _seed_offer(stack)
    started = stack.spawn_workers(workers, FRESHTAP_SHARE_GROUP=SHARE_GROUP)
    lives = _workload(sorted(stack.fridges), start)
    fleet = PublishingFleet("127.0.0.1", stack.broker.port, stack.fridges)
    try:
        fleet.connect()
        # Each fridge publishes its life in order, as its agent would; the fridges interleave.
        queues = [list(life.sent) for life in lives]
        while any(queues):
            for life, pending in zip(lives, queues, strict=True):
                if pending:
                    message = pending.pop(0)
                    retain = message.kind == "state"
                    key = message.seq if message.kind != "state" else -len(pending) - 1
                    fleet.send(life.fridge_id, message.topic, message.payload, key, retain=retain)
        fleet.wait_acked(fleet.sent, 60)
        expected = {(life.fridge_id, m.seq) for life in lives for m in life.sent if m.kind != "state"}
        stack.wait_stored(expected, stall=30)
        wait_until(lambda: sum(_handled(w) for w in started) >= fleet.sent, timeout=30)
    finally:
        fleet.close()

    shares = [_handled(w) for w in started]
    leaders = _leaders(started)
    taps: Counter[int] = Counter()
    for proposal_id, fridge_id, _item in _live_proposals(stack.engine):
        password = stack.fridges[fridge_id]
        key = f"tap-{fridge_id}"
        # The same tap reaches every worker at once (a retrying door screen behind a load balancer).
        with ThreadPoolExecutor(len(started)) as pool:
            answers = list(pool.map(partial(_tap, password=password, proposal_id=proposal_id, key=key), started))
        assert len({a.json().get("order_id") for a in answers}) == 1, [a.text for a in answers]
        taps.update(a.status_code for a in answers)
        other = _tap(started[-1], password, proposal_id, f"other-{fridge_id}")
        assert other.status_code == 409, other.text
    return {"state": final_state(stack.engine), "shares": shares, "leaders": leaders, "taps": taps}


def final_state(engine: Engine) -> dict[str, Any]:
    """Everything that must not depend on how many workers there were, with ids that differ left out."""
    queries = {
        "fridges": "SELECT id, online, inventory_seq, door_open FROM fridge ORDER BY id",
        "inventory": (
            "SELECT fridge_id, item_id, gtin, name, quantity, fill, opened_at, label_expiry, freshness_state"
            " FROM inventoryrecord WHERE present ORDER BY fridge_id, item_id"
        ),
        "applied": "SELECT fridge_id, seq, type FROM appliedmessage ORDER BY fridge_id, seq",
        "events": "SELECT fridge_id, seq, kind, item_id FROM fridgeevent ORDER BY fridge_id, seq",
        "telemetry": "SELECT fridge_id, at, compartment, temp_c FROM telemetryreading ORDER BY fridge_id, at",
        "live_proposals": (
            "SELECT p.fridge_id, p.item_id, pr.gtin, p.price_minor, p.reason_kind FROM proposal p"
            " JOIN product pr ON pr.id = p.product_id WHERE p.status = 'live' ORDER BY 1, 2"
        ),
        "accepted_proposals": (
            "SELECT fridge_id, item_id FROM proposal WHERE status = 'accepted' ORDER BY 1, 2"
        ),
        "orders": (
            "SELECT o.fridge_id, p.item_id, o.status, o.amount_minor, o.currency FROM \"order\" o"
            " JOIN proposal p ON p.id = o.proposal_id ORDER BY 1, 2"
        ),
        "charges": "SELECT count(*), coalesce(sum(amount_minor), 0) FROM sandboxcharge",
        "rejections": "SELECT reason, count(*) FROM rejection GROUP BY reason ORDER BY reason",
    }
    with engine.connect() as conn:
        return {name: [tuple(row) for row in conn.execute(text(sql)).all()] for name, sql in queries.items()}


def test_three_workers_share_the_load_and_end_where_one_worker_ends(make_fault_stack: MakeStack) -> None:
    start = datetime.now(UTC).replace(microsecond=0)  # both runs get the very same messages
    one = run(make_fault_stack(fridges=FRIDGES), workers=1, start=start)
    three = run(make_fault_stack(fridges=FRIDGES), workers=3, start=start)

    print(f"[scaleout] shares of {sum(three['shares'])} messages: one worker {one['shares']}, three {three['shares']}")
    total = sum(three["shares"])
    assert total == sum(one["shares"])
    for share in three["shares"]:
        assert share >= 0.2 * total, f"shares {three['shares']} of {total}"
    assert one["leaders"] == 1 and three["leaders"] == 1  # the scheduler runs in exactly one worker

    state_one, state_three = one["state"], three["state"]
    assert state_one["orders"], "the workload must end in orders, or 'nothing doubled' says nothing"
    for name in state_one:
        assert state_three[name] == state_one[name], name
    # Every tap of a proposal came back with the same order, and there is one order and one charge per proposal.
    assert len(state_three["orders"]) == len(state_three["accepted_proposals"]) == state_three["charges"][0][0]
