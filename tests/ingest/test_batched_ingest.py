"""Batched ingest (server/ingest/service.py `handle_batch`) on SQLite and PostgreSQL.

A batch is one transaction: it must end exactly where applying its messages one at a time ends,
whatever the batch boundaries, order and redeliveries; a bad message or one fridge's database
error must not cost the other messages of the batch; and it must do the per-fridge work (the
full snapshot, the offers refresh) once per fridge, not once per message.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text
from sqlmodel import select

from freshtap.contract import Channel, topic
from freshtap.server.store.models import AppliedMessage, Rejection, TelemetryReading
from tests.scaleout.conftest import Ingest, make_ingest
from tests.scaleout.timeline import START, FridgeTimeline, Sent


def _life(rng: random.Random, fridge: FridgeTimeline, steps: int) -> None:
    names = ["milk", "eggs", "butter", "ham", "juice"]
    for _ in range(steps):
        choice = rng.random()
        absent = [n for n in names if n not in fridge.held]
        closed = [n for n, opened in fridge.held.items() if opened is None]
        if choice < 0.3 and absent:
            fridge.add(rng.choice(absent))
        elif choice < 0.45 and closed:
            fridge.open(rng.choice(closed))
        elif choice < 0.6 and fridge.held:
            fridge.remove(rng.choice(sorted(fridge.held)))
        elif choice < 0.7:
            fridge.telemetry(rng.choice([3.5, 3.8, 9.0]))
        else:
            fridge.snapshot()
    fridge.snapshot()


def _batches(rng: random.Random, messages: list[Sent]) -> list[list[Sent]]:
    out, at = [], 0
    while at < len(messages):
        size = rng.randint(1, 12)
        out.append(messages[at : at + size])
        at += size
    return out


def _outcomes(ingest: Ingest, batch: list[Sent]) -> list[str]:
    return [o.outcome for o in ingest.services.ingest.handle_batch([(m.topic, m.payload) for m in batch])]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(3, 25))
def test_batches_of_any_size_and_order_end_where_one_at_a_time_ends(
    tmp_path_factory: pytest.TempPathFactory, seed: int, steps: int
) -> None:
    rng = random.Random(seed)
    fridges = [FridgeTimeline(f"f{k}-{seed % 1000}", START.date()) for k in range(3)]
    for fridge in fridges:
        _life(rng, fridge, steps)
    folder = tmp_path_factory.mktemp("batch")
    with (
        contextmanager(make_ingest)(f"sqlite:///{folder / 'one.db'}") as one,
        contextmanager(make_ingest)(f"sqlite:///{folder / 'batched.db'}") as batched,
    ):
        for fridge in fridges:
            one.add_fridge(fridge.fridge_id)
            batched.add_fridge(fridge.fridge_id)
            for m in fridge.sent:
                one.handle(m.topic, m.payload)
        mixed = [m for f in fridges for m in f.sent]
        mixed += rng.sample(mixed, k=len(mixed) // 3)  # redeliveries
        rng.shuffle(mixed)
        for batch in _batches(rng, mixed):
            _outcomes(batched, batch)
        for fridge in fridges:
            assert batched.present(fridge.fridge_id) == one.present(fridge.fridge_id) == fridge.expected_present()
            assert batched.inventory_seq(fridge.fridge_id) == one.inventory_seq(fridge.fridge_id)
        with batched.services.sessions() as session:
            applied = len(session.exec(select(AppliedMessage)).all())
            readings = len(session.exec(select(TelemetryReading)).all())
        assert applied == sum(1 for f in fridges for m in f.sent if m.kind != "state")
        assert readings == sum(1 for f in fridges for m in f.sent if m.kind == "telemetry")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('ingest') / 'i.db'}"


@pytest.fixture
def ingest(db_url: str) -> Iterator[Ingest]:
    yield from make_ingest(db_url)


def test_only_the_newest_snapshot_of_a_batch_is_applied_and_offers_refresh_once(ingest: Ingest) -> None:
    ingest.milk_offer()
    fridge = FridgeTimeline(ingest.add_fridge("f-newest"), START.date())
    fridge.add("milk")
    older = [fridge.snapshot() for _ in range(30)]
    fridge.add("ham")
    newest = fridge.snapshot()
    statements: list[str] = []

    def count(_c: object, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = ingest.services.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        outcomes = _outcomes(ingest, [*older[:15], newest, *older[15:], newest])
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert outcomes == ["stale"] * 15 + ["applied"] + ["stale"] * 15 + ["duplicate"]
    assert set(ingest.present(fridge.fridge_id)) == {"milk", "ham"}
    assert ingest.inventory_seq(fridge.fridge_id) == newest.seq
    assert [item for item, _ in ingest.live_proposals(fridge.fridge_id)] == ["milk"]
    # One snapshot's and one refresh's worth of statements, not 31 (one per message was ~17 each).
    assert len(statements) < 60, len(statements)
    with ingest.services.sessions() as session:
        assert len(session.exec(select(AppliedMessage)).all()) == 31  # the redelivered one is logged once


def test_a_bad_message_is_rejected_without_touching_the_rest_of_its_batch(ingest: Ingest) -> None:
    good = FridgeTimeline(ingest.add_fridge("f-good"), START.date())
    good.add("eggs")
    snapshot = good.snapshot()
    reading = good.telemetry()
    unknown = FridgeTimeline("f-nobody", START.date()).telemetry()
    bad = (topic("f-good", Channel.INVENTORY), b'{"not": "valid"}')

    outcomes = ingest.services.ingest.handle_batch(
        [(snapshot.topic, snapshot.payload), bad, (unknown.topic, unknown.payload), (reading.topic, reading.payload)]
    )

    assert [(o.outcome, o.reason) for o in outcomes] == [
        ("applied", None),
        ("rejected", "bad_version"),
        ("rejected", "unknown_fridge"),
        ("applied", None),
    ]
    assert set(ingest.present("f-good")) == {"eggs"}
    with ingest.services.sessions() as session:
        assert sorted(r.reason for r in session.exec(select(Rejection)).all()) == ["bad_version", "unknown_fridge"]


def test_a_database_error_on_one_fridge_does_not_cost_the_others(postgres_url: str) -> None:
    """A row the database refuses (here: a trigger raising 22003, out of range) is that fridge's alone."""
    with contextmanager(make_ingest)(postgres_url) as ingest:
        with ingest.services.engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.fridge_id = 'f-bad' THEN"
                    " RAISE EXCEPTION 'out of range' USING ERRCODE = '22003'; END IF; RETURN NEW; END $$"
                    " LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text("CREATE TRIGGER refuse BEFORE INSERT ON telemetryreading FOR EACH ROW EXECUTE FUNCTION refuse()")
            )
        fridges = [FridgeTimeline(ingest.add_fridge(name), START.date()) for name in ("f-a", "f-bad", "f-z")]
        batch: list[Sent] = []
        for fridge in fridges:
            fridge.add("juice")
            batch += [fridge.snapshot(), fridge.telemetry()]

        outcomes = [
            (o.outcome, o.reason) for o in ingest.services.ingest.handle_batch([(m.topic, m.payload) for m in batch])
        ]

        assert (
            outcomes == [("applied", None)] * 2 + [("applied", None), ("rejected", "invalid")] + [("applied", None)] * 2
        )
        for fridge in fridges:
            assert set(ingest.present(fridge.fridge_id)) == {"juice"}
        with ingest.services.sessions() as session:
            rejected = session.exec(select(Rejection)).all()
        assert [json.loads(r.payload)["fridge_id"] for r in rejected] == ["f-bad"]
