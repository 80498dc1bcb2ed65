"""`freshtap device`: the fridge-side tools."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from freshtap.clock import Clock, SystemClock

if TYPE_CHECKING:
    from datetime import datetime

    from freshtap.contract import NoticeMessage
    from freshtap.device.agent import AgentConfig
    from freshtap.device.fridge_device import FridgeDevice
    from freshtap.device.uplink import ConnectionState
    from freshtap.firmware_mock import FirmwareServer

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
    screen_port: Annotated[
        int | None, typer.Option(envvar="FRESHTAP_SCREEN_PORT", help="Serve the door screen on 127.0.0.1:PORT.")
    ] = None,
    server_url: Annotated[
        str | None, typer.Option(envvar="FRESHTAP_SERVER_URL", help="The freshtap server, for Buy and orders.")
    ] = None,
    ha_mqtt_url: Annotated[
        str | None, typer.Option(envvar="FRESHTAP_HA_MQTT_URL", help="Home Assistant's broker: turns discovery on.")
    ] = None,
    ha_username: Annotated[str | None, typer.Option(envvar="FRESHTAP_HA_USERNAME")] = None,
    ha_password: Annotated[str | None, typer.Option(envvar="FRESHTAP_HA_PASSWORD")] = None,
    firmware: Annotated[
        str | None,
        typer.Option(envvar="FRESHTAP_FIRMWARE_URL", help="The controller: tcp://host:port or serial:///dev/tty..."),
    ] = None,
    mock: Annotated[bool, typer.Option("--mock", help="Run against an emulated fridge (firmware-mock).")] = False,
    mock_speed: Annotated[float, typer.Option(help="How much faster than real time the emulated fridge lives.")] = 1.0,
    clock_source: Annotated[
        str, typer.Option("--clock", help="auto | system | firmware: whose time stamps messages (auto: mock's)."),
    ] = "auto",
    products: Annotated[
        Path | None, typer.Option(help="JSON of GTIN -> {name, category} for the products the camera recognises.")
    ] = None,
    telemetry_every: Annotated[float, typer.Option(help="Seconds of fridge time between telemetry messages.")] = 300.0,
    telemetry_qos: Annotated[int, typer.Option(min=0, max=1)] = 1,
    queue_max_messages: Annotated[int, typer.Option(help="Bound of the on-disk queue (device/outbox.py).")] = 20_000,
    reconnect_max_delay: Annotated[float, typer.Option(help="Longest wait between reconnects, seconds.")] = 60.0,
    server_handshake: Annotated[
        bool, typer.Option(help="After a broker lost its state, hold the queue until the server answers.")
    ] = True,
) -> None:
    """Run the fridge agent until Ctrl-C: state with a last will, inventory snapshots, offers.

    With --screen-port it also serves the door screen; with --ha-mqtt-url it announces the fridge to
    Home Assistant (docs/door-screen.md, docs/home-assistant.md). With --firmware (or --mock, an
    emulated fridge in this process) it runs the whole fridge: load cells, cameras and sensors read
    over the line protocol of docs/firmware-protocol.md; state and queue live in --state-dir.
    """
    from freshtap.device.agent import AgentConfig, FridgeAgent
    from freshtap.device.homeassistant import HomeAssistantBridge, HomeAssistantConfig
    from freshtap.device.outbox import OutboxLimits
    from freshtap.device.review_video import HttpVideoUploader, ReviewVideos
    from freshtap.device.screen import DoorScreen, ScreenConfig

    if clock_source not in ("auto", "system", "firmware"):
        raise typer.BadParameter("--clock is auto, system or firmware")
    screen: DoorScreen | None = None
    bridge: HomeAssistantBridge | None = None
    emulated = _start_emulated_fridge(mock_speed) if mock else None
    firmware_url = emulated.url if emulated is not None else firmware
    agent_config = AgentConfig(
        fridge_id=fridge_id,
        username=fridge_id,
        password=password,
        mqtt_url=mqtt_url,
        state_dir=state_dir / fridge_id,
        telemetry_qos=telemetry_qos,
        queue_limits=OutboxLimits(max_messages=queue_max_messages),
        uplink_options={
            "reconnect_max_delay": reconnect_max_delay,
            "reconnect_min_delay": min(1.0, reconnect_max_delay),
            "server_handshake": server_handshake,
        },
    )
    device = None
    # Review videos need the camera (a controller) and the server to send an approved one to.
    videos = (ReviewVideos(HttpVideoUploader(server_url, password))
              if firmware_url is not None and server_url is not None else None)

    def on_notice(notice: NoticeMessage) -> None:
        if screen is not None:
            screen.on_notice(notice)
        if videos is not None:
            videos.on_notice(notice)  # a review_draft notice starts its video, kept on the fridge

    if firmware_url is None:
        clock: Clock = SystemClock()
        agent = FridgeAgent(
            agent_config,
            clock,
            on_connection=lambda state: screen.on_connection(state) if screen is not None else None,
            on_notice=lambda notice: screen.on_notice(notice) if screen is not None else None,
        )
    else:
        device = _fridge_device(
            agent_config,
            firmware_url,
            use_firmware_clock=clock_source == "firmware" or (clock_source == "auto" and mock),
            products=products,
            telemetry_every=telemetry_every,
            on_connection=lambda state: screen.on_connection(state) if screen is not None else None,
            on_notice=on_notice,
            on_frame=videos.on_frame if videos is not None else None,
            # the door screen and Home Assistant hear at once what the device measured and changed
            on_telemetry=lambda temps, door: [p.record_telemetry(temps, door) for p in (screen, bridge) if p],
            on_inventory=lambda: [p.refresh() for p in (screen, bridge) if p],
        )
        agent, clock = device.agent, device.clock
    if screen_port is not None:
        screen = DoorScreen(agent, clock, ScreenConfig(
            port=screen_port, server_url=server_url, password=password, state_dir=state_dir / fridge_id
        ), review_decisions=videos)
    bridge = None if ha_mqtt_url is None else HomeAssistantBridge(
        agent, clock, HomeAssistantConfig(mqtt_url=ha_mqtt_url, username=ha_username, password=ha_password)
    )
    if videos is not None:
        videos.start()
    if device is not None:
        device.start()
        typer.echo(f"fridge {fridge_id}: controller {firmware_url}, broker {mqtt_url}")
    else:
        agent.start()
        typer.echo(f"fridge agent {fridge_id} connecting to {mqtt_url}")
    if screen is not None:
        screen.start()
        typer.echo(f"door screen on {screen.url}")
    if bridge is not None:
        bridge.start()
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    if device is None:
        agent.publish_inventory()
    done.wait()
    if bridge is not None:
        bridge.stop()
    if screen is not None:
        screen.stop()
    if device is not None:
        device.stop()
    else:
        agent.stop()
    if videos is not None:
        videos.stop()
    if emulated is not None:
        emulated.stop()


def _start_emulated_fridge(speed: float) -> FirmwareServer:
    """An emulated fridge (firmware-mock) on a free local port, living `speed` times faster than real time."""
    from freshtap.clock import AcceleratedClock
    from freshtap.firmware_mock import FirmwareServer, FridgeHardware

    server = FirmwareServer(FridgeHardware(AcceleratedClock(speed) if speed != 1.0 else SystemClock()))
    server.start()
    typer.echo(f"emulated fridge on {server.url}")
    return server


def _fridge_device(
    agent_config: AgentConfig,
    firmware_url: str,
    *,
    use_firmware_clock: bool,
    products: Path | None,
    telemetry_every: float,
    on_connection: Callable[[ConnectionState], None],
    on_notice: Callable[[NoticeMessage], None],
    on_frame: Callable[[str, bytes, frozenset[str], datetime], object] | None,
    on_telemetry: Callable[[Mapping[str, float], bool], object],
    on_inventory: Callable[[], object],
) -> FridgeDevice:
    from datetime import timedelta

    from freshtap.device.fridge_device import DeviceConfig, FridgeDevice
    from freshtap.device.products import ProductDirectory

    return FridgeDevice(
        agent_config,
        DeviceConfig(firmware_url=firmware_url, telemetry_every=timedelta(seconds=telemetry_every)),
        clock=None if use_firmware_clock else SystemClock(),
        products=ProductDirectory.load(products) if products is not None else None,
        on_connection=on_connection,
        on_notice=on_notice,
        on_frame=on_frame,
        on_telemetry=on_telemetry,
        on_inventory=on_inventory,
    )
