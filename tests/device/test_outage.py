"""The outage acceptance test: the broker is gone for a simulated day while the household adds, opens
and uses up food; the device process is killed once (`kill -9`) in the middle of it. After the
broker comes back, the server's inventory equals firmware-mock's ground truth, every event that
happened reached the server, and every `seq` the device did not deliberately drop arrived once,
in order.

Real parts throughout: the server (`ServerRuntime`: embedded amqtt + SQLite) on a fixed port so
its broker can be stopped and started again; the emulated fridge (`FirmwareServer`) in this
process, on a `ManualClock` the test moves; the device as a child process (`freshtap device run
--firmware ... --clock firmware`), so the kill is a real one. The device's queue is bounded small
(80 messages) so that a day of telemetry overflows it: the drop policy must drop telemetry only.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select, text

from freshtap.clock import ManualClock, SystemClock
from freshtap.firmware_mock import FirmwareServer, FridgeHardware, StoredItem
from freshtap.firmware_mock.camera import Package, sample_packages
from freshtap.server.runtime import ServerRuntime
from freshtap.server.services import accounts
from freshtap.server.store.models import FridgeEvent, InventoryRecord, Rejection
from freshtap.settings import Settings
from tests.conftest import free_port
from tests.device.device_process import DeviceProcess
from tests.stack import wait_until

START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
SEQ_BLOCK = 64  # SeqStore's default block: a crash skips at most the rest of one block
QUEUE_BOUND = 80
CATEGORIES = {
    "Whole milk 1 L": "dairy", "Greek yoghurt 500 g": "dairy", "Butter 250 g": "dairy", "Cheddar 200 g": "dairy",
    "Orange juice 1 L": "beverages", "Free-range eggs x6": "eggs", "Smoked salmon 100 g": "seafood",
    "Chicken breast 400 g": "meat", "Hummus 200 g": "deli", "Baby spinach 150 g": "produce", "Cream 200 ml": "dairy",
    "Tofu 300 g": "deli", "Kimchi 400 g": "deli", "Fresh pasta 250 g": "deli",
}


@dataclass
class Server:
    runtime: ServerRuntime
    fridge: accounts.ProvisionedFridge

    def items(self) -> list[InventoryRecord]:
        with Session(self.runtime.services.engine) as session:
            query = select(InventoryRecord).where(InventoryRecord.fridge_id == self.fridge.fridge_id)
            return list(session.exec(query.where(col(InventoryRecord.present))).all())

    def all_items(self) -> dict[str, InventoryRecord]:
        with Session(self.runtime.services.engine) as session:
            query = select(InventoryRecord).where(InventoryRecord.fridge_id == self.fridge.fridge_id)
            return {r.item_id: r for r in session.exec(query).all()}

    def events(self) -> list[FridgeEvent]:
        with Session(self.runtime.services.engine) as session:
            query = select(FridgeEvent).where(FridgeEvent.fridge_id == self.fridge.fridge_id)
            return list(session.exec(query.order_by(col(FridgeEvent.seq))).all())

    def applied_in_arrival_order(self) -> list[tuple[int, str]]:
        with Session(self.runtime.services.engine) as session:
            rows = session.execute(  # rowid: the order the server applied them in
                text("SELECT seq, type FROM appliedmessage WHERE fridge_id = :f ORDER BY rowid"),
                {"f": self.fridge.fridge_id},
            ).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    def rejections(self) -> int:
        with Session(self.runtime.services.engine) as session:
            return len(session.exec(select(Rejection)).all())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'server.db'}",
        embedded_mqtt_port=free_port(),  # fixed, so the broker comes back where the device looks for it
        http_port=0,
        data_dir=tmp_path / "data",
        server_mqtt_password="s3rver-pass-for-tests",
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = ServerRuntime(settings, SystemClock())
    runtime.start()
    client = getattr(runtime.link, "_client", None)
    if client is not None:  # the server's own reconnect backoff (capped at 30 s) would only make this test slow
        client.reconnect_delay_set(min_delay=1, max_delay=2)
    try:
        fridge = accounts.provision_fridge(runtime.services.sessions, runtime.clock, household_name="Lin")
        yield Server(runtime, fridge)
    finally:
        runtime.stop()


def truth_key(item: StoredItem) -> tuple[Any, ...]:
    p = item.package
    return (p.gtin, p.expiry, p.batch, item.compartment, item.opened)


def server_key(record: InventoryRecord) -> tuple[Any, ...]:
    return (record.gtin, record.label_expiry, record.batch, record.compartment, record.opened_at is not None)


def inventory_matches(hardware: FridgeHardware, server: Server) -> bool:
    truth = sorted((truth_key(i), i.fill) for i in hardware.contents())
    seen = sorted((server_key(r), r.fill if r.fill is not None else -1.0) for r in server.items())
    if [k for k, _ in truth] != [k for k, _ in seen]:
        return False
    return all(abs(a - b) <= 0.02 for (_, a), (_, b) in zip(truth, seen, strict=True))


class Household:
    """A seeded household living with the emulated fridge: it stocks, opens, uses up and throws away."""

    def __init__(self, hardware: FridgeHardware, clock: ManualClock, pool: list[Package], seed: int) -> None:
        self.hw = hardware
        self.clock = clock
        self.pool = list(pool)
        self.rng = random.Random(seed)
        self.compartments = {c.id: c.slots for c in hardware.info.compartments}

    def free_slot(self) -> tuple[str, int] | None:
        taken = {(i.compartment, i.slot) for i in self.hw.contents()}
        free = [(c, s) for c, n in self.compartments.items() for s in range(n) if (c, s) not in taken]
        return self.rng.choice(free) if free else None

    def add(self, package: Package | None = None) -> None:
        where = self.free_slot()
        if where is None or not self.pool:
            return
        package = package or self.pool.pop(0)
        self.hw.place(where[0], where[1], package, grams=float(self.rng.choice([250, 400, 500, 750, 1000])))

    def session(self) -> int:
        """One door opening with one or two things done, each to a different package; its door cycle.

        Using up leaves the empty package in (the camera still sees it); it is thrown away in a
        later session, so every opening happens where the fridge can see it.
        """
        cycle = self.hw.open_door()
        self.clock.advance(timedelta(seconds=40))
        touched: set[tuple[str, int]] = set()
        for _ in range(self.rng.choice([1, 1, 2])):
            inside = [i for i in self.hw.contents() if (i.compartment, i.slot) not in touched]
            empties = [i for i in inside if i.content_g <= 0]
            roll = self.rng.random()
            if not inside or roll < 0.35:
                self.add()
                continue
            item = self.rng.choice(empties if empties and roll > 0.8 else inside)
            touched.add((item.compartment, item.slot))
            if roll < 0.65 and item.content_g > 60:
                self.hw.use(item.compartment, item.slot, grams=round(item.full_g * self.rng.uniform(0.15, 0.4)))
            elif roll < 0.8 and item.opened and item.content_g > 0:
                self.hw.use(item.compartment, item.slot, grams=item.content_g)  # used up
            elif roll >= 0.8:
                self.hw.take(item.compartment, item.slot)
        self.hw.close_door()
        return cycle


def write_products(path: Path, pool: list[Package]) -> None:
    path.write_text(json.dumps({p.gtin: {"name": p.name, "category": CATEGORIES[p.name]} for p in pool}))


def test_a_day_offline_and_a_kill_lose_nothing(server: Server, tmp_path: Path) -> None:
    runtime = server.runtime
    broker = runtime.broker
    assert broker is not None
    clock = ManualClock(START)
    hardware = FridgeHardware(clock, seed=11)
    pool = sample_packages(11, 40, today=date(2026, 11, 23), codes=("digital_link_qr", "gs1_datamatrix"))
    pool.insert(3, pool[0])  # two identical cartons of one product
    products = tmp_path / "products.json"
    write_products(products, pool)
    household = Household(hardware, clock, pool, seed=5)
    state_root = tmp_path / "device"
    fridge = server.fridge
    with FirmwareServer(hardware) as firmware:
        device = DeviceProcess(
            [
                "--fridge-id", fridge.fridge_id, "--password", fridge.password,
                "--mqtt-url", runtime.mqtt_url, "--state-dir", str(state_root),
                "--firmware", firmware.url, "--clock", "firmware", "--products", str(products),
                "--queue-max-messages", str(QUEUE_BOUND), "--reconnect-max-delay", "1",
                "--telemetry-every", "300",
            ],
            state_root / fridge.fridge_id,
            tmp_path / "device.log",
        )
        device.start()
        try:
            # Online: stock the fridge and see the server follow.
            device.wait_status(lambda s: s["server_ready"] and s["checks"] >= 1, timeout=30)
            for _ in range(2):
                hardware.open_door()
                household.add()
                household.add()
                device.caught_up(hardware.close_door())
            wait_until(lambda: inventory_matches(hardware, server), timeout=15)
            # Nothing in flight anywhere before the broker goes: a broker without persistence loses
            # what it acknowledged and had not delivered yet (see device/README.md).
            idle = device.wait_status(lambda s: s["queued"] == 0, timeout=15)
            wait_until(lambda: server.applied_in_arrival_order()[-1][0] == idle["last_seq"], timeout=15)

            # The broker goes away for a day; the household goes on.
            broker.stop()
            device.wait_status(lambda s: s["connection"] != "online", timeout=15)
            killed_at, restarted_at = 9, 12
            for step in range(24):
                clock.advance(timedelta(minutes=50))
                if step == restarted_at:
                    device.start()  # same state directory: it finds its queue and its tracker's state
                    device.wait_status(lambda s: s["checks"] >= 1 and not s["check_pending"], timeout=30)
                if household.rng.random() < 0.3 and step != killed_at:
                    continue  # nobody at the fridge this time
                cycle = household.session()
                if step == killed_at:
                    device.kill()  # right after the door closed: whatever it was doing is cut short
                elif device.alive():
                    device.caught_up(cycle)
            assert device.starts == 2
            offline = device.wait_status(lambda s: s["queued"] >= QUEUE_BOUND - 5)

            # The broker is back, on the same port.
            broker.start()
            device.wait_status(lambda s: s["queued"] == 0 and s["server_ready"], timeout=60)
            wait_until(lambda: inventory_matches(hardware, server), timeout=30)
        finally:
            exit_code = device.stop()
    assert exit_code == 0, device.log_tail()

    # What the device threw away: telemetry only, and it says which.
    assert set(offline["dropped"]) == {"telemetry"}, offline["dropped"]
    with sqlite3.connect(state_root / fridge.fridge_id / "device.sqlite3") as db:
        dropped = {int(seq): kind for seq, kind in db.execute("SELECT seq, type FROM dropped")}
        left = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert left == 0
    assert dropped and set(dropped.values()) == {"telemetry"}

    # Every seq arrived once (the table's key) and in order; a gap is a dropped telemetry message or
    # the rest of the seq block the killed process had reserved — one such gap, ending at a block edge.
    arrived = server.applied_in_arrival_order()
    seqs = [seq for seq, _ in arrived]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert not set(seqs) & set(dropped)
    unexplained = []
    for before, after in pairwise(seqs):
        missing = set(range(before + 1, after)) - set(dropped)
        if missing:
            unexplained.append((min(missing), max(missing)))
    assert len(unexplained) <= 1, unexplained
    for low, high in unexplained:
        assert high % SEQ_BLOCK == 0, (low, high)  # the end of the block the killed process had reserved

    # Every item event that happened reached the server, once.
    records = server.all_items()
    happened = Counter((e.kind, e.gtin) for e in hardware.truth_log())
    reported = Counter(
        (e.kind, records[e.item_id].gtin)
        for e in server.events()
        if e.kind in ("item_added", "item_opened", "item_removed") and e.item_id is not None
    )
    assert reported == happened
    item_events = [e for e in server.events() if e.kind.startswith("item_")]
    assert len(item_events) == sum(happened.values())
    types = Counter(kind for _, kind in arrived)
    assert types["telemetry"] > 0 and types["inventory"] > 0
    assert server.rejections() == 0
    assert inventory_matches(hardware, server)
