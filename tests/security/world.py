"""Two households (A, B) and two merchants (M1, M2), each with live objects, for the security lane.

A's fridge holds milk that M1 offers, B's holds yoghurt that M2 offers; each household bought one
item (A from M1, B from M2), still has a live proposal, a review draft for its order, due-soon
windows and a PIN. A spare household C and merchant M3 are what the admin calls act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from freshtap.contract import Channel, topic
from freshtap.gtin import check_digit
from freshtap.server.services import accounts
from freshtap.server.store.shipment_models import OrderFulfilment
from tests.server.conftest import Api, _z

MILK = "09506000134352"
YOGHURT = "0950600013437" + str(check_digit("0950600013437"))


@dataclass
class Principal:
    name: str
    token: str | None
    kind: str  # "household" | "merchant" | "admin" | "anonymous"
    household_id: str | None = None
    merchant_id: str | None = None
    fridge_id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass
class World:
    api: Api
    principals: dict[str, Principal]
    objects: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    """Parameter name -> {object id: the principals that own it}."""

    def owned(self, param: str) -> dict[str, frozenset[str]]:
        return self.objects.get(param, {})


def item(api: Api, gtin: str, item_id: str, name: str, expires_in: timedelta) -> dict[str, Any]:
    now = api.clock.now()
    return {
        "item_id": item_id,
        "gtin": gtin,
        "name": name,
        "category": "dairy",
        "quantity": 1,
        "unit": "pcs",
        "fill": 0.5,
        "compartment": "fridge",
        "added_at": _z(now - timedelta(days=2)),
        "label_expiry": (now + expires_in).date().isoformat(),
        "expiry_kind": "expiry",
    }


def send(api: Api, fridge_id: str, channel: Channel, seq: int, kind: str, body: dict[str, Any]) -> str:
    payload = {"v": 1, "type": kind, "fridge_id": fridge_id, "seq": seq, "at": _z(api.clock.now()), "body": body}
    return api.services.ingest.handle(topic(fridge_id, channel), json.dumps(payload).encode()).outcome


def offer(api: Api, merchant: accounts.MerchantCreated, gtin: str, name: str) -> dict[str, Any]:
    headers = api.as_(merchant.api_key)
    product = api.client.post(
        "/api/v1/products",
        headers=headers,
        json={"gtin": gtin, "name": name, "category": "dairy", "price": {"amount_minor": 1290, "currency": "CNY"}},
    )
    assert product.status_code == 201, product.text
    made = api.client.post(
        "/api/v1/offers",
        headers=headers,
        json={"gtin": gtin, "match": {"gtin": gtin}, "trigger": {"kind": "expiring", "within_hours": 48}},
    )
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def stock_and_buy(api: Api, fridge: accounts.ProvisionedFridge, gtin: str, name: str) -> tuple[str, str]:
    """Three expiring items, their telemetry and an event; buy one. Returns (order id, a live proposal id)."""
    fid = fridge.fridge_id
    items = [item(api, gtin, f"it-{k}", name, timedelta(hours=20)) for k in range(3)]
    assert send(api, fid, Channel.INVENTORY, 1, "inventory", {"items": items}) == "applied"
    reading = {"compartments": [{"id": "fridge", "temp_c": 3.9}], "door_open": False}
    assert send(api, fid, Channel.TELEMETRY, 2, "telemetry", reading) == "applied"
    event = {"kind": "item_opened", "item_id": "it-2", "detail": {}}
    assert send(api, fid, Channel.EVENTS, 3, "event", event) == "applied"
    headers = api.as_(fridge.password)
    offers = api.client.get(f"/api/v1/fridges/{fid}/offers", headers=headers).json()["body"]["offers"]
    assert len(offers) >= 2, offers
    bought = api.client.post(
        f"/api/v1/proposals/{offers[0]['proposal_id']}/accept", headers={**headers, "Idempotency-Key": f"tap-{fid}"}
    )
    assert bought.status_code == 200, bought.text
    order_id: str = bought.json()["order_id"]
    return order_id, offers[1]["proposal_id"]


def build_world(api: Api, admin_token: str) -> World:
    m1, m2, m3 = api.merchant("M1"), api.merchant("M2"), api.merchant("M3")
    a, b, c = api.fridge(), api.fridge(), api.fridge()
    offer_1 = offer(api, m1, MILK, "Whole milk 1 L")
    offer_2 = offer(api, m2, YOGHURT, "Yoghurt 500 g")
    order_a, live_a = stock_and_buy(api, a, MILK, "Whole milk 1 L")
    order_b, live_b = stock_and_buy(api, b, YOGHURT, "Yoghurt 500 g")
    # Each order is delivered and seen restocked (as the fulfilment part records it), and gets its review draft.
    now = api.clock.now()
    with api.services.sessions() as session:
        for order_id, fridge in ((order_a, a), (order_b, b)):
            session.add(
                OrderFulfilment(
                    order_id=order_id, fridge_id=fridge.fridge_id, ordered_at=now, status="restocked",
                    carrier="SF", tracking_number=f"SF-{order_id}", delivered_at=now, restocked_at=now, updated_at=now,
                )
            )
        session.commit()
    api.services.reviews.create_due_drafts()
    drafts: dict[str, frozenset[str]] = {}
    for fridge, owner in ((a, "A"), (b, "B")):
        listed = api.client.get("/api/v1/households/me/review-drafts", headers=api.as_(fridge.password)).json()
        assert len(listed) == 1, listed
        drafts[listed[0]["draft_id"]] = frozenset({owner})
    for fridge in (a, b):
        windows = {"gtin": {MILK: 30.0}, "category": {"dairy": 40.0}}
        put = api.client.put(f"/api/v1/fridges/{fridge.fridge_id}/due-soon", headers=api.as_(fridge.password), json=windows)
        assert put.status_code == 200, put.text
        limits = {"per_order": {"amount_minor": 100_000, "currency": "CNY"}, "pin": "4821"}
        assert api.client.put("/api/v1/households/me/limits", headers=api.as_(fridge.password), json=limits).status_code == 200

    def household(name: str, fridge: accounts.ProvisionedFridge) -> Principal:
        return Principal(name, fridge.password, "household", household_id=fridge.household_id, fridge_id=fridge.fridge_id)

    principals = {
        "A": household("A", a),
        "B": household("B", b),
        "M1": Principal("M1", m1.api_key, "merchant", merchant_id=m1.merchant_id),
        "M2": Principal("M2", m2.api_key, "merchant", merchant_id=m2.merchant_id),
        "admin": Principal("admin", admin_token, "admin"),
        "anonymous": Principal("anonymous", None, "anonymous"),
    }
    admin_only = frozenset({"admin"})
    world = World(api, principals)
    world.objects = {
        "fridge_id": {a.fridge_id: frozenset({"A"}), b.fridge_id: frozenset({"B"}), c.fridge_id: admin_only},
        "proposal_id": {live_a: frozenset({"A"}), live_b: frozenset({"B"})},
        "order_id": {order_a: frozenset({"A", "M1"}), order_b: frozenset({"B", "M2"})},
        "offer_id": {offer_1["id"]: frozenset({"M1"}), offer_2["id"]: frozenset({"M2"})},
        "product_id": {offer_1["product_id"]: frozenset({"M1"}), offer_2["product_id"]: frozenset({"M2"})},
        "merchant_id": {m1.merchant_id: frozenset({"M1"}), m2.merchant_id: frozenset({"M2"}), m3.merchant_id: admin_only},
        "draft_id": drafts,
    }
    return world
