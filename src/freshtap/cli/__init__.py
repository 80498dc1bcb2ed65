"""The `freshtap` command line: the composition root, the one place that wires the parts together.

freshtap demo | server | device | simulate | admin
"""

from __future__ import annotations

import logging

import typer

from freshtap.cli import admin, demo, device, server, simulate

__all__ = ["app", "main"]

app = typer.Typer(
    name="freshtap",
    help="Smart-fridge commerce: freshness tracking, replenishment offers, one-tap payment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("demo")(demo.demo)
app.command("server")(server.server)
app.command("simulate")(simulate.simulate)
app.add_typer(device.app, name="device")
app.add_typer(admin.app, name="admin")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app()
