"""Firmware lane fixtures: an emulated fridge on a `ManualClock`, and packages to put in it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from freshtap.clock import ManualClock
from freshtap.firmware_mock import FridgeHardware, Report
from freshtap.firmware_mock.camera import Package, sample_packages

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def hardware(clock: ManualClock) -> FridgeHardware:
    return FridgeHardware(clock, seed=4)


@pytest.fixture
def heard(hardware: FridgeHardware) -> list[Report]:
    reports: list[Report] = []
    hardware.subscribe(reports.append)
    return reports


@pytest.fixture
def packages() -> list[Package]:
    return sample_packages(8, 12, today=date(2026, 11, 23))
