"""Benchmark: ingest with one and with two server workers on one shared subscription (Mosquitto + PostgreSQL).

Both configurations get the same input in one run: F fridges, each a QoS 1 publisher of its own
inventory snapshots (a simulated household's stock; a merchant's `expiring` offer matches one
item, so offers are planned as in production). Each configuration has a scratch PostgreSQL
database and a Mosquitto of its own, and K `freshtap server` processes with
`FRESHTAP_SHARE_GROUP` set, so the broker splits the stream between them. One snapshot per fridge
warms the workers (connections, first proposals, caches); then N snapshots are timed from the
first publish until the workers' `/metrics` have counted them all.

    python bench/bench_workers.py [--quick] [--fridges F] [--messages N] [--workers 2]

The figure is the K-worker rate, the baseline the one-worker rate, and the ratio says what the
K-th worker buys on this machine. Workers share the machine's cores and the one PostgreSQL, so
the ratio is bounded by those: on a 2-core machine that also runs the broker, PostgreSQL and the
publishers, it stays well under K.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx
from harness.load import blast, connect_fridges
from harness.payloads import SeqPayloads
from harness.report import Figure, ServiceMissing, console, parser, report, skip
from harness.stack import (
    FRESHTAP,
    SERVER_PASSWORD,
    SERVER_USERNAME,
    ChildProcess,
    Fridge,
    Mosquitto,
    create_merchant,
    merchant_offers,
    provision_fridges,
    scratch_database,
    wait_for,
    workdir,
)
from prometheus_client.parser import text_string_to_metric_families

NAME = "workers"
CONFIG = "mosquitto+postgres"
SHARE_GROUP = "bench"


class Worker:
    """One `freshtap server` in a shared-subscription group, in a process of its own."""

    def __init__(self, database_url: str, mqtt_url: str, directory: Path, number: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHTAP_")}
        env.update(
            FRESHTAP_DATABASE_URL=database_url,
            FRESHTAP_MQTT_URL=mqtt_url,
            FRESHTAP_SERVER_MQTT_USERNAME=SERVER_USERNAME,
            FRESHTAP_SERVER_MQTT_PASSWORD=SERVER_PASSWORD,
            FRESHTAP_SHARE_GROUP=SHARE_GROUP,
            FRESHTAP_HTTP_PORT="0",
            FRESHTAP_DATA_DIR=str(directory / f"worker-{number}"),
        )
        self._proc = ChildProcess([FRESHTAP, "server"], env=env, cwd=directory)
        self.http_url = self._proc.wait_line(r"HTTP (http://\S+)", 60).group(1)
        self._http = httpx.Client(base_url=self.http_url, timeout=10)

    def handled(self) -> dict[str, int]:
        """Messages this worker handled, by outcome (rejections as `rejected`)."""
        out: dict[str, int] = {}
        for family in text_string_to_metric_families(self._http.get("/metrics").text):
            for sample in family.samples:
                if sample.name == "freshtap_ingest_messages_total":
                    outcome = sample.labels.get("outcome", "?")
                    out[outcome] = out.get(outcome, 0) + int(sample.value)
                elif sample.name == "freshtap_ingest_rejected_total":
                    out["rejected"] = out.get("rejected", 0) + int(sample.value)
        return out

    def total(self) -> int:
        return sum(self.handled().values())

    def stop(self) -> None:
        self._http.close()
        self._proc.stop()


def _stream(fridges: list[Fridge], first_seq: int, per_fridge: int) -> list[list[tuple[str, bytes]]]:
    out = []
    for fridge in fridges:
        template = SeqPayloads.inventory(fridge.fridge_id)
        out.append([(template.topic, template.payload(first_seq + k)) for k in range(per_fridge)])
    return out


def measure(workers: int, fridge_count: int, per_fridge: int, postgres_url: str | None) -> dict[str, Any]:
    """Ingest rate of `workers` workers, messages per second, on a fresh database and broker."""
    with workdir(f"workers-{workers}") as directory, scratch_database("postgres", directory, postgres_url) as url:
        fridges = provision_fridges(url, fridge_count)
        api_key = create_merchant(url)
        mosquitto = Mosquitto(url, directory)
        started_workers: list[Worker] = []
        try:
            started_workers = [Worker(url, mosquitto.url, directory, n) for n in range(workers)]
            merchant_offers(started_workers[0].http_url, api_key)

            def handled() -> int:
                return sum(w.total() for w in started_workers)

            async def run() -> tuple[float, float]:
                clients = await connect_fridges(mosquitto.host, mosquitto.port, fridges)
                try:
                    await blast(clients, _stream(fridges, 1, 1))
                    await asyncio.to_thread(wait_for, lambda: handled() >= len(fridges), 600, "warm-up", 0.1)
                    started = time.time()
                    publish_seconds = await blast(clients, _stream(fridges, 2, per_fridge))
                    goal = len(fridges) * (1 + per_fridge)
                    await asyncio.to_thread(wait_for, lambda: handled() >= goal, 3600, f"{goal} handled", 0.1)
                    return time.time() - started, publish_seconds
                finally:
                    await asyncio.gather(*(c.close() for c in clients))

            elapsed, publish_seconds = asyncio.run(run())
            shares = [w.total() for w in started_workers]
            outcomes: dict[str, int] = {}
            for worker in started_workers:
                for outcome, count in worker.handled().items():
                    outcomes[outcome] = outcomes.get(outcome, 0) + count
        finally:
            for worker in started_workers:
                worker.stop()
            mosquitto.stop()
    timed = fridge_count * per_fridge
    return {
        "rate": timed / elapsed,
        "seconds": round(elapsed, 2),
        "messages": timed,
        "publish_seconds": round(publish_seconds, 2),
        "shares": shares,
        "outcomes": outcomes,
    }


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--fridges", type=int, default=None, help="publishing fridges (default 20; 4 with --quick)")
    cli.add_argument("--messages", type=int, default=None, help="timed snapshots in all (default 3000; 80 --quick)")
    cli.add_argument("--workers", type=int, default=2, help="workers in the second configuration (default 2)")
    cli.add_argument("--postgres-url", default=None, help="an existing empty PostgreSQL database (used twice)")
    args = cli.parse_args()
    fridge_count = args.fridges or (4 if args.quick else 20)
    messages = args.messages or (80 if args.quick else 3000)
    per_fridge = max(1, messages // fridge_count)
    console.print(
        f"{NAME}: {fridge_count} fridges x {per_fridge} inventory snapshots at QoS 1, "
        f"1 worker, then {args.workers} workers on one shared subscription",
        markup=False,
    )
    try:
        one = measure(1, fridge_count, per_fridge, args.postgres_url)
        console.print(f"[1 worker] {one['rate']:,.1f} msg/s over {one['seconds']} s", markup=False)
        many = measure(args.workers, fridge_count, per_fridge, args.postgres_url)
        console.print(f"[{args.workers} workers] {many['rate']:,.1f} msg/s, shares {many['shares']}", markup=False)
    except ServiceMissing as missing:
        skip(NAME, CONFIG, str(missing))
        return
    report(
        Figure(
            NAME, CONFIG, f"ingest, {args.workers} workers", many["rate"], "msg/s",
            "ingest, 1 worker", one["rate"],
            extra={
                "fridges": fridge_count, "messages": many["messages"], "cpus": os.cpu_count(),
                "one_worker": one, f"{args.workers}_workers": many,
                "min_share": round(min(many["shares"]) / max(1, sum(many["shares"])), 3),
            },
        ),
        args.json_out,
    )
    if (os.cpu_count() or 1) <= 2:
        console.print(
            "note: this machine has <= 2 cores, shared by the broker, PostgreSQL, the publishers and the workers",
            markup=False,
        )


if __name__ == "__main__":
    main()
