"""A server worker (`freshtap server`, a real subprocess on PostgreSQL) killed with SIGKILL in the
middle of one-tap purchases, then started again; the door screens retry with the same
Idempotency-Key. Exactly one order per key and exactly one sandbox charge per order, all paid.

The fast case (in `make test`) kills the worker exactly between the provider's charge and the
commit that records it. No hook in the server makes that happen; the test holds PostgreSQL locks.
It locks the sandbox ledger so the charge waits, then locks the new order's row and releases the
ledger: the worker commits the charge and then waits for the order's row to record the result,
and that is when it dies. The `faults` cases (`make faults`) do that for eight taps in a row, and
kill the worker at random points of bursts of taps from several households, six times over. Recovery is the server's own job
(`reconcile_pending` in the scheduler, for pending orders older than two minutes): the restarted
worker runs with `FRESHTAP_CLOCK_SPEED` so those minutes pass in a fraction of a second.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Connection, Engine, text

from freshtap.clock import ManualClock
from freshtap.server.services.settlement import order_key
from tests.faults.conftest import MakeStack
from tests.faults.deployment import FaultStack, Worker
from tests.payments.conftest import pay_stack
from tests.stack import wait_until

# The restarted worker's clock: the two minutes before recovery takes a pending order pass in 0.2 s.
RECOVERY_CLOCK_SPEED = "600"
TIMEOUT = 60.0


@dataclass(frozen=True)
class Tap:
    """One door-screen tap: which household's fridge (its credential), what it buys, under which key."""

    token: str
    household_id: str
    proposal_id: str
    key: str


def _taps(database_url: str, households: int, per_household: int) -> list[Tap]:
    """Live proposals made through the real ingest (one per household, then copies of it)."""
    taps = []
    with pay_stack(database_url, clock=ManualClock(datetime.now(UTC))) as paying:
        for h in range(households):
            home = paying.household()
            template = paying.proposal(home)
            for n in range(per_household):
                proposal = template if n == 0 else paying.proposal_like(template)
                taps.append(Tap(home.password, home.household_id, proposal, f"tap-{h}-{n}"))
    return taps


def _tap(worker: Worker, tap: Tap) -> httpx.Response | None:
    """The tap as the door screen sends it; None when the worker died under it."""
    headers = {"Authorization": f"Bearer {tap.token}", "Idempotency-Key": tap.key}
    try:
        return httpx.post(f"{worker.http}/api/v1/proposals/{tap.proposal_id}/accept", headers=headers, timeout=30)
    except httpx.TransportError:
        return None


def _scalar(engine: Engine, sql: str, **params: object) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def _order_id(engine: Engine, tap: Tap) -> str | None:
    found = _scalar(
        engine,
        'SELECT id FROM "order" WHERE household_id = :h AND idempotency_key = :k',
        h=tap.household_id,
        k=tap.key,
    )
    return None if found is None else str(found)


def _charges(engine: Engine, order_id: str) -> int:
    key = order_key("charge", order_id)
    return int(str(_scalar(engine, "SELECT count(*) FROM sandboxcharge WHERE idempotency_key = :k", k=key)))


@contextmanager
def _held(engine: Engine, sql: str, **params: object) -> Iterator[Connection]:
    """A transaction holding the lock `sql` takes, until released (rolled back) or the block ends."""
    conn = engine.connect()
    try:
        conn.execute(text(sql), params)
        yield conn
    finally:
        conn.rollback()
        conn.close()


def _lock_waiters(engine: Engine) -> int:
    return int(
        str(
            _scalar(
                engine,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
        )
    )


def _assert_one_charge_and_one_order_each(stack: FaultStack, taps: list[Tap]) -> None:
    """After the retries and recovery: every tap's key names one paid order, charged exactly once."""
    engine = stack.engine
    for tap in taps:
        count = int(str(_scalar(engine, 'SELECT count(*) FROM "order" WHERE proposal_id = :p', p=tap.proposal_id)))
        assert count == 1, f"{tap.key}: {count} orders for one proposal"

    def all_paid() -> bool:
        statuses = {str(s) for s in _statuses(engine)}
        return statuses == {"paid"}

    wait_until(all_paid, timeout=TIMEOUT, interval=0.1)
    orders = int(str(_scalar(engine, 'SELECT count(*) FROM "order"')))
    charges = int(str(_scalar(engine, "SELECT count(*) FROM sandboxcharge")))
    assert orders == len(taps), f"{orders} orders for {len(taps)} taps"
    assert charges == orders, f"{charges} sandbox charges for {orders} orders"
    for tap in taps:
        order_id = _order_id(engine, tap)
        assert order_id is not None and _charges(engine, order_id) == 1, tap.key
        assert _scalar(engine, 'SELECT payment_reference FROM "order" WHERE id = :o', o=order_id) is not None


def _statuses(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(text('SELECT status FROM "order"')).scalars())


def _kill_between_charge_and_commit(stack: FaultStack, tap: Tap) -> str:
    """Start a worker, tap, and SIGKILL the worker after the charge and before its commit; the order's id."""
    worker = stack.spawn_worker()
    outcome: dict[str, httpx.Response | None] = {}
    with _held(stack.engine, "LOCK TABLE sandboxcharge IN EXCLUSIVE MODE") as ledger:
        tapping = threading.Thread(target=lambda: outcome.update(first=_tap(worker, tap)))
        tapping.start()
        # The order is committed (pending) before the provider is called; the charge waits for the ledger.
        order_id: str = wait_until(lambda: _order_id(stack.engine, tap), timeout=TIMEOUT)
        with _held(stack.engine, 'SELECT id FROM "order" WHERE id = :o FOR UPDATE', o=order_id):
            ledger.rollback()  # the charge goes through and commits ...
            wait_until(lambda: _charges(stack.engine, order_id) == 1, timeout=TIMEOUT)
            # ... and the worker waits for the order's row to record it: between charge and commit.
            wait_until(lambda: _lock_waiters(stack.engine) >= 1, timeout=TIMEOUT)
            worker.kill()
    tapping.join(TIMEOUT)
    assert outcome["first"] is None, "the worker answered although it was killed before recording the charge"
    status = _scalar(stack.engine, 'SELECT status FROM "order" WHERE id = :o', o=order_id)
    assert status == "pending" and _charges(stack.engine, order_id) == 1
    return order_id


def test_worker_killed_between_the_charge_and_its_commit_charges_once(make_fault_stack: MakeStack) -> None:
    stack = make_fault_stack(fridges=0)
    (tap,) = _taps(stack.database_url, households=1, per_household=1)
    order_id = _kill_between_charge_and_commit(stack, tap)
    restarted = stack.spawn_worker(FRESHTAP_CLOCK_SPEED=RECOVERY_CLOCK_SPEED)
    retry = _tap(restarted, tap)
    assert retry is not None and retry.status_code in (200, 201, 202), retry and retry.text
    assert retry.json()["order_id"] == order_id, "the retried tap made a second order"
    _assert_one_charge_and_one_order_each(stack, [tap])


@pytest.mark.faults
@pytest.mark.timeout(900)
def test_worker_killed_between_charge_and_commit_again_and_again(make_fault_stack: MakeStack) -> None:
    stack = make_fault_stack(fridges=0)
    taps = _taps(stack.database_url, households=2, per_household=4)
    for tap in taps:
        _kill_between_charge_and_commit(stack, tap)
    _recover(stack, taps)


def _burst_with_a_kill(stack: FaultStack, taps: list[Tap], new: int, rng: random.Random) -> None:
    """Send `taps` at once from 8 door screens; SIGKILL the worker once a random share of the `new`
    ones (taps never sent before) made their orders."""
    worker = stack.spawn_worker()
    before = int(str(_scalar(stack.engine, 'SELECT count(*) FROM "order"')))
    kill_after = before + rng.randint(1, max(1, new - 1))
    with ThreadPoolExecutor(8) as pool:
        pending = [pool.submit(_tap, worker, tap) for tap in taps]
        wait_until(
            lambda: int(str(_scalar(stack.engine, 'SELECT count(*) FROM "order"'))) >= kill_after, timeout=TIMEOUT
        )
        worker.kill()
        for future in pending:
            future.result(TIMEOUT)


def _recover(stack: FaultStack, taps: list[Tap]) -> None:
    restarted = stack.spawn_worker(FRESHTAP_CLOCK_SPEED=RECOVERY_CLOCK_SPEED)
    with ThreadPoolExecutor(8) as pool:
        retries = list(pool.map(lambda tap: _tap(restarted, tap), taps))
    for tap, retry in zip(taps, retries, strict=True):
        assert retry is not None and retry.status_code in (200, 201, 202), (tap.key, retry and retry.text)
        assert retry.json()["order_id"] == _order_id(stack.engine, tap), tap.key
    _assert_one_charge_and_one_order_each(stack, taps)


@pytest.mark.faults
@pytest.mark.timeout(900)
def test_worker_killed_repeatedly_during_bursts_of_taps(make_fault_stack: MakeStack) -> None:
    stack = make_fault_stack(fridges=0)
    rng = random.Random()
    rounds = 6
    taps = _taps(stack.database_url, households=8, per_household=3 * rounds)
    per_round = len(taps) // rounds
    for n in range(rounds):
        # Each round a new burst, and the taps of the rounds before retried in it, as screens do.
        fresh = taps[n * per_round : (n + 1) * per_round]
        earlier = rng.sample(taps[: n * per_round], min(8, n * per_round))
        _burst_with_a_kill(stack, fresh + earlier, len(fresh), rng)
    _recover(stack, taps)
