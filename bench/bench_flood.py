"""Benchmark: one fridge flooding while 99 publish at 1 message/s (issue 9), on both brokers.

Runs tests/abuse/flood.py's two phases (the fleet alone, then the fleet with one fridge at
`--flood-rate` messages/s) against a real server with the default publish quota (20/s, burst 10),
and prints, per broker: the fleet's p50/p99 ingest latency (publish -> stored) in each phase,
their ratio, how many of the fleet's messages were lost, and how many of the flooder's were stored
against its quota.

    python bench/bench_flood.py [--quick] [--seconds 60] [--flood-rate 1000] [--backends embedded,mosquitto]

Each broker reports one figure: the fleet's p99 with the flooder, against the same fleet's p99
without it measured in the same run (the baseline).

Target (issue 9): no loss, p99 with the flooder <= 1.2x p99 without, flooder stored ~ quota.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.report import Figure, parser, report

from freshtap.settings import BrokerLimitSettings
from tests.abuse.flood import measure_flood


def main() -> None:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("--seconds", type=float, default=None, help="each phase (60; --quick: 3)")
    cli.add_argument("--flood-rate", type=float, default=None, help="the flooder's messages/s (1000; --quick: 200)")
    cli.add_argument("--backends", default=None, help="embedded,mosquitto (--quick: embedded)")
    args = cli.parse_args()
    args.seconds = args.seconds or (3.0 if args.quick else 60.0)
    args.flood_rate = args.flood_rate or (200.0 if args.quick else 1000.0)
    args.backends = args.backends or ("embedded" if args.quick else "embedded,mosquitto")
    limits = BrokerLimitSettings(flood_ban_after_seconds=0, ingest_grace_seconds=0)
    for backend in args.backends.split(","):
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with tempfile.TemporaryDirectory() as tmp:
            report_ = measure_flood(
                backend,
                Path(tmp),
                f"sqlite:///{Path(tmp) / 'flood.db'}",
                duration=args.seconds,
                limits=limits,
                flood_rate=args.flood_rate,
                mosquitto_binary=binary,
            )
        quota = limits.publish_burst + limits.publish_rate * args.seconds
        lost = sum(len(m) for m in report_.flooded.missing.values()) + sum(
            len(m) for m in report_.baseline.missing.values()
        )
        report(
            Figure(
                "flood", backend, "fleet p99 ingest latency with a flooder", report_.flooded.p(0.99) * 1000, "ms",
                "the same fleet without the flooder", report_.baseline.p(0.99) * 1000,
                target="<= 1.2x, no loss", met=lost == 0 and report_.ratio <= 1.2,
                extra={"lost": lost, "flooder_sent": report_.flooder_sent, "flooder_stored": report_.flooder_stored,
                       "quota": quota, "seconds": args.seconds, "flood_rate": args.flood_rate},
            ),
            args.json_out,
        )
        print(
            f"{backend:9} p50 {report_.baseline.p(0.5) * 1000:6.1f} -> {report_.flooded.p(0.5) * 1000:6.1f} ms  "
            f"p99 {report_.baseline.p(0.99) * 1000:6.1f} -> {report_.flooded.p(0.99) * 1000:6.1f} ms  "
            f"ratio {report_.ratio:4.2f}  lost {lost}  flooder sent {report_.flooder_sent} stored "
            f"{report_.flooder_stored} (quota {quota:.0f})"
        )


if __name__ == "__main__":
    main()
