"""The walking skeleton end to end, on amqtt + SQLite and on Mosquitto + PostgreSQL.

A merchant and two fridges are provisioned with the CLI; the merchant creates a product and an
`expiring` offer over HTTP; a fridge publishes (with Debian's mosquitto_pub, a client that is not
ours) an inventory snapshot whose milk expires in 20 hours; the offer arrives on the fridge's
retained `offers` topic (read with mosquitto_sub); accepting it returns a paid order, the same key
returns the same order, and the sandbox holds one charge; a household whose card is declined gets
a declined order and nothing is charged.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from freshtap.contract import Channel, topic
from freshtap.server.store.models import AppliedMessage, FridgeEvent, Order, Rejection, SandboxCharge
from tests.stack import Stack, make_stack, wait_until

MILK_GTIN = "09506000134352"


@pytest.fixture(params=["amqtt+sqlite", "mosquitto+postgres"])
def stack(request: pytest.FixtureRequest, tmp_path: Path, mosquitto_clients: tuple[str, str]) -> Iterator[Stack]:
    if request.param == "mosquitto+postgres":
        database_url = request.getfixturevalue("postgres_url")
        request.getfixturevalue("mosquitto_binary")
    else:
        database_url = f"sqlite:///{tmp_path / 'freshtap.db'}"
    with make_stack(request.param, tmp_path, database_url) as made:
        yield made


def _start(stack: Stack, request: pytest.FixtureRequest) -> None:
    binary = request.getfixturevalue("mosquitto_binary") if stack.backend.startswith("mosquitto") else None
    stack.start(mosquitto_binary=binary)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def inventory_payload(fridge_id: str, seq: int, milk_expires_in: timedelta) -> dict[str, Any]:
    now = _now()
    expiry_day = (now + milk_expires_in).date()
    return {
        "v": 1,
        "type": "inventory",
        "fridge_id": fridge_id,
        "seq": seq,
        "at": _z(now),
        "body": {
            "items": [
                {
                    "item_id": "milk-1",
                    "gtin": MILK_GTIN,
                    "name": "Whole milk 1 L",
                    "category": "dairy",
                    "quantity": 1,
                    "unit": "pcs",
                    "fill": 0.4,
                    "compartment": "fridge",
                    "added_at": _z(now - timedelta(days=3)),
                    "opened_at": None,
                    "label_expiry": expiry_day.isoformat(),
                    "expiry_kind": "expiry",
                    "batch": "ABC123",
                    "freshness": None,
                }
            ]
        },
    }


def client_args(stack: Stack, fridge: dict[str, Any]) -> list[str]:
    """Connection options of Debian's mosquitto clients, logged in as `fridge` (MQTT 3.1.1, QoS 1)."""
    return [
        "-h",
        "127.0.0.1",
        "-p",
        str(stack.mqtt_port),
        "-V",
        "mqttv311",
        "-i",
        fridge["fridge_id"],
        "-u",
        fridge["username"],
        "-P",
        fridge["password"],
        "-q",
        "1",
    ]


def mosquitto_pub(
    stack: Stack,
    fridge: dict[str, Any],
    channel: Channel,
    payload: bytes | str,
    *,
    to: str | None = None,
    check: bool = True,
) -> None:
    """Publish `payload` as `fridge` on `channel` of its own topic (or of fridge `to`'s)."""
    data = payload.encode() if isinstance(payload, str) else payload
    subprocess.run(
        ["mosquitto_pub", *client_args(stack, fridge), "-t", topic(to or fridge["fridge_id"], channel), "-s"],
        input=data,
        check=check,
        timeout=20,
        capture_output=True,
    )


def read_offers(stack: Stack, fridge: dict[str, Any], want: int, timeout: float = 15.0) -> dict[str, Any]:
    """Read the fridge's retained offers topic with mosquitto_sub until it lists `want` offers."""
    proc = subprocess.Popen(
        [
            "mosquitto_sub",
            *client_args(stack, fridge),
            "-t",
            topic(fridge["fridge_id"], Channel.OFFERS),
            "-W",
            str(int(timeout)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            message: dict[str, Any] = json.loads(line)
            if len(message["body"]["offers"]) == want:
                return message
        raise AssertionError(f"no offers message with {want} offers: {proc.stderr.read() if proc.stderr else ''}")
    finally:
        proc.kill()
        proc.wait()


def test_expiring_milk_becomes_an_offer_and_a_paid_order(stack: Stack, request: pytest.FixtureRequest) -> None:
    merchant = stack.cli("admin", "create-merchant", "Fresh Dairy Co")
    paying = stack.cli("admin", "provision-fridge", "--household", "Lin family", "--payment-method", "pm_sandbox_ok")
    declined = stack.cli(
        "admin", "provision-fridge", "--household", "Smith family", "--payment-method", "pm_sandbox_declined"
    )
    assert paying["username"] == paying["fridge_id"] and paying["mqtt_url"].startswith("mqtt://")
    _start(stack, request)

    offer = stack.expiring_offer(merchant["api_key"], MILK_GTIN)

    payload = inventory_payload(paying["fridge_id"], seq=1, milk_expires_in=timedelta(hours=20))
    mosquitto_pub(stack, paying, Channel.INVENTORY, json.dumps(payload))
    offers = read_offers(stack, paying, want=1)
    entry = offers["body"]["offers"][0]
    assert entry["item_id"] == "milk-1"
    assert entry["offer_id"] == offer["id"]
    assert entry["price"] == {"amount_minor": 1290, "currency": "CNY"}
    assert entry["reason"]["kind"] == "expiring" and "Whole milk 1 L expires in" in entry["reason"]["text"]

    with stack.client(paying["password"]) as household:
        inventory = household.get(f"/api/v1/fridges/{paying['fridge_id']}/inventory").json()
        assert inventory["items"][0]["freshness"]["state"] == "expiring"
        assert inventory["items"][0]["freshness"]["basis"] == "label"
        assert inventory["items"][0]["freshness"]["explanation"]
        key = str(uuid.uuid4())
        first = household.post(f"/api/v1/proposals/{entry['proposal_id']}/accept", headers={"Idempotency-Key": key})
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "paid"
        assert first.json()["payment"]["state"] == "succeeded"
        again = household.post(f"/api/v1/proposals/{entry['proposal_id']}/accept", headers={"Idempotency-Key": key})
        assert again.status_code == 200
        assert again.json()["order_id"] == first.json()["order_id"]
        other_key = household.post(
            f"/api/v1/proposals/{entry['proposal_id']}/accept", headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert other_key.status_code == 409
        assert other_key.headers["content-type"].startswith("application/problem+json")
        order = household.get(f"/api/v1/orders/{first.json()['order_id']}")
        assert order.status_code == 200 and order.json()["status"] == "paid"
    # The accepted proposal left the live list, so the retained offers list is empty again.
    assert read_offers(stack, paying, want=0)["body"]["offers"] == []

    # The merchant sees its own order.
    with stack.client(merchant["api_key"]) as api:
        assert api.get(f"/api/v1/orders/{first.json()['order_id']}").status_code == 200

    # A declined card: a declined order and no charge.
    mosquitto_pub(
        stack,
        declined,
        Channel.INVENTORY,
        json.dumps(inventory_payload(declined["fridge_id"], seq=1, milk_expires_in=timedelta(hours=20))),
    )
    proposal = read_offers(stack, declined, want=1)["body"]["offers"][0]["proposal_id"]
    with stack.client(declined["password"]) as household:
        refused = household.post(f"/api/v1/proposals/{proposal}/accept", headers={"Idempotency-Key": "k-1"})
        assert refused.status_code == 200, refused.text
        assert refused.json()["status"] == "declined"
        assert refused.json()["payment"]["failure_reason"] == "card_declined"

    assert stack.runtime is not None
    with Session(stack.runtime.services.engine) as session:
        charged = session.exec(
            select(func.count()).select_from(SandboxCharge).where(SandboxCharge.status == "succeeded")
        ).one()
        assert charged == 1
        assert session.exec(select(func.count()).select_from(Order)).one() == 2


def test_redelivered_seq_applies_once_and_bad_input_is_counted(stack: Stack, request: pytest.FixtureRequest) -> None:
    fridge = stack.cli("admin", "provision-fridge", "--household", "Lin family", "--payment-method", "pm_sandbox_ok")
    _start(stack, request)
    assert stack.runtime is not None
    fid = fridge["fridge_id"]
    event = {
        "v": 1,
        "type": "event",
        "fridge_id": fid,
        "seq": 7,
        "at": _z(_now()),
        "body": {"kind": "door_left_open", "item_id": None, "detail": {"seconds": 90}},
    }
    for _ in range(3):
        mosquitto_pub(stack, fridge, Channel.EVENTS, json.dumps(event))

    bad = {
        "not_json": b"{not json",
        "invalid": json.dumps({**event, "seq": "8"}).encode(),
        "unknown_type": json.dumps({**event, "type": "gossip"}).encode(),
        "fridge_mismatch": json.dumps({**event, "seq": 9, "fridge_id": "someone-else"}).encode(),
        "wrong_channel": json.dumps({**event, "seq": 10, "type": "telemetry"}).encode(),
    }
    for payload in bad.values():
        mosquitto_pub(stack, fridge, Channel.EVENTS, payload)
    # Over 64 KiB: the embedded broker cuts the connection before reading the body and reports it
    # (stored and counted as too_large); Mosquitto drops it itself (message_size_limit).
    oversized = json.dumps(
        {**event, "seq": 12, "body": {"kind": "door_left_open", "item_id": None, "detail": {"pad": "x" * 70_000}}}
    )
    mosquitto_pub(stack, fridge, Channel.EVENTS, oversized, check=False)
    expected_rejections = len(bad) + (1 if stack.backend == "amqtt+sqlite" else 0)
    good = {**event, "seq": 11, "body": {"kind": "temperature_alarm", "item_id": None, "detail": {}}}
    mosquitto_pub(stack, fridge, Channel.EVENTS, json.dumps(good))

    services = stack.runtime.services

    def all_handled() -> bool:
        with Session(services.engine) as session:
            events = session.exec(select(func.count()).select_from(FridgeEvent)).one()
            rejections = session.exec(select(func.count()).select_from(Rejection)).one()
        return events == 2 and rejections == expected_rejections

    wait_until(all_handled, timeout=15)
    # Three deliveries of seq 7 applied once; the two others counted as duplicates.
    wait_until(
        lambda: (
            _metric(services.metrics.render(), 'freshtap_ingest_messages_total{outcome="duplicate",type="event"}') == 2
        )
    )
    metrics_text = services.metrics.render()
    for reason in bad:
        assert _metric(metrics_text, f'freshtap_ingest_rejected_total{{reason="{reason}"}}') == 1, reason
    with Session(services.engine) as session:
        stored = session.exec(select(Rejection.reason)).all()
        too_large = ["too_large"] if stack.backend == "amqtt+sqlite" else []
        assert sorted(stored) == sorted([*bad, *too_large])
        assert session.exec(select(func.count()).select_from(AppliedMessage)).one() == 2

    import httpx

    exposed = httpx.get(f"{stack.http}/metrics").text
    assert 'freshtap_ingest_rejected_total{reason="not_json"} 1.0' in exposed


def _metric(text: bytes | str, name: str) -> float:
    body = text.decode() if isinstance(text, bytes) else text
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_a_fridge_cannot_speak_for_another_and_nothing_refused_is_stored(
    stack: Stack, request: pytest.FixtureRequest
) -> None:
    a = stack.cli("admin", "provision-fridge", "--household", "A", "--payment-method", "pm_sandbox_ok")
    b = stack.cli("admin", "provision-fridge", "--household", "B", "--payment-method", "pm_sandbox_ok")
    _start(stack, request)
    assert stack.runtime is not None
    # A, with its own credentials, publishes B's inventory on B's topic: the broker drops it.
    forged = inventory_payload(b["fridge_id"], seq=1, milk_expires_in=timedelta(hours=20))
    mosquitto_pub(stack, a, Channel.INVENTORY, json.dumps(forged), to=b["fridge_id"], check=False)
    # Then a good message of A's own; once it is stored, the forged one had its chance.
    mosquitto_pub(
        stack,
        a,
        Channel.INVENTORY,
        json.dumps(inventory_payload(a["fridge_id"], seq=1, milk_expires_in=timedelta(days=9))),
    )
    services = stack.runtime.services

    def stored_for(fridge_id: str) -> int:
        with Session(services.engine) as session:
            return int(
                session.exec(
                    select(func.count()).select_from(AppliedMessage).where(AppliedMessage.fridge_id == fridge_id)
                ).one()
            )

    wait_until(lambda: stored_for(a["fridge_id"]) == 1, timeout=15)
    assert stored_for(b["fridge_id"]) == 0
    with Session(services.engine) as session:
        assert session.exec(select(func.count()).select_from(Rejection)).one() == 0
    # A cannot read B's offers over HTTP either.
    with stack.client(a["password"]) as household:
        assert household.get(f"/api/v1/fridges/{b['fridge_id']}/offers").status_code == 404
