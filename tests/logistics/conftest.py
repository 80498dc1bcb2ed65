"""The logistics lane: the real app and services (the `api` fixture: SQLite and PostgreSQL), with
helpers that take an order from a fridge's snapshot to a paid order and read the notices sent."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from freshtap.contract import Channel
from freshtap.server.services import accounts
from tests.server.conftest import Api, database_url  # noqa: F401  (fixtures)
from tests.server.conftest import api as api

__all__ = ["Bought", "buy_milk", "notices"]


@dataclass
class Bought:
    merchant: accounts.MerchantCreated
    fridge: accounts.ProvisionedFridge
    order: dict[str, Any]


def buy_milk(
    api: Api, *, payment_method: str = "pm_sandbox_ok", merchant: accounts.MerchantCreated | None = None
) -> Bought:
    """A merchant's expiring-milk offer, a fridge whose milk expires in 20 h, and one tap on it."""
    seller = merchant or api.merchant("Corner Dairy")
    if merchant is None:
        api.milk_offer(seller)
    fridge = api.fridge(payment_method)
    assert api.publish_inventory(fridge.fridge_id, 1, [api.milk(timedelta(hours=20))]) == "applied"
    offers = api.client.get(f"/api/v1/fridges/{fridge.fridge_id}/offers", headers=api.as_(fridge.password)).json()
    proposal_id = offers["body"]["offers"][0]["proposal_id"]
    tapped = api.client.post(
        f"/api/v1/proposals/{proposal_id}/accept",
        headers={**api.as_(fridge.password), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert tapped.status_code == 200, tapped.text
    return Bought(seller, fridge, tapped.json())


def notices(api: Api, fridge_id: str, order_id: str | None = None) -> list[dict[str, Any]]:
    """The `order_status` notices published to one fridge, oldest first (bodies only)."""
    found = []
    for target, channel, payload, retain in api.publisher.sent:
        if target != fridge_id or channel is not Channel.NOTICES:
            continue
        assert retain is False
        body: dict[str, Any] = json.loads(payload)["body"]
        if body["kind"] == "order_status" and (order_id is None or body["order_id"] == order_id):
            found.append(body)
    return found
