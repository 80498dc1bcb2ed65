"""`freshtap simulate`: a simulated fleet against a running server, through MQTT and HTTP only."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from freshtap.clock import AcceleratedClock


def simulate(
    api: Annotated[str, typer.Option(help="Base URL of the running server.")] = "http://127.0.0.1:8000",
    fridges: Annotated[int, typer.Option(min=1, max=10_000)] = 10,
    speed: Annotated[float, typer.Option(min=1)] = 600,
    duration: Annotated[float | None, typer.Option(min=1, help="Real seconds to run.")] = None,
    seed: Annotated[int, typer.Option()] = 7,
    payment_method: Annotated[str, typer.Option()] = "pm_sandbox_ok",
    fidelity: Annotated[
        str,
        typer.Option(help="full: the real device agent per fridge (~300 per process); light: thousands per process."),
    ] = "full",
    compare: Annotated[
        Path | None,
        typer.Option(help="Run this scenario file (TOML) with and without freshtap and write the outcome report."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="With --compare: where to write the report (Markdown).")] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(help="Light fidelity: give households the habits of this scenario file's profiles."),
    ] = None,
) -> None:
    """Provision N fridges in FRESHTAP_DATABASE_URL and run them against FRESHTAP_MQTT_URL and --api.

    With --compare, no fleet runs: the scenario's households are simulated day by day, three times
    (without freshtap, with its nudges, with nudges and offers), and the report is printed or written.
    """
    if compare is not None:
        _compare(compare, out)
        return
    from freshtap.cli.admin import _sessions, advertised_mqtt_url
    from freshtap.server.services import accounts
    from freshtap.settings import Settings
    from freshtap.simulator import Fleet, SimFridge
    from freshtap.simulator.light_fleet import LightFleet

    settings = Settings()
    sessions = _sessions(settings)
    clock = AcceleratedClock(speed)
    sims = []
    for index in range(fridges):
        made = accounts.provision_fridge(
            sessions, clock, household_name=f"simulated household {index + 1}", payment_method=payment_method
        )
        sims.append(SimFridge(made.fridge_id, made.username, made.password))
    if fidelity not in ("full", "light"):
        raise typer.BadParameter("--fidelity is full or light")
    fleet: Fleet | LightFleet
    if fidelity == "light":
        from freshtap.simulator.scenario import ScenarioError, load_scenario

        try:
            habits = load_scenario(scenario) if scenario is not None else None
        except ScenarioError as exc:
            raise typer.BadParameter(str(exc), param_hint="--scenario") from exc
        fleet = LightFleet(sims, advertised_mqtt_url(settings), clock, seed=seed, scenario=habits)
    else:
        fleet = Fleet(sims, advertised_mqtt_url(settings), api, clock, seed=seed)
    fleet.start()
    typer.echo(f"simulating {fridges} fridges at x{speed:g}; Ctrl-C to stop")
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    started = time.monotonic()
    while not done.wait(1.0):
        if duration is not None and time.monotonic() - started >= duration:
            break
    fleet.stop()
    typer.echo(repr(fleet.stats))


def _compare(scenario_path: Path, out: Path | None) -> None:
    from rich.console import Console

    from freshtap.simulator.outcome_report import render_report
    from freshtap.simulator.outcomes import run_outcome
    from freshtap.simulator.scenario import ScenarioError, load_scenario

    console = Console(stderr=True)
    try:
        scenario = load_scenario(scenario_path)
    except ScenarioError as exc:
        raise typer.BadParameter(str(exc), param_hint="--compare") from exc
    started = time.monotonic()
    outcomes = []
    for label, nudges, offers in (
        ("without freshtap", False, False), ("nudges only", True, False), ("with freshtap", True, True)
    ):
        with console.status(f"simulating {scenario.households:,} households for {scenario.days} days: {label}"):
            outcomes.append(run_outcome(scenario, nudges=nudges, offers=offers, label=label))
    command = f"freshtap simulate --compare {scenario_path}" + (f" --out {out}" if out else "")
    report = render_report(scenario, tuple(outcomes), command, time.monotonic() - started)
    if out is None:
        typer.echo(report)
    else:
        out.write_text(report, encoding="utf-8")
        console.print(f"wrote {out}")
