"""A whole fridge: the emulated hardware served over the line protocol, `FridgeDevice` reading it, and
what reaches a real broker (Mosquitto on a free port), checked against the contract."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from freshtap.clock import ManualClock
from freshtap.contract import EventMessage, InventoryItem, InventoryMessage, TelemetryMessage
from freshtap.device import AgentConfig
from freshtap.device.fridge_device import DeviceConfig, FridgeDevice
from freshtap.device.products import ProductDirectory
from freshtap.firmware_mock import FirmwareServer, FridgeHardware, temp_sensor
from freshtap.firmware_mock.camera import Package, sample_packages
from freshtap.simulator.mosquitto import MosquittoBroker
from freshtap.simulator.observer import BusObserver
from tests.stack import wait_until

pytestmark = pytest.mark.services

FID = "f-dev1"
START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FAST = {"reconnect_min_delay": 0.2, "reconnect_max_delay": 0.5, "stop_timeout": 3.0}


@dataclass
class Rig:
    clock: ManualClock
    hardware: FridgeHardware
    firmware: FirmwareServer
    observer: BusObserver
    packages: list[Package]
    make: Callable[[], FridgeDevice]
    device: FridgeDevice

    def caught_up(self, device: FridgeDevice | None = None) -> None:
        device = device or self.device
        cycle = self.hardware.door_cycles
        wait_until(lambda: (s := device.status()).checked_cycle >= cycle and not s.check_pending, timeout=15)

    def session(self, actions: Callable[[FridgeHardware], object]) -> None:
        self.hardware.open_door()
        actions(self.hardware)
        self.hardware.close_door()
        self.caught_up()

    def events(self, kind: str | None = None) -> list[EventMessage]:
        found = [o.message for o in self.observer.seen if isinstance(o.message, EventMessage)]
        return [e for e in found if kind is None or e.body.kind == kind]

    def snapshot(self) -> dict[str, InventoryItem]:
        found = [o.message for o in self.observer.seen if isinstance(o.message, InventoryMessage)]
        return {item.item_id: item for item in found[-1].body.items} if found else {}

    def telemetry(self) -> list[TelemetryMessage]:
        return [o.message for o in self.observer.seen if isinstance(o.message, TelemetryMessage)]

    def drained(self) -> None:
        assert self.device.agent.wait_drained(10)
        last = self.device.agent.last_seq
        self.observer.wait_for(lambda seen: any(o.message and o.message.seq == last for o in seen), 5)


@pytest.fixture
def rig(mosquitto: MosquittoBroker, tmp_path: Path) -> Iterator[Rig]:
    clock = ManualClock(START)
    hardware = FridgeHardware(clock, seed=9)
    hardware.tick()
    packages = sample_packages(21, 10, today=date(2026, 11, 23))
    products = tmp_path / "products.json"
    products.write_text(json.dumps({packages[0].gtin: {"name": "Whole milk 1 L", "category": "dairy"}}))
    with FirmwareServer(hardware) as firmware, BusObserver(mosquitto.url, fridge_id=FID) as observer:

        def make() -> FridgeDevice:
            return FridgeDevice(
                AgentConfig(FID, FID, "pw", mosquitto.url, tmp_path / "state", telemetry_qos=1, uplink_options=FAST),
                DeviceConfig(firmware.url, full_check_every=timedelta(hours=2), stuck_after=5),
                products=ProductDirectory.load(products),
            )

        device = make()
        device.start()
        made = Rig(clock, hardware, firmware, observer, packages, make, device)
        try:
            wait_until(lambda: device.status().checks >= 1, timeout=15)
            yield made
        finally:
            made.device.stop()


def test_door_sessions_become_events_and_snapshots(rig: Rig) -> None:
    milk, other = rig.packages[0], rig.packages[1]
    rig.session(lambda hw: (hw.place("fridge", 4, milk, 1000), hw.place("door", 0, other, 500)))
    rig.drained()
    added = rig.events("item_added")
    assert sorted((e.body.detail["gtin"], e.body.detail["compartment"], e.body.detail["slot"]) for e in added) == sorted(
        [(milk.gtin, "fridge", 4), (other.gtin, "door", 0)]
    )
    items = {i.gtin: i for i in rig.snapshot().values()}
    milk_item = items[milk.gtin]
    assert (milk_item.name, milk_item.category, milk_item.fill, milk_item.opened_at) == ("Whole milk 1 L", "dairy", 1.0, None)
    assert (milk_item.label_expiry, milk_item.batch, milk_item.added_at) == (milk.expiry, milk.batch, START)
    assert milk_item.freshness is not None and milk_item.freshness.basis == "label"
    assert (items[other.gtin].name, items[other.gtin].category) == (f"Product {other.gtin}", "other")

    rig.clock.advance(timedelta(hours=1))
    rig.session(lambda hw: hw.use("fridge", 4, 300))
    rig.drained()
    (opened,) = rig.events("item_opened")
    assert opened.body.item_id == milk_item.item_id and opened.body.detail["fill"] == pytest.approx(0.7, abs=0.01)
    milk_now = rig.snapshot()[milk_item.item_id]
    assert milk_now.opened_at == START + timedelta(hours=1) and milk_now.fill == pytest.approx(0.7, abs=0.01)

    rig.session(lambda hw: hw.move("fridge", 4, "freezer", 1))  # the same package somewhere else: no event
    rig.drained()
    assert rig.snapshot()[milk_item.item_id].compartment == "freezer"
    rig.session(lambda hw: hw.take("door", 0))
    rig.drained()
    (removed,) = rig.events("item_removed")
    assert removed.body.detail["gtin"] == other.gtin
    assert [i.gtin for i in rig.snapshot().values()] == [milk.gtin]
    seqs = [o.message.seq for o in rig.observer.seen if o.message is not None and o.message.seq is not None]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))


def test_without_a_camera_an_item_goes_in_unidentified_until_a_frame_reads_it(rig: Rig) -> None:
    rig.hardware.faults.fail_camera("crisper")
    rig.session(lambda hw: hw.place("crisper", 2, rig.packages[2], 300))
    rig.drained()
    (item,) = rig.snapshot().values()
    assert (item.gtin, item.name, item.label_expiry) == (None, "Unidentified item", None)
    assert rig.device.status().camera_faults >= 1
    rig.hardware.faults.repair_camera("crisper")
    rig.clock.advance(timedelta(hours=2, minutes=1))  # the periodic full check looks through every camera
    wait_until(lambda: rig.snapshot().get(item.item_id, item).gtin == rig.packages[2].gtin, timeout=15)
    assert len(rig.events("item_added")) == 1


def test_sensor_faults_leave_telemetry_and_raise_alarms(rig: Rig) -> None:
    rig.hardware.faults.stick(temp_sensor("fridge"))
    rig.hardware.faults.drop(temp_sensor("freezer"))
    rig.clock.advance(timedelta(minutes=12))
    wait_until(lambda: len(rig.events("temperature_alarm")) == 2, timeout=10)
    faults = {e.body.detail["compartment"]: e.body.detail["fault"] for e in rig.events("temperature_alarm")}
    assert faults == {"fridge": "stuck", "freezer": "no_signal"}
    rig.drained()
    latest = rig.telemetry()[-1]
    assert {c.id for c in latest.body.compartments} == {"door", "crisper"}
    assert rig.device.status().sensors == {"fridge": "stuck", "freezer": "no_signal", "door": "ok", "crisper": "ok"}


def test_a_warm_fridge_raises_an_alarm_and_costs_shelf_life(rig: Rig) -> None:
    milk = rig.packages[0]
    rig.session(lambda hw: hw.place("fridge", 0, milk, 1000))
    rig.drained()
    nominal = next(iter(rig.snapshot().values())).freshness
    assert nominal is not None and nominal.basis == "label"
    rig.hardware.faults.fail_cooling("fridge")
    for _ in range(6):
        rig.clock.advance(timedelta(hours=1))
    wait_until(lambda: rig.events("temperature_alarm"), timeout=10)
    (alarm,) = rig.events("temperature_alarm")
    assert alarm.body.detail["compartment"] == "fridge" and alarm.body.detail["temp_c"] > 8
    rig.drained()
    warm = next(iter(rig.snapshot().values())).freshness
    assert warm is not None and warm.basis == "temperature" and warm.expires_at is not None
    assert nominal.expires_at is not None and warm.expires_at < nominal.expires_at


def test_a_door_left_open_and_a_jumping_clock(rig: Rig) -> None:
    rig.hardware.open_door()
    rig.clock.advance(timedelta(minutes=3))
    wait_until(lambda: rig.events("door_left_open"), timeout=10)
    rig.hardware.close_door()
    rig.caught_up()
    rig.hardware.faults.jump_clock(timedelta(hours=6))
    rig.clock.advance(timedelta(minutes=20))
    wait_until(lambda: rig.device.status().clock_jumps == 1, timeout=10)
    rig.drained()
    stamps = [t.at for t in rig.telemetry()]
    assert stamps == sorted(stamps)
    assert max(b - a for a, b in pairwise(stamps)) <= timedelta(minutes=5)
    assert stamps[-1] <= START + timedelta(minutes=24)


def test_a_restarted_device_picks_up_what_changed_while_it_was_down(rig: Rig) -> None:
    rig.session(lambda hw: (hw.place("fridge", 0, rig.packages[0], 800), hw.place("fridge", 1, rig.packages[3], 400)))
    rig.drained()
    before = {i.gtin: i.item_id for i in rig.snapshot().values()}
    rig.device.stop()
    rig.hardware.open_door()  # while nobody watches
    rig.hardware.take("fridge", 1)
    rig.hardware.use("fridge", 0, 200)
    rig.hardware.place("door", 2, rig.packages[4], 250)
    rig.hardware.close_door()
    rig.device = rig.make()
    rig.device.start()
    rig.caught_up()
    rig.drained()
    kinds: dict[str, Any] = {}
    for event in rig.events():
        kinds.setdefault(event.body.kind.value, []).append(event.body.item_id)
    assert kinds["item_added"].count(before[rig.packages[0].gtin]) == 1  # not added twice
    assert kinds["item_removed"] == [before[rig.packages[3].gtin]]
    assert kinds["item_opened"] == [before[rig.packages[0].gtin]]
    assert len(kinds["item_added"]) == 3
    assert sorted(i.gtin or "" for i in rig.snapshot().values()) == sorted([rig.packages[0].gtin, rig.packages[4].gtin])
