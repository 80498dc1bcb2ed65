"""Benchmark (g): how many light fridges one simulator process keeps connected and reporting on Mosquitto.

`freshtap.simulator.light_fleet.LightFleet` (light fidelity: one paho client per fridge, all on
one asyncio loop) runs in a process of its own against a plain local Mosquitto, with growing
fleets (1,000, 2,500, 5,000, 10,000 fridges; it stops at the first size that fails), each fridge
reporting telemetry every simulated minute on a clock running `--speed` times faster
than real time (so each fridge publishes `speed` times as often as the target asks). A counting
subscriber on the broker checks, over a `--seconds` window, that every fridge is online and
delivered at least 80% of the telemetry it should have.

- figure: the largest light fleet that passed;
- also shown: the full-fidelity `Fleet` (the real device agent, a paho network thread per fridge)
  at 100 and 300 fridges, for its select()-bound ceiling;
- baseline: the same check for a fleet of bare connections driven by one asyncio loop in one
  process (`harness.wire`, no device agent), at the issue's target size: what one process can
  hold when nothing limits it to `select()`.

    python bench/bench_fleet.py [--quick] [--sizes 100,200,...] [--baseline-size 10000] [--speed 10]

Target (issue 7): 10,000 light fridges reporting every minute from one simulator process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from harness.report import Figure, ServiceMissing, console, parser, report, skip
from harness.stack import ChildProcess, helper_command, workdir
from harness.wire import LightClient

from freshtap.contract import Channel, parse_topic, subscription_filter

NAME = "fleet"
TARGET = 10_000


async def observe(
    host: str, port: int, runner: ChildProcess, seconds: float
) -> tuple[Counter[str], str, dict[str, Any]]:
    """Count telemetry per fridge for `seconds` after the runner reports it started."""
    counts: Counter[str] = Counter()
    counting = False

    def on_message(topic_name: str, _payload: bytes, _retained: bool) -> None:
        if counting:
            counts[parse_topic(topic_name)[0]] += 1

    counter = LightClient(host, port, f"bench-counter-{time.monotonic_ns()}", on_message=on_message)
    await counter.connect()
    await counter.subscribe([(subscription_filter(Channel.TELEMETRY), 0)])
    try:
        started = await asyncio.to_thread(runner.wait_line, r"^STARTED (.*)$", 900)
        counting = True
        await asyncio.sleep(seconds)
        counting = False
        assert runner.process.stdin is not None
        runner.process.stdin.close()
        done = await asyncio.to_thread(runner.wait_line, r"^DONE (.*)$", 300)
    finally:
        await counter.close()
    return counts, started.group(1), json.loads(done.group(1))


def step(mode: str, host: str, port: int, size: int, args: Any, directory: Path) -> dict[str, Any]:
    argv, env = helper_command("fleet_runner", mode, host, str(port), str(size), str(args.speed),
                               str(directory / f"{mode}-{size}"))
    runner = ChildProcess(argv, env=env)
    try:
        counts, started, done = asyncio.run(observe(host, port, runner, args.seconds))
    finally:
        runner.stop()
    expected = args.seconds * args.speed / 60
    needed = max(1, int(0.8 * expected))
    reporting = sum(1 for n in counts.values() if n >= needed)
    passed = reporting == size and done.get("online") == size
    problems = [line for line in runner.log if "Error" in line or "error" in line or "WARNING" in line]
    return {
        "size": size, "passed": passed, "reporting": reporting, "online_at_end": done.get("online"),
        "messages": sum(counts.values()), "rate": sum(counts.values()) / args.seconds, "started": started,
        "needed_per_fridge": needed, "runner": done, "problems": problems[:3],
    }


def run(args: Any) -> None:
    from freshtap.simulator.mosquitto import MosquittoBroker, find_mosquitto

    if find_mosquitto() is None:
        raise ServiceMissing("mosquitto is not installed (apt-get install mosquitto)")
    with workdir("fleet") as directory:
        broker = MosquittoBroker(directory / "mosquitto", extra_config=["max_connections -1"])
        broker.start()
        try:
            best, failure = 0, None
            full = {size: step("fleet", broker.host, broker.port, size, args, directory) for size in args.full_sizes}
            for size, result in full.items():
                console.print(f"Full-fidelity Fleet of {size}: {result['reporting']} reporting "
                              f"({'passed' if result['passed'] else 'FAILED'})", markup=False)
            for size in args.sizes:
                result = step("lightfleet", broker.host, broker.port, size, args, directory)
                console.print(
                    f"Light fleet of {size}: {result['reporting']} reporting, "
                    f"{result['online_at_end']} online at the end, "
                    f"{result['rate']:,.0f} msg/s  ({'passed' if result['passed'] else 'FAILED'})",
                    markup=False,
                )
                if not result["passed"]:
                    failure = result
                    break
                best = size
            light = step("light", broker.host, broker.port, args.baseline_size, args, directory)
            console.print(
                f"asyncio loop of {args.baseline_size}: {light['reporting']} reporting, "
                f"{light['rate']:,.0f} msg/s ({'passed' if light['passed'] else 'FAILED'}; {light['started']})",
                markup=False,
            )
        finally:
            broker.stop()
    baseline = args.baseline_size if light["passed"] else light["reporting"]
    report(
        Figure(
            NAME, "mosquitto", "Fleet fridges connected and reporting, one process", best, "fridges",
            "bare asyncio connections, one process", baseline,
            target="10,000 fridges reporting every minute", met=best >= TARGET,
            extra={"speed": args.speed, "window_s": args.seconds, "sizes": args.sizes, "first_failure": failure,
                   "baseline_run": light,
                   "full_fidelity": {size: r["passed"] for size, r in full.items()}},
        ),
        args.json_out,
    )
    if failure is not None:
        console.print(f"first failing size {failure['size']}: {failure['problems'] or failure['runner']}", markup=False)


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--sizes", default=None, help="light fleet sizes to try, in order (1000,2500,5000,10000)")
    cli.add_argument("--baseline-size", type=int, default=None, help="bare connections for the baseline (10000)")
    cli.add_argument("--speed", type=float, default=10.0, help="simulated seconds per real second")
    cli.add_argument("--seconds", type=float, default=None, help="counting window per size (20)")
    args = cli.parse_args()
    args.sizes = [int(s) for s in (args.sizes or ("20" if args.quick else "1000,2500,5000,10000")).split(",")]
    args.full_sizes = [5] if args.quick else [100, 300]
    args.baseline_size = args.baseline_size or (20 if args.quick else TARGET)
    args.seconds = args.seconds or (3.0 if args.quick else 20.0)
    if args.quick:
        args.speed = max(args.speed, 60.0)
    try:
        run(args)
    except ServiceMissing as missing:
        skip(NAME, "mosquitto", str(missing))


if __name__ == "__main__":
    main()
