"""Lookup by GTIN through the merchants' catalog: a merchant may say which FoodKeeper product a
GTIN is, and an item the model could not place by its name gets that product's shelf life."""

from __future__ import annotations

from datetime import timedelta

from freshtap.shelflife import find_product, product_by_id
from tests.server.conftest import Api

GTIN = "09506000134352"


def _item(api: Api) -> dict[str, object]:
    added = api.clock.now() - timedelta(days=1)
    return {"item_id": "x1", "gtin": GTIN, "name": "Item 4711", "category": "dairy", "quantity": 1,
            "unit": "pcs", "compartment": "fridge", "added_at": added.isoformat().replace("+00:00", "Z")}


def test_an_item_gets_the_reference_its_merchant_names_for_its_gtin(api: Api) -> None:
    assert find_product("Item 4711", "dairy") is None  # the name alone says nothing
    reference = find_product("Sour cream")
    assert reference is not None and reference.refrigerate is not None
    fridge = api.fridge()
    api.publish_inventory(fridge.fridge_id, 1, [_item(api)])
    path = f"/api/v1/fridges/{fridge.fridge_id}/inventory"
    before = api.client.get(path, headers=api.as_(fridge.password)).json()["items"][0]["freshness"]

    merchant = api.merchant()
    made = api.client.post("/api/v1/products", headers=api.as_(merchant.api_key), json={
        "gtin": GTIN, "name": "Sour cream 200 g", "category": "dairy",
        "price": {"amount_minor": 990, "currency": "CNY"}, "foodkeeper_product_id": reference.id})
    assert made.status_code == 201, made.text
    assert made.json()["foodkeeper_product_id"] == reference.id
    api.publish_inventory(fridge.fridge_id, 2, [_item(api)])
    after = api.client.get(path, headers=api.as_(fridge.password)).json()["items"][0]["freshness"]

    added = api.clock.now() - timedelta(days=1)
    expected = added + timedelta(hours=reference.refrigerate.min_hours)
    assert after["basis"] == "reference"
    assert after["expires_at"] == expected.isoformat().replace("+00:00", "Z")
    assert after["expires_at"] != before["expires_at"]
    assert "Sour cream" in after["explanation"]


def test_an_unknown_foodkeeper_product_is_refused(api: Api) -> None:
    merchant = api.merchant()
    assert product_by_id(99_999) is None
    response = api.client.post("/api/v1/products", headers=api.as_(merchant.api_key), json={
        "gtin": GTIN, "name": "Milk", "category": "dairy", "price": {"amount_minor": 1, "currency": "CNY"},
        "foodkeeper_product_id": 99_999})
    assert response.status_code == 404
