"""PostgreSQL restarted (cleanly, and crashed) while the server ingests a QoS 1 stream.

A private cluster (tests/faults/postgres.py) stands in for the database, so the machine's shared
PostgreSQL is never touched. While the database is away the worker keeps each message it cannot
store unacknowledged and retries it with backoff (server/ingest/mqtt_link.py), `/readyz` says
503, and the broker queues the rest for the worker's persistent session. When the database is
back, everything acknowledged is stored once: a commit whose answer was lost in the crash is
recognised by its (fridge_id, seq) when it is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import free_port, missing_service
from tests.faults.conftest import MakeStack
from tests.faults.ledger import FaultReport, duplicates_in_registry
from tests.faults.postgres import PrivateCluster, private_cluster_unavailable
from tests.stack import wait_until

TIMEOUT = 90.0


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    reason = private_cluster_unavailable()
    if reason is not None:
        missing_service(reason)
    cluster = PrivateCluster(free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


class _Expected(logging.Handler):
    """Collects logged exceptions; the retry loop's (database unreachable) are expected here."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("freshtap") and record.exc_info:
            self.records.append(record)


@pytest.fixture
def fail_on_logged_exception() -> Iterator[None]:
    """Overrides the suite's: ingest retries while the database is down are logged by design; the rest fail."""
    handler = _Expected()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    allowed = ("freshtap.server.ingest.mqtt_link",)
    others = [r for r in handler.records if not r.name.startswith(allowed)]
    if others:
        pytest.fail(f"an exception was logged by {others[0].name}: {others[0].getMessage()}", pytrace=False)


def run_with_database_restarts(
    make_fault_stack: MakeStack, cluster: PrivateCluster, case: str, total: int, rate: float, modes: list[str]
) -> tuple[FaultReport, list[int]]:
    stack = make_fault_stack(fridges=5, database_url=cluster.url)
    server = stack.start_server()
    fleet = stack.fleet()
    fleet.stream(total, rate)
    ready_codes: list[int] = []
    for n, mode in enumerate(modes, start=1):
        fleet.wait_acked(total * n // (len(modes) + 1), TIMEOUT)
        cluster.stop(mode)
        # The worker notices: not ready while its database is away.
        wait_until(lambda: httpx.get(f"{server.http_url}/readyz", timeout=10).status_code == 503, timeout=30)
        ready_codes.append(503)
        cluster.start()
        wait_until(lambda: httpx.get(f"{server.http_url}/readyz", timeout=10).status_code == 200, timeout=30)
        ready_codes.append(200)
    fleet.wait_all_acked(TIMEOUT)
    sentinels = fleet.publish_sentinels()
    fleet.wait_all_acked(TIMEOUT)
    stack.wait_stored(sentinels)
    report = stack.report(
        case, fleet, duplicates_in_registry(server.services.metrics.registry), [f"postgres stop -m {m} + start" for m in modes],
        broker_queue_drops=stack.broker.dropped_lines,
    )
    return report, ready_codes


def test_postgres_restarted_under_ingest_loses_and_doubles_nothing(
    make_fault_stack: MakeStack, cluster: PrivateCluster
) -> None:
    report, ready = run_with_database_restarts(
        make_fault_stack, cluster, "postgres restart + crash, fast", 400, 300, ["fast", "immediate"]
    )
    assert ready == [503, 200, 503, 200]
    assert report.acknowledged == report.sent
    assert report.lost == 0
    assert report.duplicate_effects == 0


@pytest.mark.faults
@pytest.mark.timeout(1800)
def test_ten_thousand_messages_through_postgres_restarts_and_crashes(
    make_fault_stack: MakeStack, cluster: PrivateCluster
) -> None:
    report, _ = run_with_database_restarts(
        make_fault_stack, cluster, "10k, postgres 2x restart + 2x crash", 10_000, 400,
        ["fast", "immediate", "fast", "immediate"],
    )
    assert report.acknowledged == report.sent
    assert report.lost == 0
    assert report.duplicate_effects == 0
