"""Light fidelity: many paho clients on one asyncio loop, past select()'s 1,024 descriptors."""

from __future__ import annotations

import resource
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from freshtap.clock import AcceleratedClock
from freshtap.contract import Channel, InventoryMessage, StateMessage
from freshtap.server.services import accounts
from freshtap.server.store.models import Fridge
from freshtap.simulator import BusObserver, SimFridge
from freshtap.simulator.light_fleet import LightFleet
from freshtap.simulator.mosquitto import MosquittoBroker
from tests.stack import make_stack, wait_until

pytestmark = pytest.mark.services

START = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def test_1200_light_fridges_from_one_process(mosquitto: MosquittoBroker) -> None:
    """More fridges than select() can watch: every one connects, reports a snapshot, and says goodbye."""
    size = 1200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < size + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, size + 500), hard))
    fridges = [SimFridge(f"light-{n:05d}", f"light-{n:05d}", "pw") for n in range(size)]
    fleet = LightFleet(
        fridges, mosquitto.url, AcceleratedClock(speed=60, start=START), seed=3,
        telemetry_every=timedelta(minutes=5), inventory_every=timedelta(hours=6), connect_rate=2000,
    )
    with BusObserver(mosquitto.url, channels=(Channel.INVENTORY, Channel.STATE)) as bus:
        fleet.start()
        try:
            assert fleet.wait_online(60), fleet.stats
            seen = bus.wait_for(
                lambda s: len({o.message.fridge_id for o in s if isinstance(o.message, InventoryMessage)}) == size,
                60,
            )
        finally:
            fleet.stop()
        stats = fleet.stats
        goodbye = bus.wait_for(
            lambda s: sum(1 for o in s if isinstance(o.message, StateMessage) and not o.message.body.online) >= size,
            30,
        )
    assert all(o.violation is None for o in seen)
    snapshots = Counter(o.message.fridge_id for o in seen if isinstance(o.message, InventoryMessage))
    assert set(snapshots) == {f.fridge_id for f in fridges}
    assert stats.connects == size and stats.connect_errors == 0 and stats.publish_errors == 0
    offline = {o.message.fridge_id for o in goodbye if isinstance(o.message, StateMessage) and not o.message.body.online}
    assert offline == {f.fridge_id for f in fridges}


def test_light_fridges_feed_the_real_server(tmp_path: Path) -> None:
    """Provisioned light fridges log in to the embedded broker and the server stores their inventories."""
    with make_stack("amqtt+sqlite", tmp_path, f"sqlite:///{tmp_path / 'freshtap.db'}") as stack:
        stack.start()
        assert stack.runtime is not None
        services = stack.runtime.services
        made = [
            accounts.provision_fridge(services.sessions, services.clock, household_name=f"light {n}")
            for n in range(20)
        ]
        fleet = LightFleet(
            [SimFridge(m.fridge_id, m.username, m.password) for m in made],
            stack.runtime.mqtt_url, AcceleratedClock(speed=60), seed=5,
        )
        fleet.start()
        try:
            assert fleet.wait_online(30), fleet.stats

            def stored() -> bool:
                with services.sessions() as session:
                    rows = session.exec(select(Fridge).where(Fridge.inventory_seq.is_not(None))).all()  # type: ignore[union-attr]
                return len(rows) == len(made)

            wait_until(stored, timeout=30)
        finally:
            fleet.stop()
        assert fleet.stats.connect_errors == 0
