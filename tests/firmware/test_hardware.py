"""The emulated fridge: samples on its clock, a door, load cells, cameras, ground truth and faults."""

from __future__ import annotations

from datetime import timedelta

import cv2
import numpy as np
import pytest

from freshtap.clock import ManualClock
from freshtap.device.labels import read_labels
from freshtap.firmware_mock import (
    CameraFault,
    DoorChange,
    FridgeHardware,
    HardwareError,
    LoadReading,
    Report,
    TempReading,
    Tick,
    load_sensor,
    temp_sensor,
)
from freshtap.firmware_mock.camera import Package
from tests.firmware.conftest import START


def of(kind: type, reports: list[Report]) -> list:  # type: ignore[type-arg]
    return [r for r in reports if isinstance(r, kind)]


def test_samples_come_once_per_interval_at_their_own_instants(
    hardware: FridgeHardware, clock: ManualClock, heard: list[Report]
) -> None:
    hardware.tick()
    clock.advance(timedelta(minutes=10, seconds=30))
    hardware.tick()
    ticks = of(Tick, heard)
    assert [t.at for t in ticks] == [START + timedelta(minutes=m) for m in range(11)]
    temps = of(TempReading, heard)
    assert len(temps) == 11 * 4 and {t.compartment for t in temps} == {"fridge", "door", "crisper", "freezer"}
    fridge = [t.temp_c for t in temps if t.compartment == "fridge"]
    assert all(t is not None and 2.5 < t < 5.5 for t in fridge)
    hardware.tick()  # nothing new until the clock moves
    assert len(of(Tick, heard)) == 11


def test_packages_need_an_open_door_and_leave_a_true_record(
    hardware: FridgeHardware, clock: ManualClock, heard: list[Report], packages: list[Package]
) -> None:
    with pytest.raises(HardwareError, match="open the door"):
        hardware.place("fridge", 0, packages[0], 1000)
    assert hardware.open_door() == 1
    item = hardware.place("fridge", 0, packages[0], 1000)
    with pytest.raises(HardwareError, match="taken"):
        hardware.place("fridge", 0, packages[1], 500)
    clock.advance(timedelta(minutes=1))
    hardware.use("fridge", 0, 250)
    hardware.use("fridge", 0, 250)
    hardware.move("fridge", 0, "door", 2)
    hardware.close_door()
    (inside,) = hardware.contents()
    assert (inside.uid, inside.compartment, inside.slot, inside.opened) == (item.uid, "door", 2, True)
    assert inside.fill == pytest.approx(0.5)
    assert [(e.kind, e.uid) for e in hardware.truth_log()] == [("item_added", item.uid), ("item_opened", item.uid)]
    doors = of(DoorChange, heard)
    assert [(d.open, d.cycle) for d in doors] == [(True, 1), (False, 1)]
    loads = [(r.compartment, r.slot, r.grams) for r in of(LoadReading, heard)]
    assert [(c, s) for c, s, _ in loads] == [("fridge", 0)] * 3 + [("fridge", 0), ("door", 2)]
    assert loads[0][2] == pytest.approx(1000, abs=2) and loads[-2][2] == pytest.approx(0, abs=2)
    hardware.open_door()
    taken = hardware.take("door", 2)
    assert taken.uid == item.uid and hardware.contents() == []
    assert hardware.truth_log()[-1].kind == "item_removed"
    with pytest.raises(HardwareError, match="empty"):
        hardware.take("door", 2)


def test_small_load_changes_stay_inside_the_dead_band(
    hardware: FridgeHardware, heard: list[Report], packages: list[Package]
) -> None:
    hardware.open_door()
    hardware.place("crisper", 1, packages[0], 300)
    before = len(of(LoadReading, heard))
    hardware.use("crisper", 1, 0.5)  # half a gram: within the cell's dead band and noise
    assert len(of(LoadReading, heard)) == before
    hardware.use("crisper", 1, 20)
    assert len(of(LoadReading, heard)) == before + 1


def test_a_scan_reports_every_sensor(hardware: FridgeHardware, packages: list[Package]) -> None:
    hardware.open_door()
    hardware.place("freezer", 7, packages[0], 400)
    reports = hardware.scan()
    assert isinstance(reports[0], DoorChange) and reports[0].open
    assert len(of(TempReading, reports)) == 4
    loads = {(r.compartment, r.slot): r.grams for r in of(LoadReading, reports)}
    assert len(loads) == 18 + 9 + 3 + 8
    assert loads[("freezer", 7)] == pytest.approx(400, abs=2)
    assert all(g is not None and g < 2 for k, g in loads.items() if k != ("freezer", 7))


def test_the_camera_shows_each_package_in_its_own_slot(hardware: FridgeHardware, packages: list[Package]) -> None:
    hardware.open_door()
    hardware.place("door", 0, packages[0], 500)
    hardware.place("door", 8, packages[1], 500)
    frame = cv2.imdecode(np.frombuffer(hardware.capture("door"), np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (720, 1280, 3)
    top_left = frame[0:240, 0:426]
    bottom_right = frame[480:720, 853:1280]
    assert [r.gtin for r in read_labels(top_left)] == [packages[0].gtin]
    assert [r.gtin for r in read_labels(bottom_right)] == [packages[1].gtin]
    assert read_labels(frame[240:480, 426:853]) == []
    assert hardware.capture("door") != hardware.capture("door")  # a new frame each time (noise, placement)


def test_sensor_faults_show_on_the_wire(hardware: FridgeHardware, clock: ManualClock, heard: list[Report],
                                        packages: list[Package]) -> None:
    hardware.faults.drop(temp_sensor("fridge"))
    hardware.faults.stick(temp_sensor("freezer"))
    hardware.tick()
    clock.advance(timedelta(minutes=5))
    hardware.tick()
    fridge = [t for t in of(TempReading, heard) if t.compartment == "fridge"]
    assert all(t.temp_c is None and t.error == "no_signal" for t in fridge)
    freezer = [t.temp_c for t in of(TempReading, heard) if t.compartment == "freezer"]
    assert len(set(freezer)) == 1  # stuck on its first value
    hardware.faults.heal(temp_sensor("freezer"))
    clock.advance(timedelta(minutes=5))
    hardware.tick()
    freezer = [t.temp_c for t in of(TempReading, heard) if t.compartment == "freezer"]
    assert len(set(freezer[-5:])) > 1

    hardware.open_door()
    hardware.faults.drop(load_sensor("fridge", 3))
    hardware.place("fridge", 3, packages[0], 700)
    assert of(LoadReading, heard)[-1].error == "no_signal"


def test_camera_failure_clock_jump_and_cooling_failure(hardware: FridgeHardware, clock: ManualClock,
                                                       heard: list[Report]) -> None:
    hardware.faults.fail_camera("fridge")
    with pytest.raises(CameraFault):
        hardware.capture("fridge")
    hardware.faults.repair_camera("fridge")
    assert hardware.capture("fridge")

    hardware.tick()
    hardware.faults.jump_clock(timedelta(hours=6))
    clock.advance(timedelta(minutes=1))
    hardware.tick()
    ticks = of(Tick, heard)
    assert ticks[-1].at - ticks[-2].at == timedelta(hours=6, minutes=1)
    assert hardware.rtc_now() == clock.now() + timedelta(hours=6)

    hardware.faults.fail_cooling("fridge")
    clock.advance(timedelta(hours=3))
    assert hardware.temperatures()["fridge"] > 9  # 4 °C towards 22 °C with an 8 h time constant
    assert hardware.temperatures()["freezer"] < -15


def test_time_never_runs_backwards_inside_the_fridge(hardware: FridgeHardware, clock: ManualClock) -> None:
    clock.advance(timedelta(hours=1))
    warm = hardware.temperatures()
    clock.set(START)  # a test clock moved back: the physics does not follow
    assert hardware.temperatures() == warm
