"""The demo's one full-fidelity fridge: emulated hardware, the real device and its door screen.

Beside the simulated fleet (virtual fridges speaking the contract), `freshtap demo` runs one fridge
the way a real one runs: `freshtap.firmware_mock` emulates the compartments, the door, the load
cells and the camera; `FridgeDevice` reads the labels in the camera's frames and keeps the
inventory; the door screen serves the page a household would see on the fridge door, with the
merchant's offers, Buy, orders and review drafts. Its owner is the household "Kitchen (door
screen)"; the emulated fridge lives on the demo's accelerated clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from freshtap.clock import AcceleratedClock
from freshtap.contract import NoticeMessage
from freshtap.device import AgentConfig
from freshtap.device.fridge_device import DeviceConfig, FridgeDevice
from freshtap.device.products import Product, ProductDirectory
from freshtap.device.review_video import HttpVideoUploader, ReviewVideos
from freshtap.device.screen import DoorScreen, ScreenConfig
from freshtap.device.uplink import ConnectionState
from freshtap.firmware_mock import FirmwareServer, FridgeHardware
from freshtap.firmware_mock.camera import Package
from freshtap.server.runtime import ServerRuntime
from freshtap.server.services import accounts
from freshtap.simulator.catalog import CATALOG

__all__ = ["KitchenFridge", "start_kitchen_fridge"]

# What the kitchen fridge holds at the start: (catalog name, days to its label date, slot).
_STOCK = (
    ("Whole milk 1 L", 1, 1),
    ("Greek yogurt 500 g", 6, 2),
    ("Free-range eggs", 12, 3),
    ("Baby spinach 200 g", 2, 4),
)


@dataclass
class KitchenFridge:
    fridge_id: str
    firmware: FirmwareServer
    device: FridgeDevice
    screen: DoorScreen
    videos: ReviewVideos

    @property
    def screen_url(self) -> str:
        return self.screen.url

    def stop(self) -> None:
        self.screen.stop()
        self.device.stop()
        self.videos.stop()
        self.firmware.stop()


def start_kitchen_fridge(
    runtime: ServerRuntime, clock: AcceleratedClock, state_dir: Path, screen_port: int
) -> KitchenFridge:
    """Provision the kitchen fridge, stock it through its open door, and start device and screen."""
    services = runtime.services
    made = accounts.provision_fridge(
        services.sessions, services.clock, household_name="Kitchen (door screen)", payment_method="pm_sandbox_ok"
    )
    by_name = {p.name: p for p in CATALOG}
    directory = ProductDirectory({p.gtin: Product(p.name, p.category) for p in CATALOG})
    hardware = FridgeHardware(AcceleratedClock(clock.speed, start=clock.now()))
    firmware = FirmwareServer(hardware)
    firmware.start()
    today = hardware.rtc_now().date()
    hardware.open_door()
    for name, days, slot in _STOCK:
        product = by_name[name]
        package = Package(
            gtin=product.gtin, name=name, expiry=today + timedelta(days=days), expiry_kind=product.expiry_kind
        )
        hardware.place("fridge", slot, package, 900)
    hardware.close_door()
    http = runtime.http_url
    videos = ReviewVideos(HttpVideoUploader(http, made.password))
    screen: DoorScreen | None = None

    def on_notice(notice: NoticeMessage) -> None:
        if screen is not None:
            screen.on_notice(notice)
        videos.on_notice(notice)

    def on_connection(state: ConnectionState) -> None:
        if screen is not None:
            screen.on_connection(state)

    def on_inventory() -> None:
        if screen is not None:
            screen.refresh()

    device = FridgeDevice(
        AgentConfig(made.fridge_id, made.username, made.password, runtime.mqtt_url, state_dir / made.fridge_id),
        DeviceConfig(firmware.url),
        clock=clock,  # the demo's accelerated clock, which the emulated hardware also lives on
        products=directory,
        on_frame=videos.on_frame,
        on_notice=on_notice,
        on_connection=on_connection,
        on_inventory=on_inventory,
    )
    screen = DoorScreen(
        device.agent,
        device.clock,
        ScreenConfig(port=screen_port, server_url=http, password=made.password, state_dir=state_dir / made.fridge_id),
        review_decisions=videos,
    )
    videos.start()
    device.start()
    screen.start()
    return KitchenFridge(made.fridge_id, firmware, device, screen, videos)
