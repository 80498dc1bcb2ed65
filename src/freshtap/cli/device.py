"""`freshtap device`: the fridge-side tools."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from freshtap.clock import SystemClock

app = typer.Typer(help="Fridge-side tools: read labels, run the agent.", no_args_is_help=True)


@app.command("scan")
def scan(
    images: Annotated[list[Path], typer.Argument(help="Camera images to read labels from.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, one object per image.")] = False,
) -> None:
    """Read the GS1 labels (QR / DataMatrix) in camera images."""
    from freshtap.device.labels import scan_files

    results = scan_files(images)
    if as_json:
        typer.echo(json.dumps(results, indent=None))
        return
    for result in results:
        typer.echo(str(result["image"]))
        if result.get("error"):
            typer.echo(f"  error: {result['error']}")
        for label in result["labels"]:
            typer.echo(
                f"  GTIN {label['gtin']}  {label['expiry_kind'] or 'no date'} {label['label_expiry'] or ''}"
                f"  batch {label['batch'] or '-'}"
            )


@app.command("run")
def run(
    fridge_id: Annotated[str, typer.Option(envvar="FRESHTAP_FRIDGE_ID")],
    password: Annotated[str, typer.Option(envvar="FRESHTAP_FRIDGE_PASSWORD")],
    mqtt_url: Annotated[str, typer.Option(envvar="FRESHTAP_MQTT_URL")] = "mqtt://127.0.0.1:1883",
    state_dir: Annotated[Path, typer.Option(help="Where the agent keeps its seq and queue.")] = Path(
        ".freshtap/device"
    ),
) -> None:
    """Run the fridge agent until Ctrl-C: state with a last will, inventory snapshots, offers."""
    from freshtap.device.agent import AgentConfig, FridgeAgent

    agent = FridgeAgent(
        AgentConfig(
            fridge_id=fridge_id,
            username=fridge_id,
            password=password,
            mqtt_url=mqtt_url,
            state_dir=state_dir / fridge_id,
        ),
        SystemClock(),
    )
    agent.start()
    typer.echo(f"fridge agent {fridge_id} connecting to {mqtt_url}")
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    agent.publish_inventory()
    done.wait()
    agent.stop()
