"""Small device parts: the firmware clock, sensor health, alarms, the temperature log, the product directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from freshtap.contract import EventKind
from freshtap.device.alarms import AlarmLimits, AlarmWatch
from freshtap.device.firmware_clock import ClockNotSet, FirmwareClock
from freshtap.device.products import ProductDirectory
from freshtap.device.sensor_health import SensorHealth
from freshtap.device.temperature_log import TemperatureLog

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_the_firmware_clock_follows_the_controller_but_not_its_jumps() -> None:
    clock = FirmwareClock(max_step=timedelta(minutes=10))
    with pytest.raises(ClockNotSet):
        clock.now()
    clock.resync(T0)
    assert not clock.observe(T0 + MIN)
    assert clock.now() == T0 + MIN
    assert clock.observe(T0 + timedelta(hours=6, minutes=2))  # the controller's clock jumped
    assert clock.now() == T0 + MIN and clock.jumps == 1
    clock.observe(T0 + timedelta(hours=6, minutes=3))
    assert clock.now() == T0 + 2 * MIN  # time runs on from where it was
    assert clock.observe(T0 + 4 * MIN)  # and the jump back is absorbed too
    clock.observe(T0 + 5 * MIN)
    assert clock.now() == T0 + 3 * MIN and clock.jumps == 2 and clock.offset == 2 * MIN
    clock.resync(T0 + timedelta(days=2))  # a new connection: the controller's time counts as it is
    assert clock.now() == T0 + timedelta(days=2)
    clock.resync(T0)
    assert clock.now() == T0 + timedelta(days=2)  # never backwards


def test_sensor_health_calls_out_stuck_and_silent_sensors() -> None:
    health = SensorHealth(stuck_after=5, silent_after=2)
    assert health.status("fridge") == "unknown"
    for value in (4.01, 4.02, 4.01, 4.03):
        assert health.sample("fridge", value) == "ok"
    for _ in range(4):
        health.sample("fridge", 3.99)
    assert health.status("fridge") == "ok"
    assert health.sample("fridge", 3.99) == "stuck"
    assert health.sample("fridge", 4.0) == "ok"
    assert health.sample("fridge", None) == "ok"
    assert health.sample("fridge", None) == "no_signal"
    assert not health.trusted("fridge")


def test_alarms_are_raised_once_per_episode() -> None:
    watch = AlarmWatch(AlarmLimits(door_after=timedelta(minutes=2), warm_after=timedelta(minutes=15)))
    assert watch.door(T0, True, 3) == []
    assert watch.door(T0 + MIN, True, 3) == []
    (kind, detail), = watch.door(T0 + 2 * MIN, True, 3)
    assert kind is EventKind.DOOR_LEFT_OPEN and detail == {"cycle": 3, "open_seconds": 120}
    assert watch.door(T0 + 5 * MIN, True, 3) == []
    assert watch.door(T0 + 6 * MIN, False, 3) == []
    assert watch.door(T0 + 7 * MIN, True, 4) == []

    assert watch.temperature(T0, "fridge", 9.0) == []
    assert watch.temperature(T0 + 14 * MIN, "fridge", 9.5) == []
    (kind, detail), = watch.temperature(T0 + 15 * MIN, "fridge", 10.0)
    assert kind is EventKind.TEMPERATURE_ALARM and detail["compartment"] == "fridge" and detail["minutes"] == 15
    assert watch.temperature(T0 + 30 * MIN, "fridge", 10.0) == []
    assert watch.temperature(T0 + 31 * MIN, "fridge", 6.9) == []  # 1 °C under the limit: over
    assert watch.temperature(T0 + 32 * MIN, "freezer", -15.0) == []  # the freezer has its own limit

    assert watch.sensor("door", "stuck") == [(EventKind.TEMPERATURE_ALARM, {"compartment": "door", "fault": "stuck"})]
    assert watch.sensor("door", "stuck") == []
    assert watch.sensor("door", "ok") == []
    assert len(watch.sensor("door", "no_signal")) == 1


def test_the_temperature_log_keeps_the_warmest_reading_per_bucket() -> None:
    log = TemperatureLog(bucket=timedelta(minutes=15), keep=timedelta(hours=2))
    for minute, temp in [(0, 4.0), (5, 9.0), (10, 5.0), (20, 4.5)]:
        log.add("fridge", T0 + minute * MIN, temp)
    spans = log.spans("fridge", T0 + 7 * MIN)
    assert [(s.start, s.end, s.temp_c) for s in spans] == [
        (T0 + 7 * MIN, T0 + 15 * MIN, 9.0), (T0 + 15 * MIN, T0 + 30 * MIN, 4.5)
    ]
    log.add("fridge", T0 + timedelta(hours=5), 3.0)
    assert len(log.spans("fridge", T0)) == 1  # older than `keep` is gone
    copy = TemperatureLog()
    copy.load_json(json.loads(json.dumps(log.to_json())))
    assert copy.latest("fridge") == 3.0


def test_the_product_directory(tmp_path: Path) -> None:
    path = tmp_path / "products.json"
    path.write_text(json.dumps({"09506000134352": {"name": "Whole milk 1 L", "category": "dairy"}}))
    products = ProductDirectory.load(path)
    assert products.describe("09506000134352").category == "dairy"
    assert products.describe("09506000134369").name == "Product 09506000134369"
    assert products.describe(None).name == "Unidentified item"
    path.write_text(json.dumps({"09506000134353": {"name": "bad check digit"}}))
    with pytest.raises(ValueError):
        ProductDirectory.load(path)


def test_a_report_a_little_out_of_order_is_not_a_jump() -> None:
    clock = FirmwareClock()
    clock.resync(T0)
    clock.observe(T0 + MIN)
    assert not clock.observe(T0 + MIN - timedelta(seconds=1))
    assert clock.now() == T0 + MIN and clock.jumps == 0
