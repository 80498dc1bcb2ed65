"""Per-fridge order with several workers: a shared subscription may hand two messages of one fridge
to two workers at once, and in any order. The server must end where in-order delivery ends.

The rule (docs/deployment.md): each apply locks the fridge's row to commit; the newest snapshot
wins; an event newer than the snapshot it arrives after is applied on top of it, and an event older
than the newest snapshot changes nothing the snapshot already says.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text

from tests.scaleout.conftest import Ingest, make_ingest
from tests.scaleout.timeline import START, FridgeTimeline, Sent
from tests.stack import wait_until

WAIT = 20.0  # seconds; only ever reached when the behaviour under test is broken


def _deliver(ingest: Ingest, messages: list[Sent]) -> list[str]:
    return [ingest.handle(m.topic, m.payload) for m in messages]


def test_an_event_that_overtakes_its_snapshot_still_holds(ingest: Ingest) -> None:
    fridge = FridgeTimeline(ingest.add_fridge("f-overtake"), START.date())
    fridge.add("milk")
    fridge.add("eggs")
    first = fridge.snapshot()
    fridge.add("ham")
    second = fridge.snapshot()  # milk, eggs, ham; nothing opened yet
    opened = fridge.open("milk")
    removed = fridge.remove("eggs")

    # The two events reach a worker before the snapshot they follow; the first snapshot comes last.
    outcomes = _deliver(ingest, [opened, removed, second, first])

    assert outcomes == ["applied", "applied", "applied", "stale"]
    assert ingest.inventory_seq(fridge.fridge_id) == second.seq
    assert ingest.present(fridge.fridge_id) == {"milk": fridge.held["milk"], "ham": None}


def test_an_event_older_than_the_newest_snapshot_changes_nothing(ingest: Ingest) -> None:
    fridge = FridgeTimeline(ingest.add_fridge("f-older"), START.date())
    fridge.add("juice")
    removed = fridge.remove("juice")
    fridge.add("juice.2")  # bought again
    newest = fridge.snapshot()

    outcomes = _deliver(ingest, [newest, removed])

    assert outcomes == ["applied", "applied"]  # the event is kept (the events table), its effect is not
    assert ingest.present(fridge.fridge_id) == {"juice.2": None}


def _life(rng: random.Random, fridge: FridgeTimeline, steps: int) -> None:
    """A random but plausible life: things come in, get opened, go out; snapshots now and then."""
    names = ["milk", "eggs", "butter", "ham", "juice"]
    for step in range(steps):
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
            fridge.telemetry()
        else:
            fridge.snapshot()
        if step == steps - 1:
            fridge.snapshot()


def _reference(make: Callable[[], Ingest], fridge: FridgeTimeline) -> tuple[dict[str, object], int | None]:
    """What in-order delivery to one worker ends with."""
    ingest = make()
    ingest.add_fridge(fridge.fridge_id)
    _deliver(ingest, fridge.sent)
    return dict(ingest.present(fridge.fridge_id)), ingest.inventory_seq(fridge.fridge_id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(3, 30))
def test_any_delivery_order_with_redeliveries_ends_where_in_order_delivery_ends(
    tmp_path_factory: pytest.TempPathFactory, seed: int, steps: int
) -> None:
    rng = random.Random(seed)
    fridge = FridgeTimeline(f"f-{seed % 10_000}", START.date())
    _life(rng, fridge, steps)
    folder = tmp_path_factory.mktemp("order")
    urls = iter([f"sqlite:///{folder / 'in-order.db'}", f"sqlite:///{folder / 'shuffled.db'}"])
    opened = [make_ingest(next(urls)) for _ in range(2)]
    try:
        in_order, shuffled = (next(gen) for gen in opened)
        in_order.add_fridge(fridge.fridge_id)
        _deliver(in_order, fridge.sent)
        shuffled.add_fridge(fridge.fridge_id)
        redelivered = fridge.sent + rng.sample(fridge.sent, k=len(fridge.sent) // 3)
        rng.shuffle(redelivered)
        _deliver(shuffled, redelivered)

        assert shuffled.present(fridge.fridge_id) == in_order.present(fridge.fridge_id)
        assert shuffled.inventory_seq(fridge.fridge_id) == in_order.inventory_seq(fridge.fridge_id)
        # It ends with a snapshot, so the server also agrees with the device itself.
        assert in_order.present(fridge.fridge_id) == fridge.expected_present()
    finally:
        for gen in opened:
            gen.close()


def test_a_stale_snapshot_waits_for_the_fridge_lock_and_loses(pg_ingest: Ingest) -> None:
    """Two workers apply two snapshots of one fridge at the same moment; the older one must lose.

    Worker A (seq 3) reads the fridge and is held there. Worker B (seq 2) then reads the same
    fridge: with the row lock it waits until A commits and sees seq 3; without it, it reads the old
    row, A commits, and B writes its older snapshot over A's newer one.
    """
    ingest = pg_ingest
    fridge = FridgeTimeline(ingest.add_fridge("f-race"), START.date())
    fridge.add("milk")
    fridge.add("butter")
    older = fridge.snapshot()
    fridge.remove("butter")
    fridge.add("eggs")
    newer = fridge.snapshot()

    a_read, release_a, a_committed, b_read = (threading.Event() for _ in range(4))
    outcomes: dict[str, str] = {}
    errors: list[BaseException] = []
    engine = ingest.services.engine

    def after_execute(conn: object, cursor: object, statement: str, *_: object) -> None:
        name = threading.current_thread().name
        if not statement.lstrip().startswith("SELECT fridge.id") or "WHERE fridge.id" not in statement:
            return
        if name == "worker-a" and not a_read.is_set():
            a_read.set()
            assert release_a.wait(WAIT)
        elif name == "worker-b" and not b_read.is_set():
            b_read.set()
            assert a_committed.wait(WAIT)

    def on_commit(conn: object) -> None:
        if threading.current_thread().name == "worker-a" and a_read.is_set():
            a_committed.set()

    def run(name: str, message: Sent) -> None:
        try:
            outcomes[name] = ingest.handle(message.topic, message.payload)
        except BaseException as exc:
            errors.append(exc)

    event.listen(engine, "after_cursor_execute", after_execute)
    event.listen(engine, "commit", on_commit)
    try:
        worker_a = threading.Thread(target=run, args=("a", newer), name="worker-a")
        worker_a.start()
        assert a_read.wait(WAIT)
        worker_b = threading.Thread(target=run, args=("b", older), name="worker-b")
        worker_b.start()
        # B either read the row (no lock: the bug) or is waiting for A's lock (the fix).
        wait_until(lambda: b_read.is_set() or _someone_waits_on_a_lock(ingest), timeout=WAIT)
        release_a.set()
        worker_a.join(WAIT)
        worker_b.join(WAIT)
    finally:
        release_a.set()
        a_committed.set()
        event.remove(engine, "after_cursor_execute", after_execute)
        event.remove(engine, "commit", on_commit)

    assert not errors, errors
    assert outcomes == {"a": "applied", "b": "stale"}
    assert ingest.inventory_seq(fridge.fridge_id) == newer.seq
    assert set(ingest.present(fridge.fridge_id)) == {"milk", "eggs"}


def _someone_waits_on_a_lock(ingest: Ingest) -> bool:
    with ingest.services.engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar()
    return bool(waiting)


def test_four_workers_on_shuffled_fridges_end_where_the_devices_are(pg_ingest: Ingest) -> None:
    """Many fridges' shuffled, partly redelivered messages applied by four threads at once."""
    ingest = pg_ingest
    offer_id = ingest.milk_offer()
    rng = random.Random(8)
    fridges = [FridgeTimeline(ingest.add_fridge(f"f-many-{i}"), START.date()) for i in range(3)]
    for fridge in fridges:
        fridge.add("milk")
        _life(rng, fridge, 40)
        if "milk" not in fridge.held:
            fridge.add("milk")
            fridge.snapshot()
    stream = [m for f in fridges for m in f.sent]
    stream += rng.sample(stream, k=len(stream) // 4)
    rng.shuffle(stream)

    lanes = [stream[i::4] for i in range(4)]
    errors: list[BaseException] = []

    def work(lane: list[Sent]) -> None:
        try:
            _deliver(ingest, lane)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(lane,)) for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors

    for fridge in fridges:
        assert ingest.present(fridge.fridge_id) == fridge.expected_present()
        assert ingest.inventory_seq(fridge.fridge_id) == max(m.seq for m in fridge.sent if m.kind == "inventory")
        assert ingest.live_proposals(fridge.fridge_id) == [("milk", offer_id)]

