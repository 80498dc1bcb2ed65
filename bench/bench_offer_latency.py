"""Benchmark (b): from a fridge's publish to the offer arriving back at that fridge, p50 and p99, under load.

Background: B fridges publish 1,000 messages a second at QoS 1 (telemetry and inventory
snapshots, 3:1, as the simulator's defaults send them), open loop. A probe fridge, subscribed to its
own retained `offers` topic like a door screen, publishes a snapshot holding a new carton of
milk that expires in 20 hours and waits for the `offers` message that proposes it; then a
pause of 20-80 ms, then the next probe (each probe's milk replaces the previous one).

- figure: `freshtap server` in its own process (store, shelf life, offer rules, publish);
- baseline: on the same broker under the same background, a paho relay in its own process that
  checks every message with `contract.decode` and answers the probe's snapshot with an `offers`
  message at once (no database): the floor of the round trip.

    python bench/bench_offer_latency.py [--quick] [--backends amqtt+sqlite,mosquitto+postgres] [--probes N]

Target (issue 7): p99 <= 100 ms with 1,000 msg/s in the background.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from harness.load import connect_fridges, paced
from harness.payloads import SeqPayloads, inventory, milk_item, now, stock
from harness.profiler import Profile, py_spy_record
from harness.report import Figure, ServiceMissing, console, parser, percentile, report, skip
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

from freshtap.contract import Channel, ContractViolation, OffersMessage, decode, topic

NAME = "offer_latency"
TARGET_P99_MS = 100.0


async def measure(
    host: str,
    port: int,
    probe: Fridge,
    background: list[Fridge],
    rate: float,
    probes: int,
    warmed: Callable[[int], None],
    on_start: Callable[[], None] = lambda: None,
    *,
    tag: str,
    settle: float = 1.0,
    max_seconds: float = 120.0,
) -> dict[str, Any]:
    """Run the background load and the probes; latencies in milliseconds."""
    arrivals: dict[str, asyncio.Future[float]] = {}
    loop = asyncio.get_running_loop()

    def on_offers(_fridge: Fridge) -> Callable[[str, bytes, bool], None]:
        def handle(topic_name: str, payload: bytes, _retained: bool) -> None:
            try:
                message = decode(topic_name, payload)
            except ContractViolation:
                return
            if not isinstance(message, OffersMessage):
                return
            at = time.perf_counter()
            for entry in message.body.offers:
                future = arrivals.get(entry.item_id)
                if future is not None and not future.done():
                    future.set_result(at)

        return handle

    (probe_client,) = await connect_fridges(host, port, [probe], subscribe=True, on_message=on_offers)
    clients = await connect_fridges(host, port, background, window=10_000)
    inventories = [SeqPayloads.inventory(f.fridge_id) for f in background]
    telemetries = [SeqPayloads.telemetry(f.fridge_id) for f in background]
    seqs = [1] * len(background)
    for k, client in enumerate(clients):  # every background fridge's first snapshot: its first proposals
        await client.publish(inventories[k].topic, inventories[k].payload(seqs[k]))
        seqs[k] += 1
    await asyncio.to_thread(warmed, len(clients))

    def send(i: int) -> None:
        k = i % len(clients)
        template = inventories[k] if (i // len(clients)) % 4 == 3 else telemetries[k]
        fut = loop.create_task(clients[k].publish(template.topic, template.payload(seqs[k])))
        fut.add_done_callback(lambda f: f.exception())
        seqs[k] += 1

    stop = asyncio.Event()
    load = asyncio.create_task(paced(rate, send, stop))
    rng = random.Random(7)
    base_items = stock(probe.fridge_id, now())
    base_items = [i for i in base_items if i.gtin != base_items[0].gtin]  # keep the probe's milk the only urgent item
    latencies: list[float] = []
    lost = 0
    started = time.perf_counter()
    try:
        await asyncio.sleep(settle)  # let the background reach its rate
        on_start()
        for n in range(probes):
            if time.perf_counter() - started > max_seconds:
                break  # a saturated server: report what was measured, and the probes never sent
            item_id = f"probe-{tag}-{n}"
            arrivals[item_id] = loop.create_future()
            payload = inventory(probe.fridge_id, 1000 + n, [*base_items, milk_item(item_id, now())])
            sent = time.perf_counter()
            await probe_client.publish(topic(probe.fridge_id, Channel.INVENTORY), payload)
            try:
                arrived = await asyncio.wait_for(arrivals[item_id], 10)
                latencies.append((arrived - sent) * 1000)
            except TimeoutError:
                lost += 1
            await asyncio.sleep(rng.uniform(0.02, 0.08))
    finally:
        stop.set()
        sent_total = await load
        elapsed = time.perf_counter() - started
        await asyncio.gather(*(c.close() for c in [probe_client, *clients]))
    return {
        "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "max": max(latencies, default=float("nan")),
        "probes": len(latencies), "lost": lost, "not_sent": probes - len(latencies) - lost,
        "background_rate": sent_total / elapsed,
    }


def run_backend(backend: Backend, args: Any) -> None:
    with workdir(f"latency-{backend.name}") as directory, scratch_database(
        backend.database, directory, args.postgres_url
    ) as database_url:
        fridges = provision_fridges(database_url, args.background + 2)
        # Two probe fridges: the relay's retained offers stay on the first one's topic.
        relay_probe, probe, background = fridges[0], fridges[1], fridges[2:]
        api_key = create_merchant(database_url)
        mosquitto = Mosquitto(database_url, directory) if backend.broker == "mosquitto" else None
        try:
            # Baseline: the relay on the same broker (amqtt: the server's broker class, alone).
            standalone = None if mosquitto else StandaloneBroker(database_url)
            host, port = (mosquitto.host, mosquitto.port) if mosquitto else (standalone.host, standalone.port)  # type: ignore[union-attr]
            user = VALIDATOR_USERNAME if mosquitto else SERVER_USERNAME
            argv, env = helper_command("validator", host, str(port), user, SERVER_PASSWORD, "echo", "--fridge",
                                       relay_probe.fridge_id)
            relay = ChildProcess(argv, env=env)
            try:
                relay.wait_line(r"^READY$", 30)
                base = asyncio.run(
                    measure(host, port, relay_probe, background, args.rate, args.probes, lambda n: None,
                            tag="relay", settle=args.settle, max_seconds=args.max_seconds)
                )
            finally:
                relay.stop()
                if standalone is not None:
                    standalone.stop()
            console.print(
                f"[{backend.name}] relay: p50 {base['p50']:.1f} ms, p99 {base['p99']:.1f} ms "
                f"(background {base['background_rate']:,.0f} msg/s)",
                markup=False,
            )
            server = ServerProcess(database_url, directory, mosquitto.url if mosquitto else None)
            profile: list[Profile] = []
            try:
                merchant_offers(server.http_url, api_key)

                def warmed(count: int) -> None:
                    wait_for(lambda: server.ingested() >= count, 600, "first snapshots ingested", interval=0.1)

                def on_start() -> None:
                    if args.profile_seconds:
                        profile.append(py_spy_record(server.pid, args.profile_seconds, background=True))

                measured = asyncio.run(
                    measure(server.mqtt_host, server.mqtt_port, probe, background, args.rate, args.probes, warmed,
                            on_start, tag="server", settle=args.settle, max_seconds=args.max_seconds)
                )
                behind = server.ingested()
            finally:
                server.stop()
        finally:
            if mosquitto is not None:
                mosquitto.stop()
    extra = {
        "background_fridges": len(background), "background_rate": round(measured["background_rate"]),
        "probes": measured["probes"], "lost": measured["lost"], "not_sent": measured["not_sent"],
        "max_ms": measured["max"],
        "server_p50_ms": measured["p50"], "relay_p50_ms": base["p50"], "ingested_by_the_end": behind,
    }
    passed = measured["p99"] <= TARGET_P99_MS and not measured["lost"] and not measured["not_sent"]
    for quantile in ("p50", "p99"):
        report(
            Figure(
                NAME, backend.name, f"publish->offer {quantile}", measured[quantile], "ms",
                f"decode-and-echo relay {quantile}", base[quantile],
                target="p99 <= 100 ms" if quantile == "p99" else None,
                met=passed if quantile == "p99" else None,
                extra=extra,
            ),
            args.json_out,
        )
    for sampled in profile:
        console.print(sampled.wait().render(f"py-spy, server process, {backend.name}"), markup=False)


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--backends", default="amqtt+sqlite,mosquitto+postgres")
    cli.add_argument("--rate", type=float, default=None, help="background messages per second (1000)")
    cli.add_argument("--background", type=int, default=None, help="background fridges (50)")
    cli.add_argument("--probes", type=int, default=None, help="probe round trips (200)")
    cli.add_argument("--postgres-url", default=None, help="an existing empty PostgreSQL database to use")
    cli.add_argument("--profile", dest="profile_seconds", nargs="?", const=10.0, type=float, default=0.0,
                     help="sample the server with py-spy for this many seconds while probing")
    args = cli.parse_args()
    args.rate = args.rate or (20.0 if args.quick else 1000.0)
    args.background = args.background or (2 if args.quick else 50)
    args.probes = args.probes or (3 if args.quick else 200)
    args.max_seconds = 60.0 if args.quick else 120.0
    args.settle = 0.2 if args.quick else 1.0
    console.print(
        f"{NAME}: {args.probes} probes with {args.rate:,.0f} msg/s from {args.background} background fridges",
        markup=False,
    )
    for name in args.backends.split(","):
        backend = backend_from_name(name.strip())
        try:
            run_backend(backend, args)
        except ServiceMissing as missing:
            skip(NAME, backend.name, str(missing))


if __name__ == "__main__":
    main()
