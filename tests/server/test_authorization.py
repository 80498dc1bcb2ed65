"""Every call checks who owns the object it touches; someone else's object is a 404."""

from __future__ import annotations

from datetime import timedelta

from tests.server.conftest import Api


def test_households_and_merchants_see_only_their_own(api: Api) -> None:
    m1, m2 = api.merchant("M1"), api.merchant("M2")
    a, b = api.fridge(), api.fridge()
    offer = api.milk_offer(m1)
    assert api.publish_inventory(a.fridge_id, 1, [api.milk(timedelta(hours=20))]) == "applied"
    proposal = api.client.get(f"/api/v1/fridges/{a.fridge_id}/offers", headers=api.as_(a.password)).json()
    proposal_id = proposal["body"]["offers"][0]["proposal_id"]

    # B may not see A's fridge, offers, nor buy A's proposal.
    for path in (f"/api/v1/fridges/{a.fridge_id}/inventory", f"/api/v1/fridges/{a.fridge_id}/offers"):
        denied = api.client.get(path, headers=api.as_(b.password))
        assert denied.status_code == 404
        assert denied.headers["content-type"].startswith("application/problem+json")
        assert denied.json()["status"] == 404
    stolen = api.client.post(
        f"/api/v1/proposals/{proposal_id}/accept", headers={**api.as_(b.password), "Idempotency-Key": "x"}
    )
    assert stolen.status_code == 404

    order = api.client.post(
        f"/api/v1/proposals/{proposal_id}/accept", headers={**api.as_(a.password), "Idempotency-Key": "k"}
    ).json()
    assert order["status"] == "paid"
    assert api.client.get(f"/api/v1/orders/{order['order_id']}", headers=api.as_(b.password)).status_code == 404
    assert api.client.get(f"/api/v1/orders/{order['order_id']}", headers=api.as_(m2.api_key)).status_code == 404
    assert api.client.get(f"/api/v1/orders/{order['order_id']}", headers=api.as_(m1.api_key)).status_code == 200
    assert api.client.get(f"/api/v1/orders/{order['order_id']}", headers=api.as_(a.password)).status_code == 200

    # M2 may not see M1's product or offer; merchants cannot read fridges.
    assert api.client.get(f"/api/v1/offers/{offer['id']}", headers=api.as_(m2.api_key)).status_code == 404
    assert api.client.get(f"/api/v1/products/{offer['product_id']}", headers=api.as_(m2.api_key)).status_code == 404
    assert api.client.get(f"/api/v1/offers/{offer['id']}", headers=api.as_(m1.api_key)).status_code == 200
    assert api.client.get(f"/api/v1/fridges/{a.fridge_id}/inventory", headers=api.as_(m1.api_key)).status_code == 404
    # M2 cannot build an offer on M1's product.
    hijack = api.client.post(
        "/api/v1/offers",
        headers=api.as_(m2.api_key),
        json={
            "product_id": offer["product_id"],
            "match": {"category": "dairy"},
            "trigger": {"kind": "expiring", "within_hours": 48},
        },
    )
    assert hijack.status_code == 404


def test_missing_wrong_and_malformed_tokens_are_401(api: Api) -> None:
    a = api.fridge()
    path = f"/api/v1/fridges/{a.fridge_id}/inventory"
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Bearer {a.password}x"},
        {"Authorization": "Basic abc"},
    ):
        response = api.client.get(path, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"].startswith("application/problem+json")


def test_writes_refuse_fields_the_caller_may_not_set(api: Api) -> None:
    m1 = api.merchant()
    response = api.client.post(
        "/api/v1/products",
        headers=api.as_(m1.api_key),
        json={
            "gtin": "09506000134352",
            "name": "Milk",
            "category": "dairy",
            "price": {"amount_minor": 100, "currency": "CNY"},
            "merchant_id": "m_someone_else",
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "merchant_id"
    bad_gtin = api.client.post(
        "/api/v1/products",
        headers=api.as_(m1.api_key),
        json={
            "gtin": "09506000134353",
            "name": "Milk",
            "category": "dairy",
            "price": {"amount_minor": 100, "currency": "CNY"},
        },
    )
    assert bad_gtin.status_code == 422


def test_accept_is_idempotent_and_never_charges_twice(api: Api) -> None:
    m1 = api.merchant()
    api.milk_offer(m1)
    a = api.fridge()
    api.publish_inventory(a.fridge_id, 1, [api.milk(timedelta(hours=20))])
    proposal_id = api.client.get(f"/api/v1/fridges/{a.fridge_id}/offers", headers=api.as_(a.password)).json()["body"][
        "offers"
    ][0]["proposal_id"]
    headers = {**api.as_(a.password), "Idempotency-Key": "tap-1"}
    orders = {
        api.client.post(f"/api/v1/proposals/{proposal_id}/accept", headers=headers).json()["order_id"] for _ in range(5)
    }
    assert len(orders) == 1
    assert api.services.payments.succeeded_charges() == 1  # type: ignore[attr-defined]
    missing_key = api.client.post(f"/api/v1/proposals/{proposal_id}/accept", headers=api.as_(a.password))
    assert missing_key.status_code == 422
    # The retained offers list published after the purchase is empty.
    last = api.publisher.sent[-1]
    assert last[0] == a.fridge_id and b'"offers":[]' in last[2] and last[3] is True
