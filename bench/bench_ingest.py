"""Benchmark (a): one server process's sustained ingest of inventory snapshots, against a validating subscriber.

For each backend (Mosquitto + SQLite, Mosquitto + PostgreSQL, amqtt + SQLite) in one run:

- baseline: a paho subscriber in its own process that only checks each message with
  `freshtap.contract.decode` receives the same stream from the same broker (on amqtt, the
  server's own embedded broker class with its database logins, alone in a process);
- figure: `freshtap server` in its own process (QoS 1, each message stored with its
  `(fridge_id, seq)` in one transaction, the fridge's offers evaluated) ingests the stream.

The stream: F fridges, each a QoS 1 publisher of its own inventory snapshots (4-6 items that
a simulated household holds; one due within two days, which the merchant's `expiring` offers
match), from one asyncio process, as fast as the brokers acknowledge. Each side first takes one
snapshot per fridge (connections, first proposals, caches), then N more are timed from the first
publish to the last arrival (the subscriber's own clock; the server's `/metrics`, read every 0.1 s).

    python bench/bench_ingest.py [--quick] [--backends amqtt+sqlite,...] [--messages N] [--profile]

Targets (issue 7): >= 0.6 of the subscriber on Mosquitto + SQLite, >= 0.5 on PostgreSQL, >= 0.8 on amqtt.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from harness.load import blast, connect_fridges
from harness.payloads import SeqPayloads
from harness.profiler import Profile, py_spy_record
from harness.report import Figure, ServiceMissing, console, parser, report, skip
from harness.stack import (
    SERVER_PASSWORD,
    SERVER_USERNAME,
    VALIDATOR_USERNAME,
    Backend,
    ChildProcess,
    Fridge,
    Mosquitto,
    ServerProcess,
    StandaloneBroker,
    backend_from_name,
    create_merchant,
    helper_command,
    merchant_offers,
    provision_fridges,
    scratch_database,
    wait_for,
    workdir,
)

NAME = "ingest"
TARGETS = {"mosquitto+sqlite": 0.6, "mosquitto+postgres": 0.5, "amqtt+sqlite": 0.8}


def stream(fridges: list[Fridge], first_seq: int, per_fridge: int) -> list[list[tuple[str, bytes]]]:
    out = []
    for fridge in fridges:
        template = SeqPayloads.inventory(fridge.fridge_id)
        out.append([(template.topic, template.payload(first_seq + k)) for k in range(per_fridge)])
    return out


async def _phase(
    host: str,
    port: int,
    fridges: list[Fridge],
    per_fridge: int,
    warmed: Callable[[], object],
    finished: Callable[[], object],
) -> tuple[float, float, object]:
    """Connect the fridges, publish one snapshot each, wait for `warmed`; then time the rest until `finished`.

    Connections stay open until the consumer has everything: amqtt 0.12.1 drops messages it has
    already acknowledged when their publisher disconnects right after (see docs/benchmarks.md).
    Returns (start of the timed publishing as `time.time()`, seconds the publishers took, `finished()`).
    """
    clients = await connect_fridges(host, port, fridges)
    try:
        await blast(clients, stream(fridges, 1, 1))
        await asyncio.to_thread(warmed)
        batches = stream(fridges, 2, per_fridge)
        started = time.time()
        publish_seconds = await blast(clients, batches)
        result = await asyncio.to_thread(finished)
        return started, publish_seconds, result
    finally:
        await asyncio.gather(*(c.close() for c in clients))


def baseline_rate(host: str, port: int, username: str, fridges: list[Fridge], per_fridge: int) -> dict[str, Any]:
    """The validating subscriber's rate, messages per second, on the broker at host:port."""
    total = len(fridges) * per_fridge
    argv, env = helper_command(
        "validator", host, str(port), username, SERVER_PASSWORD, "count",
        "--warmup", str(len(fridges)), "--messages", str(total),
    )
    validator = ChildProcess(argv, env=env)
    try:
        validator.wait_line(r"^READY$", 30)
        started, publish_seconds, done = asyncio.run(
            _phase(
                host, port, fridges, per_fridge,
                lambda: validator.wait_line(r"^WARM ", 120),
                lambda: json.loads(validator.wait_line(r"^DONE (.*)$", 1800).group(1)),
            )
        )
    finally:
        validator.stop()
    assert isinstance(done, dict)
    elapsed = done["last"] - started
    return {"rate": total / elapsed, "seconds": elapsed, "invalid": done["invalid"], "publish_seconds": publish_seconds}


def server_rate(
    server: ServerProcess, fridges: list[Fridge], seconds: float, messages: int | None, profile_seconds: float
) -> tuple[dict[str, Any], Profile | None]:
    """The server's rate. Unless `messages` is given, a short first batch sizes the timed one to last `seconds`."""
    warm = len(fridges)

    def ingested_at_least(count: int) -> float:
        wait_for(lambda: server.ingested() >= count, 3600, f"{count} messages ingested", interval=0.1)
        return time.time()

    async def run() -> tuple[float, float, int, Profile | None]:
        clients = await connect_fridges(server.mqtt_host, server.mqtt_port, fridges)
        try:
            seq, done = 1, 0
            await blast(clients, stream(fridges, seq, 1))  # connections, first proposals, caches
            seq, done = seq + 1, done + warm
            await asyncio.to_thread(ingested_at_least, done)
            per_fridge = max(1, (messages or 0) // len(fridges))
            if messages is None:
                started = time.time()
                await blast(clients, stream(fridges, seq, 2))
                seq, done = seq + 2, done + 2 * warm
                rate = 2 * warm / (await asyncio.to_thread(ingested_at_least, done) - started)
                per_fridge = max(2, round(rate * seconds / len(fridges)))
            profile = py_spy_record(server.pid, profile_seconds, background=True) if profile_seconds else None
            started = time.time()
            publish_seconds = await blast(clients, stream(fridges, seq, per_fridge))
            ended = await asyncio.to_thread(ingested_at_least, done + per_fridge * warm)
            return ended - started, publish_seconds, per_fridge * warm, profile
        finally:
            await asyncio.gather(*(c.close() for c in clients))

    elapsed, publish_seconds, total, profile = asyncio.run(run())
    if profile is not None:
        profile.wait()
    measured = {
        "rate": total / elapsed, "seconds": elapsed, "messages": total,
        "outcomes": server.outcomes(), "publish_seconds": publish_seconds,
    }
    return measured, profile


def run_backend(backend: Backend, fridge_count: int, base_per_fridge: int, args: Any) -> None:
    with workdir(f"ingest-{backend.name}") as directory, scratch_database(
        backend.database, directory, args.postgres_url
    ) as database_url:
        console.print(f"[{backend.name}] provisioning {fridge_count} fridges ...", markup=False)
        fridges = provision_fridges(database_url, fridge_count)
        api_key = create_merchant(database_url)
        mosquitto = Mosquitto(database_url, directory) if backend.broker == "mosquitto" else None
        try:
            if mosquitto is not None:
                base = baseline_rate(mosquitto.host, mosquitto.port, VALIDATOR_USERNAME, fridges, base_per_fridge)
            else:
                standalone = StandaloneBroker(database_url)
                try:
                    base = baseline_rate(standalone.host, standalone.port, SERVER_USERNAME, fridges, base_per_fridge)
                finally:
                    standalone.stop()
            acked = len(fridges) * base_per_fridge / base["publish_seconds"]
            console.print(
                f"[{backend.name}] baseline: {base['rate']:,.0f} msg/s over {base['seconds']:.1f} s "
                f"(the broker acknowledged the publishers at {acked:,.0f} msg/s)",
                markup=False,
            )
            server = ServerProcess(database_url, directory, mosquitto.url if mosquitto else None)
            try:
                merchant_offers(server.http_url, api_key)
                measured, profile = server_rate(server, fridges, args.seconds, args.messages, args.profile_seconds)
            finally:
                server.stop()
        finally:
            if mosquitto is not None:
                mosquitto.stop()
    applied = measured["outcomes"].get("applied", 0)
    target = TARGETS[backend.name]
    ratio = measured["rate"] / base["rate"]
    report(
        Figure(
            NAME, backend.name, "server ingest", measured["rate"], "msg/s",
            "validating subscriber", base["rate"],
            target=f">= {target} of the subscriber", met=ratio >= target,
            extra={
                "fridges": fridge_count, "messages": measured["messages"], "seconds": round(measured["seconds"], 2),
                "baseline_messages": fridge_count * base_per_fridge, "outcomes": measured["outcomes"],
                "applied": applied, "baseline_invalid": base["invalid"],
            },
        ),
        args.json_out,
    )
    if profile is not None:
        console.print(profile.render(f"py-spy, server process, {backend.name}"), markup=False)


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--backends", default="mosquitto+sqlite,mosquitto+postgres,amqtt+sqlite")
    cli.add_argument("--fridges", type=int, default=None, help="publishing fridges (default 20; 4 with --quick)")
    cli.add_argument("--seconds", type=float, default=None, help="how long the server's timed run should last (20)")
    cli.add_argument("--messages", type=int, default=None, help="timed messages for the server (instead of --seconds)")
    cli.add_argument("--baseline-messages", type=int, default=None, help="timed messages for the subscriber")
    cli.add_argument("--postgres-url", default=None, help="an existing empty PostgreSQL database to use")
    cli.add_argument("--profile", dest="profile_seconds", nargs="?", const=10.0, type=float, default=0.0,
                     help="sample the server with py-spy for this many seconds of the timed run")
    args = cli.parse_args()
    fridges = args.fridges or (4 if args.quick else 20)
    if args.quick and args.messages is None:
        args.messages = 40
    args.seconds = args.seconds or 20.0
    base_messages = args.baseline_messages or (200 if args.quick else 20000)
    base_per_fridge = max(1, base_messages // fridges)
    sizing = f"{args.messages} timed messages" if args.messages else f"a timed run of about {args.seconds:.0f} s"
    console.print(
        f"{NAME}: {fridges} fridges publishing inventory snapshots at QoS 1; server: {sizing}; "
        f"subscriber: {fridges * base_per_fridge} timed messages",
        markup=False,
    )
    for name in args.backends.split(","):
        backend = backend_from_name(name.strip())
        try:
            run_backend(backend, fridges, base_per_fridge, args)
        except ServiceMissing as missing:
            skip(NAME, backend.name, str(missing))


if __name__ == "__main__":
    main()
