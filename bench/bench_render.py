"""Benchmark (e): poster and 10-second video render times — not measurable yet.

Review drafts with posters and short videos arrive with the social-content work (issue 6); until
then this prints a SKIP note and exits 0 (a feature not built is not a missing service, so not
even `FRESHTAP_REQUIRE_SERVICES=1` fails it), and `make bench` runs through.

    python bench/bench_render.py [--quick]

Targets (issue 7): poster <= 300 ms, a 10-second video <= 3 s.
"""

from __future__ import annotations

from harness.report import console, parser


def main() -> None:
    parser(__doc__.splitlines()[0]).parse_args()
    console.print(
        "SKIP render [poster+video]: the renderer is not built yet (issue 6); "
        "targets: poster <= 300 ms, a 10-second video <= 3 s",
        markup=False,
    )


if __name__ == "__main__":
    main()
