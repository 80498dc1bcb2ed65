"""Shipments, out of stock, restock and the orders list over HTTP, on SQLite and PostgreSQL.

The real app and services (`api` fixture); inventory goes through the real ingest service; notices
are read from the `RecordingPublisher` the fridge's MQTT link would send them through.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import func, select

from freshtap.server.store.models import Proposal, SandboxCharge
from freshtap.server.store.payments_models import SandboxRefund
from tests.logistics.conftest import buy_milk, notices
from tests.server.conftest import Api


def _ship(api: Api, token: str, order_id: str, status: str, **extra: Any) -> Any:
    body = {"carrier": "SF Express", "tracking_number": "SF1234567890", "status": status, **extra}
    return api.client.post(f"/api/v1/orders/{order_id}/shipments", headers=api.as_(token), json=body)


def test_shipment_events_move_the_order_and_notify_the_fridge(api: Api) -> None:
    bought = buy_milk(api)
    key, order_id = bought.merchant.api_key, bought.order["order_id"]
    first = _ship(api, key, order_id, "in_transit", event_id="ev-1")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "in_transit" and first.json()["changed"] is True
    replay = _ship(api, key, order_id, "in_transit", event_id="ev-1")
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    api.clock.advance(timedelta(minutes=30))
    scan = _ship(api, key, order_id, "in_transit", event_id="ev-2")  # the next hub: recorded, no change
    assert scan.status_code == 201 and scan.json()["changed"] is False
    api.clock.advance(timedelta(hours=3))
    assert _ship(api, key, order_id, "delivered", event_id="ev-3").status_code == 201

    household = api.as_(bought.fridge.password)
    order = api.client.get(f"/api/v1/orders/{order_id}", headers=household).json()
    assert order["status"] == "delivered"
    assert order["payment"]["state"] == "succeeded"
    assert order["fulfilment"]["carrier"] == "SF Express" and order["fulfilment"]["delivered_at"]
    events = api.client.get(f"/api/v1/orders/{order_id}/shipments", headers=household).json()
    assert [e["event_id"] for e in events] == ["ev-1", "ev-2", "ev-3"]

    sent = [n for n in notices(api, bought.fridge.fridge_id, order_id) if "shipment" in n]
    assert [(n["status"], n["shipment"]["status"]) for n in sent] == [
        ("shipped", "in_transit"),
        ("delivered", "delivered"),
    ]
    assert "SF1234567890" in sent[0]["text"]["en"] and "运单号" in sent[0]["text"]["zh"]


def test_out_of_order_unpaid_and_reused_event_ids_are_refused(api: Api) -> None:
    bought = buy_milk(api)
    key, order_id = bought.merchant.api_key, bought.order["order_id"]
    assert _ship(api, key, order_id, "out_for_delivery").status_code == 201
    late = _ship(api, key, order_id, "label_created")
    assert late.status_code == 409 and late.headers["content-type"].startswith("application/problem+json")
    assert "out of order" in late.json()["detail"]
    assert _ship(api, key, order_id, "out_for_delivery", event_id="e").status_code == 201
    reused = _ship(api, key, order_id, "delivered", event_id="e")
    assert reused.status_code == 422
    bad = _ship(api, key, order_id, "teleported")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    naive = _ship(api, key, order_id, "delivered", at="2026-11-23T12:00:00")
    assert naive.status_code == 422

    declined = buy_milk(api, payment_method="pm_sandbox_declined", merchant=bought.merchant)
    assert declined.order["status"] == "declined"
    refused = _ship(api, key, declined.order["order_id"], "in_transit")
    assert refused.status_code == 409 and "only a paid order" in refused.json()["detail"]


def test_only_the_selling_merchant_ships_and_only_the_parties_read(api: Api) -> None:
    bought = buy_milk(api)
    order_id = bought.order["order_id"]
    stranger = api.merchant("Other shop")
    other_home = api.fridge()
    assert _ship(api, stranger.api_key, order_id, "in_transit").status_code == 404
    assert _ship(api, bought.fridge.password, order_id, "in_transit").status_code == 404  # households do not ship
    assert _ship(api, bought.merchant.api_key, "ord_nope", "in_transit").status_code == 404
    for token in (stranger.api_key, other_home.password):
        assert api.client.get(f"/api/v1/orders/{order_id}/shipments", headers=api.as_(token)).status_code == 404
        assert api.client.post(f"/api/v1/orders/{order_id}/out-of-stock", headers=api.as_(token)).status_code == 404
    assert (
        api.client.post(f"/api/v1/orders/{order_id}/out-of-stock", headers=api.as_(bought.fridge.password)).status_code
        == 404
    )
    assert api.client.get(f"/api/v1/orders/{order_id}/shipments").status_code == 401
    assert api.client.get(f"/api/v1/orders/{order_id}/shipments", headers=api.as_(bought.merchant.api_key)).json() == []


def test_restock_closes_a_delivered_order_once_when_the_fridge_sees_the_item(api: Api) -> None:
    bought = buy_milk(api)
    fridge, order_id = bought.fridge, bought.order["order_id"]
    household = api.as_(fridge.password)
    _ship(api, bought.merchant.api_key, order_id, "delivered")
    # The old milk is still there (added before the order): that is not the delivery.
    api.clock.advance(timedelta(minutes=5))
    assert api.publish_inventory(fridge.fridge_id, 2, [api.milk(timedelta(hours=19))]) == "applied"
    assert api.client.get(f"/api/v1/orders/{order_id}", headers=household).json()["status"] == "delivered"
    new_milk = api.milk(timedelta(days=7), item_id="milk-2")
    new_milk["added_at"] = api.clock.now().isoformat().replace("+00:00", "Z")
    api.clock.advance(timedelta(minutes=5))
    assert api.publish_inventory(fridge.fridge_id, 3, [api.milk(timedelta(hours=19)), new_milk]) == "applied"
    order = api.client.get(f"/api/v1/orders/{order_id}", headers=household).json()
    assert order["status"] == "restocked" and order["fulfilment"]["restocked_at"]
    api.clock.advance(timedelta(minutes=5))
    assert api.publish_inventory(fridge.fridge_id, 4, [new_milk]) == "applied"
    restocked = [n for n in notices(api, fridge.fridge_id, order_id) if n["status"] == "restocked"]
    assert len(restocked) == 1 and "in your fridge" in restocked[0]["text"]["en"]
    late = _ship(api, bought.merchant.api_key, order_id, "in_transit")
    assert late.status_code == 409


def test_out_of_stock_refunds_once_and_names_another_offer(api: Api) -> None:
    bought = buy_milk(api)
    fridge, order_id = bought.fridge, bought.order["order_id"]
    rival = api.merchant("Big Market")
    api.milk_offer(rival, price=990)
    gone = api.client.post(f"/api/v1/orders/{order_id}/out-of-stock", headers=api.as_(bought.merchant.api_key))
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "refunded" and gone.json()["fulfilment"]["status"] == "out_of_stock"
    alternative = gone.json()["fulfilment"]["alternative_proposal_id"]
    again = api.client.post(f"/api/v1/orders/{order_id}/out-of-stock", headers=api.as_(bought.merchant.api_key))
    assert again.status_code == 200 and again.json()["status"] == "refunded"
    with api.services.sessions() as session:
        assert session.exec(select(func.count()).select_from(SandboxCharge)).one() == 1
        assert session.exec(select(func.count()).select_from(SandboxRefund)).one() == 1
        proposal = session.get(Proposal, alternative)
        assert proposal is not None and proposal.status == "live" and proposal.merchant_id == rival.merchant_id
    (notice,) = [n for n in notices(api, fridge.fridge_id, order_id) if n.get("reason") == "out_of_stock"]
    assert notice["status"] == "refunded"
    assert notice["next_action"]["kind"] == "choose_other_offer"
    assert notice["next_action"]["proposal_id"] == alternative and notice["next_action"]["merchant"] == "Big Market"
    assert "Big Market" in notice["text"]["en"] and "缺货" in notice["text"]["zh"]
    offers = api.client.get(f"/api/v1/fridges/{fridge.fridge_id}/offers", headers=api.as_(fridge.password)).json()
    assert [o["proposal_id"] for o in offers["body"]["offers"]] == [alternative]
    shipped_late = _ship(api, bought.merchant.api_key, order_id, "in_transit")
    assert shipped_late.status_code == 409


def test_out_of_stock_with_no_other_offer_keeps_watching(api: Api) -> None:
    bought = buy_milk(api)
    order_id = bought.order["order_id"]
    gone = api.client.post(f"/api/v1/orders/{order_id}/out-of-stock", headers=api.as_(bought.merchant.api_key))
    assert gone.status_code == 200 and gone.json()["fulfilment"]["alternative_proposal_id"] is None
    (notice,) = [n for n in notices(api, bought.fridge.fridge_id, order_id) if n.get("reason") == "out_of_stock"]
    assert notice["next_action"] == {"kind": "watching"} and "keep watching" in notice["text"]["en"]
    # The out-of-stock product is not put back on the screen as the way forward.
    offers = api.client.get(
        f"/api/v1/fridges/{bought.fridge.fridge_id}/offers", headers=api.as_(bought.fridge.password)
    ).json()
    assert offers["body"]["offers"] == []
    shipped = buy_milk(api, merchant=bought.merchant)
    _ship(api, bought.merchant.api_key, shipped.order["order_id"], "in_transit")
    too_late = api.client.post(
        f"/api/v1/orders/{shipped.order['order_id']}/out-of-stock", headers=api.as_(bought.merchant.api_key)
    )
    assert too_late.status_code == 409


def test_a_declined_payment_notice_carries_the_way_forward(api: Api) -> None:
    declined = buy_milk(api, payment_method="pm_sandbox_declined")
    (notice,) = notices(api, declined.fridge.fridge_id, declined.order["order_id"])
    assert notice["status"] == "declined"
    assert notice["next_action"]["kind"] == "update_payment_method"
    assert "Update your payment method" in notice["text"]["en"] and "付款方式" in notice["text"]["zh"]


def test_the_orders_list_filters_and_pages(api: Api) -> None:
    merchant = api.merchant("Corner Dairy")
    api.milk_offer(merchant)
    bought = [buy_milk(api, merchant=merchant) for _ in range(5)]
    for _ in bought:
        api.clock.advance(timedelta(seconds=1))
    key = api.as_(merchant.api_key)
    _ship(api, merchant.api_key, bought[0].order["order_id"], "in_transit")
    _ship(api, merchant.api_key, bought[1].order["order_id"], "delivered")

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/api/v1/orders", headers=key, params=params)
        assert page.status_code == 200, page.text
        seen += [o["order_id"] for o in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(b.order["order_id"] for b in bought) and len(set(seen)) == 5

    def ids(**params: Any) -> list[str]:
        response = api.client.get("/api/v1/orders", headers=key, params=params)
        assert response.status_code == 200, response.text
        return [o["order_id"] for o in response.json()["items"]]

    assert ids(status="shipped") == [bought[0].order["order_id"]]
    assert ids(status="delivered") == [bought[1].order["order_id"]]
    assert len(ids(status="paid")) == 3
    assert ids(status="refunded") == []
    assert len(ids(since=api.clock.now().isoformat())) == 0
    mine = api.client.get("/api/v1/orders", headers=api.as_(bought[2].fridge.password)).json()["items"]
    assert [o["order_id"] for o in mine] == [bought[2].order["order_id"]]
    assert api.client.get("/api/v1/orders", headers=api.as_(api.merchant("Nobody").api_key)).json()["items"] == []

    for bad in ({"limit": 0}, {"limit": 201}, {"status": "lost"}, {"cursor": "bm9wZQ"}, {"cursor": "12.x.y!"}, {"since": "yesterday"}):
        refused = api.client.get("/api/v1/orders", headers=key, params=bad)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"].startswith("application/problem+json")
