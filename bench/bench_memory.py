"""Benchmark (f): server memory per connected fridge, beyond a fixed base.

`freshtap server` runs in its own process on the embedded broker (amqtt + SQLite). Light fridges
connect as an agent does — client id and username its fridge id, its password, a persistent
session, subscribed at QoS 1 to its own `offers` and `notices`, its retained `state` published —
from one asyncio process, in two equal steps. The server's resident memory (`/proc/PID/status`
VmRSS, once steady) is read before and after each step; the figure is the growth per fridge over
the second step, so the first connection's one-off costs (argon2's 19 MiB working memory on the
login threads, caches, imports) count as the fixed base.

- baseline: the same fridges on Mosquitto 2.0 (with freshtap's passwords and ACL), measured the
  same way on the Mosquitto process; the server there holds no per-fridge connection (shown too).

    python bench/bench_memory.py [--quick] [--fridges 1000] [--profile]

`--profile` repeats the embedded run with the broker in this process under `tracemalloc` and
lists the allocation sites that grew most over the second step.

Target (issue 7): <= 4 KB per connected fridge beyond a fixed base.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections import Counter
from collections.abc import Callable
from typing import Any

from harness.load import connect_fridges
from harness.report import Figure, ServiceMissing, console, parser, progress, report, skip
from harness.stack import (
    Fridge,
    Mosquitto,
    ServerProcess,
    provision_fridges,
    scratch_database,
    steady_rss_kib,
    workdir,
)
from harness.wire import LightClient

from freshtap.contract import Channel, StateBody, StateMessage, encode, topic

NAME = "memory"
TARGET_KB = 4.0


async def connect_in_steps(
    host: str, port: int, fridges: list[Fridge], measure: Callable[[], int]
) -> tuple[list[int], list[LightClient]]:
    """Connect half, measure, connect the rest, measure; readings in KiB (before, half, all)."""
    readings = [measure()]
    clients: list[LightClient] = []
    half = len(fridges) // 2
    with progress() as bar:
        task = bar.add_task("fridges connecting", total=len(fridges))
        for group in (fridges[:half], fridges[half:]):
            made = await connect_fridges(
                host, port, group, subscribe=True, clean_session=False, concurrency=20,
                on_connected=lambda: bar.advance(task),
            )
            for fridge, client in zip(group, made, strict=True):
                state = StateMessage(
                    v=1, type="state", fridge_id=fridge.fridge_id, at=_now(),
                    body=StateBody(online=True, model="bench", firmware="1", agent="freshtap bench"),
                )
                await client.publish(topic(fridge.fridge_id, Channel.STATE), encode(state), retain=True)
            clients.extend(made)
            await asyncio.sleep(1.0)  # let the server apply the state messages before reading memory
            readings.append(await asyncio.to_thread(measure))
    return readings, clients


def _now() -> Any:
    from harness.payloads import now

    return now()


def per_fridge_kib(readings: list[int], count: int) -> tuple[float, float]:
    """(growth per fridge over the second step, growth per fridge over both), KiB."""
    half = count // 2
    return (readings[2] - readings[1]) / (count - half), (readings[2] - readings[0]) / count


async def hold(host: str, port: int, fridges: list[Fridge], measure: Callable[[], int]) -> list[int]:
    readings, clients = await connect_in_steps(host, port, fridges, measure)
    await asyncio.gather(*(c.close() for c in clients))
    return readings


def run(args: Any) -> None:
    with workdir("memory") as directory, scratch_database("sqlite", directory) as database_url:
        console.print(f"provisioning {args.fridges} fridges ...", markup=False)
        fridges = provision_fridges(database_url, args.fridges)
        server = ServerProcess(database_url, directory)
        try:
            embedded = asyncio.run(
                hold(server.mqtt_host, server.mqtt_port, fridges, lambda: steady_rss_kib(server.pid))
            )
        finally:
            server.stop()
        slope, overall = per_fridge_kib(embedded, len(fridges))
        try:
            mosquitto = Mosquitto(database_url, directory)
        except ServiceMissing as missing:
            skip(NAME, "mosquitto baseline", str(missing))
            baseline, server_side = float("nan"), float("nan")
        else:
            try:
                server = ServerProcess(database_url, directory, mosquitto.url)
                try:
                    both: list[tuple[int, int]] = []

                    def measure_both() -> int:
                        both.append((steady_rss_kib(server.pid), steady_rss_kib(mosquitto.pid)))
                        return both[-1][1]

                    readings = asyncio.run(hold(mosquitto.host, mosquitto.port, fridges, measure_both))
                finally:
                    server.stop()
            finally:
                mosquitto.stop()
            baseline, _ = per_fridge_kib(readings, len(fridges))
            server_side, _ = per_fridge_kib([b[0] for b in both], len(fridges))
    report(
        Figure(
            NAME, "amqtt+sqlite", "server RSS per connected fridge", slope, "KiB",
            "Mosquitto RSS per connected fridge", baseline,
            target="<= 4 KB per fridge beyond a fixed base", met=slope <= TARGET_KB,
            extra={
                "fridges": len(fridges), "rss_kib": embedded, "per_fridge_overall_kib": overall,
                "server_with_mosquitto_per_fridge_kib": server_side,
            },
        ),
        args.json_out,
    )
    console.print(
        f"embedded: RSS {embedded[0]:,} -> {embedded[1]:,} -> {embedded[2]:,} KiB "
        f"({overall:.1f} KiB per fridge over both steps); with Mosquitto the server grew "
        f"{server_side:.2f} KiB per fridge",
        markup=False,
    )
    if args.profile:
        profile_allocations(args.fridges)


def profile_allocations(count: int) -> None:
    """The embedded broker in this process under tracemalloc: where the second step's memory went."""
    from freshtap.server.broker.embedded import EmbeddedBroker
    from freshtap.server.security.broker_auth import DatabaseBrokerAuthenticator
    from freshtap.server.security.credentials import CredentialVerifier
    from freshtap.server.store.db import create_db_engine, session_factory

    with workdir("memory-profile") as directory, scratch_database("sqlite", directory) as database_url:
        fridges = provision_fridges(database_url, count)
        verifier = CredentialVerifier(session_factory(create_db_engine(database_url)))
        broker = EmbeddedBroker("127.0.0.1", 0, DatabaseBrokerAuthenticator(verifier, "freshtap-server", "x" * 20))
        broker.start()
        snapshots: list[tracemalloc.Snapshot] = []

        def snap() -> int:
            gc.collect()
            snapshots.append(tracemalloc.take_snapshot())
            return len(snapshots)

        tracemalloc.start(8)
        try:
            asyncio.run(hold(broker.host, broker.port, fridges, snap))
        finally:
            tracemalloc.stop()
            broker.stop()
    half = count - count // 2
    stats = snapshots[2].compare_to(snapshots[1], "traceback")
    total = sum(s.size_diff for s in stats)
    console.print(
        f"tracemalloc, embedded broker in-process, growth over the second step: "
        f"{total / 1024 / half:.1f} KiB per fridge (Python allocations only); top sites:",
        markup=False,
    )
    by_site: Counter[str] = Counter()
    for stat in stats:
        # The most recent frame inside amqtt or freshtap names the site (frames run oldest first).
        ours = [f for f in stat.traceback if "amqtt" in f.filename or "freshtap" in f.filename]
        frame = ours[-1] if ours else stat.traceback[-1]
        by_site["/".join(frame.filename.split("/")[-3:]) + f":{frame.lineno}"] += stat.size_diff
    for site, size in by_site.most_common(12):
        console.print(f"  {size / 1024 / half:7.2f} KiB/fridge  {site}", markup=False)


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--fridges", type=int, default=None, help="connected fridges (1000)")
    cli.add_argument("--profile", action="store_true", help="tracemalloc the embedded broker's growth")
    args = cli.parse_args()
    args.fridges = args.fridges or (10 if args.quick else 1000)
    run(args)


if __name__ == "__main__":
    main()
