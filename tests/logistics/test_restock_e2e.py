"""Restock end to end: tap -> paid -> the merchant ships and delivers -> the fridge's own snapshot
shows the new milk -> the order is `restocked`, and every step's notice reaches the fridge.

A real server runtime, a real broker (amqtt + SQLite, and Mosquitto + PostgreSQL) and a paho
client logged in as the fridge, which publishes its inventory and reads its `notices` topic.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from freshtap.contract import Channel, topic
from tests.stack import Stack, make_stack

pytestmark = pytest.mark.services

MILK_GTIN = "09506000134352"


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _milk(item_id: str, added: datetime, expires: datetime) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "gtin": MILK_GTIN,
        "name": "Whole milk 1 L",
        "category": "dairy",
        "quantity": 1,
        "unit": "pcs",
        "fill": 1.0,
        "compartment": "fridge",
        "added_at": _z(added),
        "label_expiry": expires.date().isoformat(),
        "expiry_kind": "expiry",
    }


class FridgeClient:
    """The fridge's side of MQTT: publish as itself, collect its notices (QoS 1)."""

    def __init__(self, stack: Stack, fridge: dict[str, Any]) -> None:
        self.fridge_id = fridge["fridge_id"]
        self.notices: queue.Queue[dict[str, Any]] = queue.Queue()
        self.offers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._subscribed = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.fridge_id, protocol=mqtt.MQTTv311)
        client.username_pw_set(fridge["username"], fridge["password"])
        client.on_connect = lambda c, *_: c.subscribe(
            [(topic(self.fridge_id, Channel.NOTICES), 1), (topic(self.fridge_id, Channel.OFFERS), 1)]
        )
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.on_message = self._received
        client.connect("127.0.0.1", stack.mqtt_port)
        client.loop_start()
        self.client = client
        assert self._subscribed.wait(15), "the fridge could not subscribe"

    def _received(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        body = json.loads(message.payload)
        if body["body"].get("kind") == "applied":
            return  # server confirmations (docs/contract.md): the agent's uplink consumes those
        (self.notices if message.topic.endswith("/notices") else self.offers).put(body)

    def publish_inventory(self, seq: int, items: list[dict[str, Any]]) -> None:
        payload = {
            "v": 1,
            "type": "inventory",
            "fridge_id": self.fridge_id,
            "seq": seq,
            "at": _z(datetime.now(UTC)),
            "body": {"items": items},
        }
        info = self.client.publish(topic(self.fridge_id, Channel.INVENTORY), json.dumps(payload), qos=1)
        info.wait_for_publish(10)

    def next_notice(self, timeout: float = 15.0) -> dict[str, Any]:
        return self.notices.get(timeout=timeout)["body"]

    def offers_with(self, count: int, timeout: float = 15.0) -> dict[str, Any]:
        while True:
            message = self.offers.get(timeout=timeout)
            if len(message["body"]["offers"]) == count:
                return message

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(params=["amqtt+sqlite", "mosquitto+postgres"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    binary = None
    if request.param == "mosquitto+postgres":
        database_url = request.getfixturevalue("postgres_url")
        binary = request.getfixturevalue("mosquitto_binary")
    else:
        database_url = f"sqlite:///{tmp_path / 'freshtap.db'}"
    with make_stack(request.param, tmp_path, database_url) as made:
        made.extra["mosquitto_binary"] = binary
        yield made


def test_tap_ship_deliver_and_the_fridge_sees_the_milk(stack: Stack) -> None:
    merchant = stack.cli("admin", "create-merchant", "Corner Dairy")
    home = stack.cli("admin", "provision-fridge", "--household", "Lin family", "--payment-method", "pm_sandbox_ok")
    stack.start(mosquitto_binary=stack.extra["mosquitto_binary"])
    stack.expiring_offer(merchant["api_key"], MILK_GTIN)
    fridge = FridgeClient(stack, home)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        old_milk = _milk("milk-1", now - timedelta(days=3), now + timedelta(hours=20))
        fridge.publish_inventory(1, [old_milk])
        proposal = fridge.offers_with(1)["body"]["offers"][0]["proposal_id"]
        with stack.client(home["password"]) as household:
            tapped = household.post(
                f"/api/v1/proposals/{proposal}/accept", headers={"Idempotency-Key": str(uuid.uuid4())}
            )
            assert tapped.status_code == 200 and tapped.json()["status"] == "paid", tapped.text
        order_id = tapped.json()["order_id"]
        assert fridge.next_notice()["status"] == "paid"

        with stack.client(merchant["api_key"]) as shop:
            for status in ("in_transit", "delivered"):
                posted = shop.post(
                    f"/api/v1/orders/{order_id}/shipments",
                    json={"carrier": "SF Express", "tracking_number": "SF99", "status": status, "event_id": status},
                )
                assert posted.status_code == 201, posted.text
        shipped, delivered = fridge.next_notice(), fridge.next_notice()
        assert (shipped["order_id"], shipped["status"], shipped["shipment"]["status"]) == (
            order_id,
            "shipped",
            "in_transit",
        )
        assert delivered["status"] == "delivered" and "delivered" in delivered["text"]["en"]

        new_milk = _milk("milk-2", datetime.now(UTC) + timedelta(seconds=1), now + timedelta(days=7))
        fridge.publish_inventory(2, [old_milk, new_milk])
        restocked = fridge.next_notice()
        assert (restocked["order_id"], restocked["status"]) == (order_id, "restocked")
        assert "in your fridge" in restocked["text"]["en"] and "已放入冰箱" in restocked["text"]["zh"]
        with stack.client(home["password"]) as household:
            order = household.get(f"/api/v1/orders/{order_id}").json()
        assert order["status"] == "restocked" and order["fulfilment"]["restocked_at"]

        fridge.publish_inventory(3, [new_milk])  # seen again: the order closed once, no second notice
        with stack.client(merchant["api_key"]) as shop:
            listed = shop.get("/api/v1/orders", params={"status": "restocked"}).json()["items"]
        assert [o["order_id"] for o in listed] == [order_id]
        with pytest.raises(queue.Empty):
            fridge.notices.get(timeout=1.0)
    finally:
        fridge.close()
