"""Helpers for the freshness-over-time tests: messages through the real ingest, offers, records."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, select

from freshtap.contract import Channel, topic
from freshtap.server.services import accounts
from freshtap.server.store.history_models import ItemHistory
from freshtap.server.store.models import Household, InventoryRecord
from tests.server.conftest import MILK_GTIN, Api

YOGURT_GTIN = "04006381333931"
JUICE_GTIN = "00012345600012"

__all__ = [
    "JUICE_GTIN",
    "MILK_GTIN",
    "YOGURT_GTIN",
    "create_offer",
    "create_product",
    "history",
    "item",
    "last_offers",
    "record",
    "send",
    "set_timezone",
    "z",
]


def z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def send(api: Api, fridge_id: str, kind: str, seq: int, body: dict[str, Any], at: datetime | None = None) -> str:
    """Hand one device message to the real ingest service; returns the outcome."""
    channel = {
        "inventory": Channel.INVENTORY,
        "telemetry": Channel.TELEMETRY,
        "event": Channel.EVENTS,
    }[kind]
    payload = {
        "v": 1,
        "type": kind,
        "fridge_id": fridge_id,
        "seq": seq,
        "at": z(at or api.clock.now()),
        "body": body,
    }
    return api.services.ingest.handle(topic(fridge_id, channel), json.dumps(payload).encode()).outcome


def item(
    item_id: str,
    *,
    added_at: datetime,
    label_expiry: date | None,
    gtin: str | None = MILK_GTIN,
    name: str = "Whole milk 1 L",
    category: str = "dairy",
    fill: float | None = 0.5,
    compartment: str = "fridge",
) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "gtin": gtin,
        "name": name,
        "category": category,
        "quantity": 1,
        "unit": "pcs",
        "fill": fill,
        "compartment": compartment,
        "added_at": z(added_at),
        "label_expiry": label_expiry.isoformat() if label_expiry else None,
        "expiry_kind": "expiry" if label_expiry else None,
    }


def create_product(
    api: Api, merchant: accounts.MerchantCreated, gtin: str, price: int = 1290, name: str = "Whole milk 1 L"
) -> str:
    response = api.client.post(
        "/api/v1/products",
        headers=api.as_(merchant.api_key),
        json={"gtin": gtin, "name": name, "category": "dairy", "price": {"amount_minor": price, "currency": "CNY"}},
    )
    assert response.status_code == 201, response.text
    product_id: str = response.json()["id"]
    return product_id


def create_offer(
    api: Api, merchant: accounts.MerchantCreated, product_id: str, trigger: dict[str, Any], **extra: Any
) -> str:
    gtin = api.client.get(f"/api/v1/products/{product_id}", headers=api.as_(merchant.api_key)).json()["gtin"]
    response = api.client.post(
        "/api/v1/offers",
        headers=api.as_(merchant.api_key),
        json={"product_id": product_id, "match": {"gtin": gtin}, "trigger": trigger, **extra},
    )
    assert response.status_code == 201, response.text
    offer_id: str = response.json()["id"]
    return offer_id


def record(api: Api, fridge_id: str, item_id: str) -> InventoryRecord:
    with Session(api.services.engine) as session:
        found = session.get(InventoryRecord, (fridge_id, item_id))
    assert found is not None
    return found


def history(api: Api, fridge_id: str) -> list[ItemHistory]:
    with Session(api.services.engine) as session:
        return list(session.exec(select(ItemHistory).where(ItemHistory.fridge_id == fridge_id)).all())


def last_offers(api: Api, fridge_id: str) -> dict[str, Any] | None:
    """The last offers message published to this fridge (None: none yet)."""
    sent = [
        payload for fid, channel, payload, _ in api.publisher.sent if fid == fridge_id and channel == Channel.OFFERS
    ]
    if not sent:
        return None
    message: dict[str, Any] = json.loads(sent[-1])
    return message


def set_timezone(api: Api, household_id: str, zone: str) -> None:
    with Session(api.services.engine) as session:
        household = session.get(Household, household_id)
        assert household is not None
        household.timezone = zone
        session.add(household)
        session.commit()
