"""Child process: N light fridges reporting telemetry every simulated minute until told to stop.

    python -m harness.fleet_runner fleet|lightfleet|light MQTT_HOST MQTT_PORT FRIDGES SPEED STATE_DIR

`fleet` runs `freshtap.simulator.Fleet` as it is (the real device agent per fridge, one paho
network thread each); `lightfleet` runs `freshtap.simulator.light_fleet.LightFleet` (one paho
client per fridge, all on one asyncio loop, stocked by the household model); `light` runs the
same number of bare connections from one asyncio loop
(`harness.wire`), each publishing a telemetry message per simulated minute. Both print
`STARTED <online>` once connected (or after 60 s), then, when stdin closes, `DONE <json>`.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path


def fridge_ids(count: int) -> list[str]:
    return [f"sim-{i:05d}" for i in range(count)]


def run_light_fleet(host: str, port: int, count: int, speed: float) -> None:
    from freshtap.clock import AcceleratedClock
    from freshtap.simulator import SimFridge
    from freshtap.simulator.light_fleet import LightFleet

    fleet = LightFleet(
        [SimFridge(fid, fid, "bench-password") for fid in fridge_ids(count)], f"mqtt://{host}:{port}",
        AcceleratedClock(speed), seed=1, telemetry_every=timedelta(minutes=1), connect_rate=2000,
    )
    started = time.monotonic()
    fleet.start()
    fleet.wait_online(120)
    print(f"STARTED {fleet.stats.online} after {time.monotonic() - started:.1f} s", flush=True)
    sys.stdin.read()
    stats = fleet.stats
    fleet.stop()
    print("DONE " + json.dumps({
        "online": stats.online, "published": stats.published, "publish_errors": stats.publish_errors,
        "connect_errors": stats.connect_errors, "disconnects": stats.disconnects, "threads": threading.active_count(),
    }), flush=True)


def run_fleet(host: str, port: int, count: int, speed: float, state_dir: Path) -> None:
    from freshtap.clock import AcceleratedClock
    from freshtap.simulator import Fleet, SimFridge

    fridges = [SimFridge(fid, fid, "bench-password") for fid in fridge_ids(count)]
    fleet = Fleet(
        fridges, f"mqtt://{host}:{port}", "http://127.0.0.1:9", AcceleratedClock(speed), seed=1,
        accept_probability=0.0, state_dir=state_dir,
        inventory_every=timedelta(minutes=30), telemetry_every=timedelta(minutes=1),
    )
    started = time.monotonic()
    try:
        fleet.start()
    except Exception as exc:  # e.g. too many open files: report it as the reason
        print(f"STARTED 0 error={type(exc).__name__}: {exc}", flush=True)
        print("DONE " + json.dumps({"online": 0, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return
    fleet.wait_online(60)
    print(f"STARTED {fleet.stats.fridges_online} after {time.monotonic() - started:.1f} s", flush=True)
    sys.stdin.read()
    stats = fleet.stats
    fleet.stop()
    print("DONE " + json.dumps({
        "online": stats.fridges_online, "published": stats.published, "publish_errors": stats.publish_errors,
        "tick_errors": stats.tick_errors, "threads": threading.active_count(),
    }), flush=True)


async def run_light(host: str, port: int, count: int, speed: float) -> None:
    from harness.payloads import SeqPayloads
    from harness.wire import LightClient

    clients = [LightClient(host, port, fid, fid, "bench-password", window=100) for fid in fridge_ids(count)]
    gate = asyncio.Semaphore(100)
    started = time.monotonic()

    async def connect(client: LightClient) -> None:
        async with gate:
            await client.connect()

    results = await asyncio.gather(*(connect(c) for c in clients), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    online = [c for c, r in zip(clients, results, strict=True) if not isinstance(r, BaseException)]
    print(f"STARTED {len(online)} after {time.monotonic() - started:.1f} s", flush=True)
    period = 60.0 / speed
    templates = {c.client_id: SeqPayloads.telemetry(c.client_id) for c in online}
    published = 0

    async def report(client: LightClient, phase: float) -> None:
        nonlocal published
        await asyncio.sleep(phase)
        seq = 1
        while True:
            template = templates[client.client_id]
            ack = await client.publish(template.topic, template.payload(seq))
            ack.add_done_callback(lambda f: f.exception())
            published += 1
            seq += 1
            await asyncio.sleep(period)

    rng = random.Random(1)
    tasks = [asyncio.create_task(report(c, rng.uniform(0, period))) for c in online]
    await asyncio.to_thread(sys.stdin.read)
    connected = sum(1 for c in online if c.connected)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(c.close() for c in online), return_exceptions=True)
    print("DONE " + json.dumps({
        "online": connected, "published": published, "connect_errors": len(errors),
        "first_error": repr(errors[0]) if errors else None,
    }), flush=True)


def main(argv: list[str]) -> None:
    mode, host, port, count, speed, state_dir = argv
    if mode == "fleet":
        run_fleet(host, int(port), int(count), float(speed), Path(state_dir))
    elif mode == "lightfleet":
        run_light_fleet(host, int(port), int(count), float(speed))
    else:
        asyncio.run(run_light(host, int(port), int(count), float(speed)))


if __name__ == "__main__":
    main(sys.argv[1:])
