"""A worker cut off from the broker (its network link down, not its process) while another keeps working.

Two workers share the subscription; one runs in a network namespace whose link to the broker the
test takes down. Nothing tells either side at once: the broker keeps handing the cut-off worker
its share (into its persistent session) until the keep-alive runs out, and then keeps queueing
that share for the session. The other worker carries on with its own share. When the link comes
back the cut-off worker's connection (or, after a timeout, its reconnection with the same client
id) gets everything that waited for it, so nothing acknowledged is lost and nothing is doubled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.conftest import free_port, missing_service
from tests.faults.conftest import MakeStack
from tests.faults.deployment import FaultStack, Worker
from tests.faults.ledger import FaultReport, duplicates_in_metrics
from tests.faults.netns import NetworkNamespace, netns_unavailable
from tests.faults.postgres import PrivateCluster, private_cluster_unavailable
from tests.stack import wait_until

TIMEOUT = 90.0
GROUP = "ingest"


@pytest.fixture
def namespace() -> Iterator[NetworkNamespace]:
    reason = netns_unavailable()
    if reason is not None:
        missing_service(reason)
    made = NetworkNamespace()
    try:
        made.create()
        yield made
    finally:
        made.destroy()


@pytest.fixture
def cluster(namespace: NetworkNamespace) -> Iterator[PrivateCluster]:
    """A private PostgreSQL the namespaced worker can reach over its database link."""
    reason = private_cluster_unavailable()
    if reason is not None:
        missing_service(reason)
    db = namespace.links["database"]
    cluster = PrivateCluster(free_port())
    try:
        cluster.init()
        cluster.allow(f"{db.ns_ip}/32")
        cluster.start(listen=f"127.0.0.1,{db.host_ip}")
        yield cluster
    finally:
        cluster.destroy()


def _two_workers(stack: FaultStack, namespace: NetworkNamespace, cluster: PrivateCluster) -> tuple[Worker, Worker]:
    broker, db = namespace.links["broker"], namespace.links["database"]
    here = stack.spawn_worker(FRESHTAP_SHARE_GROUP=GROUP)
    there = stack.spawn_worker(
        tuple(namespace.prefix()),
        FRESHTAP_SHARE_GROUP=GROUP,
        FRESHTAP_MQTT_URL=f"mqtt://{broker.host_ip}:{stack.broker.port}",
        FRESHTAP_DATABASE_URL=cluster.url.replace("127.0.0.1", db.host_ip),
        FRESHTAP_HTTP_HOST=db.ns_ip,  # reachable from here over the database link, which stays up
    )
    return here, there


def run_with_cut(
    make_fault_stack: MakeStack,
    namespace: NetworkNamespace,
    cluster: PrivateCluster,
    case: str,
    total: int,
    rate: float,
    until_broker_gives_up: bool,
) -> tuple[FaultReport, int]:
    stack = make_fault_stack(fridges=5, database_url=cluster.url, start_broker=False)
    stack.broker.add_listener(namespace.links["broker"].host_ip)  # where the namespaced worker connects
    stack.broker.start()
    here, there = _two_workers(stack, namespace, cluster)
    fleet = stack.fleet()
    fleet.stream(total, rate)
    fleet.wait_acked(total // 4, TIMEOUT)

    namespace.cut("broker")
    cut_at = len(stack.stored())
    if until_broker_gives_up:
        # Mosquitto drops a silent client after 1.5 x its keep-alive (30 s for the server's link).
        wait_until(lambda: stack.broker.saw(r"Client freshtap-server-\w+ has exceeded timeout"), timeout=120)
    # Meanwhile the other worker keeps storing its share.
    wait_until(lambda: len(stack.stored()) >= cut_at + total // 10, timeout=TIMEOUT, interval=0.1)
    progressed_while_cut = len(stack.stored()) - cut_at
    namespace.heal("broker")

    fleet.wait_all_acked(TIMEOUT)
    stack.wait_stored(fleet.acked)
    duplicates = duplicates_in_metrics(here.metrics()) + duplicates_in_metrics(there.metrics())
    report = stack.report(
        case, fleet, duplicates, ["broker link of one worker down" + (" past keep-alive" if until_broker_gives_up else "")],
        stored_while_cut=progressed_while_cut,
        shares=[_handled(here), _handled(there)],
    )
    return report, progressed_while_cut


def _handled(worker: Worker) -> int:
    return sum(int(float(v)) for v in re.findall(r"^freshtap_ingest_messages_total\{[^}]*\}\s+(\S+)$",
                                                  worker.metrics(), re.M))


def test_worker_cut_off_from_the_broker_for_a_moment_loses_nothing(
    make_fault_stack: MakeStack, namespace: NetworkNamespace, cluster: PrivateCluster
) -> None:
    report, progressed = run_with_cut(make_fault_stack, namespace, cluster, "network cut, fast", 600, 200, False)
    assert progressed > 0, "the other worker should carry on while one is cut off"
    assert report.acknowledged == report.sent
    assert report.lost == 0
    assert report.duplicate_effects == 0


@pytest.mark.faults
@pytest.mark.timeout(1800)
def test_worker_cut_off_past_the_keep_alive_gets_its_share_back(
    make_fault_stack: MakeStack, namespace: NetworkNamespace, cluster: PrivateCluster
) -> None:
    report, _ = run_with_cut(make_fault_stack, namespace, cluster, "network cut past keep-alive", 10_000, 400, True)
    assert report.acknowledged == report.sent
    assert report.lost == 0
    assert report.duplicate_effects == 0
