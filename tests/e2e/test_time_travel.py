"""Time travel through the real server: no message arrives, the clock moves, and the offer appears
at the crossing time within one scheduler tick — on amqtt + SQLite and on Mosquitto + PostgreSQL.

The server runs as `freshtap server` would (ServerRuntime: broker, ingest, scheduler, HTTP) on a
`ManualClock`. A fridge, logged in with paho as itself, publishes one inventory snapshot and
subscribes to its retained offers topic. Then the test moves the clock one scheduler tick at a
time and waits, each time, until the scheduler has finished a pass at that clock time
(`IngestService.wait_refreshed`): the offer must not appear at any tick before the crossing and
must appear at the first tick after it. (A ManualClock's scheduler polls every 50 ms of real
time; the tick is the step the test moves the clock by.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from freshtap.clock import ManualClock
from freshtap.contract import Channel, topic
from freshtap.server.store.models import InventoryRecord, Proposal
from tests.broker.conftest import MqttClient
from tests.stack import Stack, make_stack, wait_until

MILK_GTIN = "09506000134352"
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # use by 26 Nov, read as the end of that day in UTC
WITHIN_HOURS = 30  # not a freshness threshold: the crossing is the offer's own
TICK_SECONDS = 20.0


@pytest.fixture(params=["amqtt+sqlite", "mosquitto+postgres"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("FRESHTAP_OFFERS__SCHEDULER_TICK_SECONDS", str(TICK_SECONDS))
    if request.param == "mosquitto+postgres":
        request.getfixturevalue("mosquitto_binary")
        database_url = request.getfixturevalue("postgres_url")
    else:
        database_url = f"sqlite:///{tmp_path / 'freshtap.db'}"
    with make_stack(request.param, tmp_path, database_url) as made:
        yield made


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _snapshot(fridge_id: str) -> bytes:
    milk: dict[str, Any] = {
        "item_id": "milk-1",
        "gtin": MILK_GTIN,
        "name": "Whole milk 1 L",
        "category": "dairy",
        "quantity": 1,
        "unit": "pcs",
        "fill": 0.6,
        "compartment": "fridge",
        "added_at": _z(T0 - timedelta(days=1)),
        "label_expiry": "2026-11-26",
        "expiry_kind": "expiry",
    }
    message = {"v": 1, "type": "inventory", "fridge_id": fridge_id, "seq": 1, "at": _z(T0), "body": {"items": [milk]}}
    return json.dumps(message).encode()


def test_the_offer_appears_at_the_crossing_within_one_tick_with_no_message(
    stack: Stack, request: pytest.FixtureRequest
) -> None:
    merchant = stack.cli("admin", "create-merchant", "Fresh Dairy Co")
    fridge = stack.cli("admin", "provision-fridge", "--household", "Lin family", "--payment-method", "pm_sandbox_ok")
    clock = ManualClock(T0)
    binary = request.getfixturevalue("mosquitto_binary") if stack.backend.startswith("mosquitto") else None
    stack.start(clock=clock, mosquitto_binary=binary)
    runtime = stack.runtime
    assert runtime is not None
    tick = timedelta(seconds=runtime.settings.offers.scheduler_tick_seconds)
    assert tick == timedelta(seconds=TICK_SECONDS)
    ingest, engine = runtime.services.ingest, runtime.services.engine

    offer = stack.expiring_offer(merchant["api_key"], MILK_GTIN, within_hours=WITHIN_HOURS)

    fid = fridge["fridge_id"]
    with MqttClient(
        "127.0.0.1", stack.mqtt_port, client_id=fid, username=fridge["username"], password=fridge["password"]
    ) as device:
        device.connect_ok()
        assert device.subscribe(topic(fid, Channel.OFFERS), qos=1) == 1
        device.publish(topic(fid, Channel.INVENTORY), _snapshot(fid), qos=1)

        def stored() -> InventoryRecord | None:
            with Session(engine) as session:
                return session.get(InventoryRecord, (fid, "milk-1"))

        assert wait_until(stored, timeout=15).freshness_state == "use_soon"  # 60 h left at T0

        def proposals_made() -> int:
            with Session(engine) as session:
                return int(
                    session.exec(select(func.count()).select_from(Proposal).where(Proposal.fridge_id == fid)).one()
                )

        # From here on the fridge says nothing; only the clock moves.
        crossing = EXPIRES - timedelta(hours=WITHIN_HOURS)
        first_tick_after = crossing + timedelta(seconds=7)  # the crossing falls between two ticks
        for ticks_before in (3, 2, 1):
            when = first_tick_after - ticks_before * tick
            clock.set(when)
            assert ingest.wait_refreshed(when, timeout=15), "the scheduler did not run"
            assert proposals_made() == 0, f"an offer opened {ticks_before} tick(s) early"

        clock.set(first_tick_after)
        assert ingest.wait_refreshed(first_tick_after, timeout=15)
        received = device.next_message(timeout=15)
        assert received.topic == topic(fid, Channel.OFFERS)
        assert received.retain is False  # delivered live to the subscriber, not from the store
        message = json.loads(received.payload)
        [entry] = message["body"]["offers"]
        opened_at = datetime.fromisoformat(message["at"].replace("Z", "+00:00"))
        assert crossing <= opened_at < crossing + tick
        assert opened_at == first_tick_after
        assert entry["item_id"] == "milk-1"
        assert entry["offer_id"] == offer["id"]
        assert entry["reason"] == {
            "kind": "expiring", "text": "Whole milk 1 L expires in 30 h", "explanation": "the only matching offer"
        }
        assert device.drain() == []  # the first and only offers message since the snapshot

    # The retained topic holds it: a door screen that connects later sees the same list.
    with MqttClient(
        "127.0.0.1", stack.mqtt_port, client_id=fid, username=fridge["username"], password=fridge["password"]
    ) as screen:
        screen.connect_ok()
        screen.subscribe(topic(fid, Channel.OFFERS), qos=1)
        retained = screen.next_message(timeout=15)
        assert retained.retain is True
        assert json.loads(retained.payload)["body"]["offers"][0]["proposal_id"] == entry["proposal_id"]
