"""Benchmark (c): one-tap accept under concurrent HTTP load, p50 and p99, at 100 requests a second.

F fridges each report a snapshot holding many cartons of milk that expire within a day, so the
merchant's `expiring` offer opens one proposal per carton; each fridge's household reads its
offers over HTTP (which also verifies, and caches, its credential). Then, open loop at a fixed
rate, `POST /api/v1/proposals/{id}/accept` with a fresh `Idempotency-Key` per proposal, from
httpx against `freshtap server` (uvicorn) in its own process. Latency is measured from each
request's scheduled start, so a stalled server cannot hide the requests it delayed.

- figure: accept (claim the proposal, create the order, charge the sandbox card, republish offers);
- baseline: `GET /healthz` at the same rate, from the same client, against the same server: the
  HTTP stack's own floor. Also shown: replaying accepts with the same key (the idempotent path).

    python bench/bench_accept.py [--quick] [--backends amqtt+sqlite,mosquitto+postgres] [--rate 100] [--seconds 10]

Target (issue 7): accept p99 <= 50 ms at 100 requests/s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from harness.load import connect_fridges
from harness.payloads import inventory, milk_item, now
from harness.profiler import Profile, py_spy_record
from harness.report import Figure, ServiceMissing, console, parser, percentile, report, skip
from harness.stack import (
    Backend,
    Fridge,
    Mosquitto,
    ServerProcess,
    backend_from_name,
    create_merchant,
    merchant_offers,
    provision_fridges,
    scratch_database,
    wait_for,
    workdir,
)

from freshtap.contract import Channel, topic

NAME = "accept"
TARGET_P99_MS = 50.0


async def open_loop(
    rate: float, requests: list[Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]], client: httpx.AsyncClient
) -> tuple[list[float], Counter[int]]:
    """Start request i at i / rate seconds; latency (ms) from that scheduled start to the response."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    started = time.perf_counter()

    async def one(i: int, call: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]) -> None:
        scheduled = started + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            response = await call(client)
            statuses[response.status_code] += 1
        except httpx.HTTPError:
            statuses[0] += 1
        latencies.append((time.perf_counter() - scheduled) * 1000)

    await asyncio.gather(*(one(i, call) for i, call in enumerate(requests)))
    return latencies, statuses


async def stock_proposals(server: ServerProcess, fridges: list[Fridge], per_fridge: int) -> dict[str, list[str]]:
    """Report `per_fridge` expiring cartons per fridge; returns each fridge's live proposal ids."""
    clients = await connect_fridges(server.mqtt_host, server.mqtt_port, fridges)
    try:
        at = now()
        for fridge, client in zip(fridges, clients, strict=True):
            items = [milk_item(f"milk-{k}", at) for k in range(per_fridge)]
            await client.publish(topic(fridge.fridge_id, Channel.INVENTORY), inventory(fridge.fridge_id, 1, items, at))
        await asyncio.to_thread(
            wait_for, lambda: server.ingested() >= len(fridges), 600, "snapshots ingested", 0.1
        )
    finally:
        await asyncio.gather(*(c.close() for c in clients))
    proposals: dict[str, list[str]] = {}
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        for fridge in fridges:
            response = await http.get(
                f"/api/v1/fridges/{fridge.fridge_id}/offers", headers={"Authorization": f"Bearer {fridge.password}"}
            )
            response.raise_for_status()
            proposals[fridge.fridge_id] = [o["proposal_id"] for o in response.json()["body"]["offers"]]
    return proposals


def run_backend(backend: Backend, args: Any) -> None:
    total = int(args.rate * args.seconds)
    per_fridge = -(-total // args.fridges)
    with workdir(f"accept-{backend.name}") as directory, scratch_database(
        backend.database, directory, args.postgres_url
    ) as database_url:
        fridges = provision_fridges(database_url, args.fridges)
        api_key = create_merchant(database_url)
        mosquitto = Mosquitto(database_url, directory) if backend.broker == "mosquitto" else None
        try:
            server = ServerProcess(database_url, directory, mosquitto.url if mosquitto else None)
            profile: Profile | None = None
            try:
                merchant_offers(server.http_url, api_key)
                proposals = asyncio.run(stock_proposals(server, fridges, per_fridge))
                password = {f.fridge_id: f.password for f in fridges}
                # Interleave households, as taps from many homes would arrive.
                ranked = sorted(
                    ((k, fid, pid) for fid, pids in proposals.items() for k, pid in enumerate(pids)),
                    key=lambda t: t[0],
                )
                pairs = [(fid, pid) for _, fid, pid in ranked][:total]
                keys = {pid: str(uuid.uuid4()) for _, pid in pairs}

                def accept(fid: str, pid: str) -> Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]:
                    headers = {"Authorization": f"Bearer {password[fid]}", "Idempotency-Key": keys[pid]}
                    return lambda c: c.post(f"/api/v1/proposals/{pid}/accept", headers=headers)

                async def run_all() -> dict[str, tuple[list[float], Counter[int]]]:
                    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
                    async with httpx.AsyncClient(base_url=server.http_url, timeout=30, limits=limits) as client:
                        health = [lambda c: c.get("/healthz")] * len(pairs)
                        await open_loop(args.rate, health[: max(10, len(pairs) // 10)], client)  # warm connections
                        results = {"healthz": await open_loop(args.rate, health, client)}
                        results["accept"] = await open_loop(args.rate, [accept(f, p) for f, p in pairs], client)
                        results["replay"] = await open_loop(args.rate, [accept(f, p) for f, p in pairs], client)
                        return results

                if args.profile_seconds:
                    profile = py_spy_record(server.pid, args.profile_seconds + args.seconds, background=True)
                results = asyncio.run(run_all())
                orders = {k: v for k, v in server.metrics().items() if k.startswith("freshtap_orders_total")}
            finally:
                server.stop()
        finally:
            if mosquitto is not None:
                mosquitto.stop()
    accept_ms, accept_status = results["accept"]
    health_ms, health_status = results["healthz"]
    replay_ms, replay_status = results["replay"]
    extra = {
        "requests": len(pairs), "rate": args.rate, "accept_status": dict(accept_status),
        "healthz_status": dict(health_status), "replay_status": dict(replay_status),
        "replay_p50_ms": percentile(replay_ms, 50), "replay_p99_ms": percentile(replay_ms, 99),
        "orders": orders,
    }
    ok = accept_status.get(200, 0) == len(pairs)
    for quantile in (50, 99):
        report(
            Figure(
                NAME, backend.name, f"accept p{quantile}", percentile(accept_ms, quantile), "ms",
                f"GET /healthz p{quantile}", percentile(health_ms, quantile),
                target="p99 <= 50 ms at 100 req/s" if quantile == 99 else None,
                met=(percentile(accept_ms, 99) <= TARGET_P99_MS and ok) if quantile == 99 else None,
                extra=extra,
            ),
            args.json_out,
        )
    console.print(
        f"[{backend.name}] replay with the same key: p50 {extra['replay_p50_ms']:.1f} ms, "
        f"p99 {extra['replay_p99_ms']:.1f} ms; statuses accept {dict(accept_status)}, replay {dict(replay_status)}",
        markup=False,
    )
    if profile is not None:
        console.print(profile.wait().render(f"py-spy, server process, {backend.name}"), markup=False)


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--backends", default="amqtt+sqlite,mosquitto+postgres")
    cli.add_argument("--rate", type=float, default=100.0, help="requests per second")
    cli.add_argument("--seconds", type=float, default=None, help="how long each phase lasts (10)")
    cli.add_argument("--fridges", type=int, default=None, help="households tapping (50)")
    cli.add_argument("--postgres-url", default=None, help="an existing empty PostgreSQL database to use")
    cli.add_argument("--profile", dest="profile_seconds", nargs="?", const=0.0, type=float, default=None,
                     help="sample the server with py-spy during the accepts")
    args = cli.parse_args()
    args.seconds = args.seconds or (0.3 if args.quick else 10.0)
    args.fridges = args.fridges or (3 if args.quick else 50)
    args.profile_seconds = None if args.profile_seconds is None else args.seconds
    console.print(f"{NAME}: {args.rate:.0f} requests/s for {args.seconds:.1f} s from {args.fridges} households",
                  markup=False)
    for name in args.backends.split(","):
        backend = backend_from_name(name.strip())
        try:
            run_backend(backend, args)
        except ServiceMissing as missing:
            skip(NAME, backend.name, str(missing))


if __name__ == "__main__":
    main()
