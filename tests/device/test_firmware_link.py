"""The agent's firmware link against the emulated fridge: TCP and a pseudo-terminal, commands, reconnects."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from freshtap.clock import ManualClock
from freshtap.device.firmware_link import FirmwareError, FirmwareLink
from freshtap.device.firmware_protocol import DoorReport, FirmwareReport, LoadReport, Ready, TimeReport
from freshtap.device.slot_labels import read_slot_labels
from freshtap.firmware_mock import FirmwareServer, FridgeHardware
from freshtap.firmware_mock.camera import sample_packages

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def hardware(clock: ManualClock) -> FridgeHardware:
    made = FridgeHardware(clock, seed=2)
    made.tick()
    return made


@pytest.fixture
def firmware(hardware: FridgeHardware) -> Iterator[FirmwareServer]:
    with FirmwareServer(hardware) as server:
        yield server


@pytest.fixture
def firmware_with_pty(hardware: FridgeHardware) -> Iterator[FirmwareServer]:
    with FirmwareServer(hardware, pty=True) as server:
        yield server


class Heard:
    def __init__(self) -> None:
        self.reports: queue.Queue[FirmwareReport] = queue.Queue()
        self.states: queue.Queue[bool] = queue.Queue()

    def next(self, kind: type, timeout: float = 5.0) -> FirmwareReport:
        while True:
            report = self.reports.get(timeout=timeout)
            if isinstance(report, kind):
                return report


def open_link(url: str, heard: Heard) -> FirmwareLink:
    link = FirmwareLink(url, on_report=heard.reports.put, on_state=heard.states.put, reconnect_min_delay=0.05)
    link.start()
    assert link.wait_ready(5)
    return link


@pytest.mark.parametrize("transport", ["tcp", "serial"])
def test_the_link_reads_reports_and_answers_commands(transport: str, firmware_with_pty: FirmwareServer,
                                                     hardware: FridgeHardware, clock: ManualClock) -> None:
    heard = Heard()
    firmware = firmware_with_pty
    link = open_link(firmware.url if transport == "tcp" else firmware.pty_url, heard)
    try:
        description = link.description
        assert description is not None and [c.id for c in description.compartments] == [
            "fridge", "door", "crisper", "freezer"
        ]
        assert heard.states.get(timeout=1) is True
        clock.advance(timedelta(minutes=2))
        assert isinstance(heard.next(TimeReport), TimeReport)
        package = sample_packages(3, 1, today=date(2026, 11, 23))[0]
        hardware.open_door()
        hardware.place("fridge", 7, package, 420)
        door = heard.next(DoorReport)
        assert isinstance(door, DoorReport) and door.open and door.cycle == 1
        load = heard.next(LoadReport)
        assert isinstance(load, LoadReport) and (load.compartment, load.slot) == ("fridge", 7)
        scan = link.scan()
        assert scan.door is not None and scan.door.open
        assert len(scan.temps) == 4 and len(scan.loads) == 38
        frame = link.capture("fridge")
        labels = read_slot_labels(frame.data, 3, 6)
        assert {slot: label.gtin for slot, label in labels.items()} == {7: package.gtin}
        hardware.faults.fail_camera("fridge")
        with pytest.raises(FirmwareError) as failed:
            link.capture("fridge")
        assert failed.value.code == "camera_fault"
        link.ping()
    finally:
        link.stop()


def test_bad_lines_are_counted_and_skipped(firmware: FirmwareServer, hardware: FridgeHardware) -> None:
    heard = Heard()
    link = open_link(firmware.url, heard)
    try:
        hardware.faults.garble(1)
        hardware.open_door()  # garbled
        hardware.close_door()
        door = heard.next(DoorReport)
        assert isinstance(door, DoorReport) and not door.open
        assert link.stats().bad_lines == 1
    finally:
        link.stop()


def test_the_link_comes_back_after_the_line_drops(firmware: FirmwareServer) -> None:
    heard = Heard()
    link = open_link(firmware.url, heard)
    try:
        assert heard.states.get(timeout=1) is True
        firmware.drop_connections()
        assert heard.states.get(timeout=5) is False
        with pytest.raises(FirmwareError):
            link.scan(timeout=0.5)  # down until the firmware has described itself again
        assert heard.states.get(timeout=5) is True
        assert isinstance(heard.next(Ready), Ready)
        assert link.scan().door is not None
        assert link.stats().opens == 2
    finally:
        link.stop()


def test_a_command_without_an_answer_times_out(hardware: FridgeHardware) -> None:
    server = FirmwareServer(hardware)
    server.start()
    heard = Heard()
    link = open_link(server.url, heard)
    try:
        server._handle = lambda connection, line: None  # type: ignore[method-assign]  # deaf firmware
        with pytest.raises(FirmwareError) as failed:
            link.scan(timeout=0.3)
        assert failed.value.code == "timeout"
    finally:
        link.stop()
        server.stop()


def test_unusable_urls_are_refused() -> None:
    for url in ("http://x", "tcp://host", "serial://"):
        with pytest.raises(ValueError):
            FirmwareLink(url, on_report=lambda r: None)
