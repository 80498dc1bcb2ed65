"""A server worker killed with SIGKILL in the middle of ingest, then started again.

The worker acknowledges a message to the broker only after it committed it (manual PUBACK), and
its session is persistent: whatever it had received but not committed is still the broker's, and
goes to the worker that resumes the session. What it had committed but not yet acknowledged comes
back too, and is recognised by its (fridge_id, seq): a duplicate suppressed, not a second effect.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import MakeStack
from tests.faults.deployment import FaultStack, Worker
from tests.faults.ledger import FaultReport, duplicates_in_metrics

TIMEOUT = 90.0


def run_with_worker_kills(
    stack: FaultStack,
    case: str,
    total: int,
    rate: float,
    kill_at: list[float],
    steady: dict[str, str] | None = None,
    **worker_env: str,
) -> FaultReport:
    """Stream `total` messages; at each fraction of them acknowledged, SIGKILL the worker and start it again.

    With `steady` (its environment), a second worker runs beside it all along, never killed.
    """
    others = [stack.spawn_worker(**steady)] if steady is not None else []
    worker: Worker = stack.spawn_worker(**worker_env)
    fleet = stack.fleet()
    fleet.stream(total, rate)
    duplicates = 0
    stored_at_kill = []
    for fraction in kill_at:
        fleet.wait_acked(int(total * fraction), TIMEOUT)
        # Kill it while it is ingesting: some messages stored, more in flight and queued.
        duplicates += duplicates_in_metrics(worker.metrics())
        stored_at_kill.append(len(stack.stored()))
        worker.kill()
        worker = stack.spawn_worker(**worker_env)
    fleet.wait_all_acked(TIMEOUT)
    sentinels = fleet.publish_sentinels()
    fleet.wait_all_acked(TIMEOUT)
    # One worker: its sentinels come last. Several: any message may come last, so wait for all.
    stack.wait_stored(fleet.acked if others else sentinels)
    duplicates += sum(duplicates_in_metrics(w.metrics()) for w in [worker, *others])
    report = stack.report(
        case, fleet, duplicates, [f"worker SIGKILL@{f:.0%}" for f in kill_at],
        stored_at_kills=stored_at_kill, broker_queue_drops=stack.broker.dropped_lines,
    )
    assert worker.stop() == 0
    return report


def _assert_nothing_lost_or_doubled(report: FaultReport) -> None:
    assert report.acknowledged == report.sent
    assert report.lost == 0
    assert report.duplicate_effects == 0
    assert report.stored == report.sent


def test_worker_killed_mid_ingest_loses_and_doubles_nothing(make_fault_stack: MakeStack) -> None:
    stack = make_fault_stack(fridges=5)
    report = run_with_worker_kills(stack, "worker kill, fast", 600, 400, [0.5])
    _assert_nothing_lost_or_doubled(report)
    assert report.notes["stored_at_kills"][0] < report.sent  # type: ignore[index]  # it really was mid-stream


@pytest.mark.faults
@pytest.mark.timeout(1800)
def test_ten_thousand_messages_through_three_worker_kills(make_fault_stack: MakeStack) -> None:
    stack = make_fault_stack(fridges=10)
    report = run_with_worker_kills(stack, "10k, 3x worker kill", 10_000, 400, [0.2, 0.5, 0.8])
    _assert_nothing_lost_or_doubled(report)


@pytest.mark.faults
@pytest.mark.timeout(1800)
def test_a_worker_of_two_killed_and_restarted_under_its_own_id_loses_nothing(make_fault_stack: MakeStack) -> None:
    """Shared subscription: the killed worker's session keeps its share (Mosquitto queues it even
    while the worker is gone) and the restarted worker must resume that session, so it needs the
    same client id as before: `FRESHTAP_WORKER_ID` (proposed in the issue 8 report; until the
    server reads it, each start gets a random id, the old session's share is stranded, and this
    test fails by exactly that share).
    """
    stack = make_fault_stack(fridges=10)
    report = run_with_worker_kills(
        stack, "2 workers, 2x kill of one", 3_000, 300, [0.3, 0.6],
        steady={"FRESHTAP_SHARE_GROUP": "ingest", "FRESHTAP_WORKER_ID": "w1"},
        FRESHTAP_SHARE_GROUP="ingest", FRESHTAP_WORKER_ID="w2",
    )
    _assert_nothing_lost_or_doubled(report)
