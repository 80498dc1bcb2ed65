"""The merchant funnel (`GET /api/v1/merchant/funnel`): each stage counts the merchant's own objects
created in the window, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from freshtap.server.services.accounts import ProvisionedFridge
from tests.console.conftest import Api


def _stages(api: Api, token: str, days: int = 30) -> dict[str, int]:
    response = api.client.get(f"/api/v1/merchant/funnel?days={days}", headers=api.as_(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["days"] == days
    return {stage["key"]: stage["count"] for stage in body["stages"]}


def _live_proposal(api: Api, fridge: ProvisionedFridge) -> str:
    offers = api.client.get(f"/api/v1/fridges/{fridge.fridge_id}/offers", headers=api.as_(fridge.password))
    live = offers.json()["body"]["offers"]
    assert len(live) == 1, offers.text
    return str(live[0]["proposal_id"])


def test_the_funnel_counts_offers_shown_accepted_and_paid(api: Api) -> None:
    seller, rival = api.merchant("Seller"), api.merchant("Rival")
    api.milk_offer(seller)
    payer, decliner = api.fridge("pm_sandbox_ok"), api.fridge("pm_sandbox_declined")
    for fridge in (payer, decliner):
        assert api.publish_inventory(fridge.fridge_id, 1, [api.milk(timedelta(hours=20))]) == "applied"
        tap = api.client.post(
            f"/api/v1/proposals/{_live_proposal(api, fridge)}/accept",
            headers={**api.as_(fridge.password), "Idempotency-Key": f"tap-{fridge.fridge_id}"},
        )
        assert tap.status_code in (200, 402), tap.text

    stages = _stages(api, seller.api_key)
    assert list(stages) == ["shown", "accepted", "paid", "delivered", "restocked", "reviewed", "referral_orders"]
    assert stages["shown"] == 2 and stages["accepted"] == 2 and stages["paid"] == 1
    assert stages["delivered"] == stages["restocked"] == 0
    assert set(_stages(api, rival.api_key).values()) == {0}  # another merchant's funnel is its own

    # The paid order ships, arrives, and the fridge sees a new bottle: delivered, then restocked.
    (order,) = api.client.get("/api/v1/orders?status=paid", headers=api.as_(seller.api_key)).json()["items"]
    for status in ("in_transit", "delivered"):
        shipped = api.client.post(f"/api/v1/orders/{order['order_id']}/shipments", headers=api.as_(seller.api_key),
                                  json={"carrier": "SF", "tracking_number": "SF1", "status": status})
        assert shipped.status_code == 201, shipped.text
    assert _stages(api, seller.api_key)["delivered"] == 1
    assert _stages(api, seller.api_key)["restocked"] == 0
    api.clock.advance(timedelta(hours=3))
    fresh = {**api.milk(timedelta(days=7), item_id="milk-2"), "added_at": api.clock.now().isoformat()}
    assert api.publish_inventory(payer.fridge_id, 2, [api.milk(timedelta(hours=17)), fresh]) == "applied"
    stages = _stages(api, seller.api_key)
    assert (stages["paid"], stages["delivered"], stages["restocked"]) == (1, 1, 1)

    api.clock.advance(timedelta(days=8))
    assert set(_stages(api, seller.api_key, days=7).values()) == {0}
    assert _stages(api, seller.api_key, days=30)["accepted"] == 2


def test_the_funnel_is_for_merchants_and_checks_its_window(sqlite_api: Api) -> None:
    api = sqlite_api
    merchant, fridge = api.merchant(), api.fridge()
    assert api.client.get("/api/v1/merchant/funnel").status_code == 401
    assert api.client.get("/api/v1/merchant/funnel", headers=api.as_(fridge.password)).status_code == 404
    for days in ("0", "366", "x"):
        bad = api.client.get(f"/api/v1/merchant/funnel?days={days}", headers=api.as_(merchant.api_key))
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
