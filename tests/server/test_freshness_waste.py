"""Item history (used up, thrown away, taken out) and the household's waste report, over HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from freshtap.server.services import accounts
from freshtap.server.services.waste import classify_departure
from tests.server.conftest import MILK_GTIN, Api
from tests.server.freshness_support import (
    JUICE_GTIN,
    YOGURT_GTIN,
    create_offer,
    create_product,
    history,
    item,
    last_offers,
    send,
    set_timezone,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SOON = date(2026, 11, 28)
PAST = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("state", "fill", "outcome", "wasted"),
    [
        ("fresh", None, "used_up", 0.0),
        ("use_soon", 0.25, "used_up", 0.0),
        ("expiring", 0.1, "used_up", 0.0),
        ("fresh", 0.26, "taken_out", 0.0),
        ("expiring", 0.9, "taken_out", 0.0),
        ("expired", None, "thrown_away", 1.0),
        ("expired", 0.6, "thrown_away", 0.6),
        ("expired", 0.06, "thrown_away", 0.06),
        ("expired", 0.05, "used_up", 0.0),
        ("expired", 0.0, "used_up", 0.0),
    ],
)
def test_classification_rule(state: str, fill: float | None, outcome: str, wasted: float) -> None:
    assert classify_departure(state, fill) == (outcome, wasted)


def _get(api: Api, path: str, token: str, **params: Any) -> Any:
    response = api.client.get(path, headers=api.as_(token), params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_items_that_leave_are_classified_and_priced_and_reported_per_month(api: Api) -> None:
    m1, m2 = api.merchant("Dairy"), api.merchant("Cheap dairy")
    create_product(api, m1, MILK_GTIN, price=1290)
    create_product(api, m2, MILK_GTIN, price=990)  # the lowest listed price values waste
    create_product(api, m1, YOGURT_GTIN, price=500, name="Yogurt")
    fridge = api.fridge()
    fid = fridge.fridge_id
    api.clock.set(T0)
    added = T0 - timedelta(days=4)
    items = [
        item("milk-eaten", added_at=added, label_expiry=SOON, fill=0.1),
        item("milk-half", added_at=added, label_expiry=SOON, fill=0.8),
        item("milk-empty", added_at=added, label_expiry=PAST, fill=0.02),
        item("milk-binned", added_at=added, label_expiry=PAST, fill=0.5),
        item("yog-binned", added_at=added, label_expiry=PAST, fill=0.6, gtin=YOGURT_GTIN, name="Yogurt"),
        item("juice-binned", added_at=added, label_expiry=PAST, fill=None, gtin=JUICE_GTIN, name="Juice"),
    ]
    send(api, fid, "inventory", 1, {"items": items})
    api.clock.set(T0 + timedelta(hours=1))
    send(api, fid, "inventory", 2, {"items": []})

    rows = {r.item_id: r for r in history(api, fid)}
    assert {k: (r.outcome, r.wasted_fraction) for k, r in rows.items()} == {
        "milk-eaten": ("used_up", 0.0),
        "milk-half": ("taken_out", 0.0),
        "milk-empty": ("used_up", 0.0),
        "milk-binned": ("thrown_away", 0.5),
        "yog-binned": ("thrown_away", 0.6),
        "juice-binned": ("thrown_away", 1.0),
    }
    assert (rows["milk-binned"].value_minor, rows["milk-binned"].currency) == (495, "CNY")
    assert rows["milk-binned"].price_source == "catalog"
    assert rows["yog-binned"].value_minor == 300
    assert rows["juice-binned"].value_minor is None and rows["juice-binned"].price_source is None
    assert all(r.via == "snapshot" and r.removed_at == T0 + timedelta(hours=1) for r in rows.values())
    assert rows["milk-binned"].freshness_state == "expired"

    report = _get(api, "/api/v1/households/me/waste", fridge.password, months=2)
    assert [m["month"] for m in report["months"]] == ["2026-10", "2026-11"]
    october, november = report["months"]
    assert (october["used_up"], october["thrown_away"], october["wasted_value"]) == (0, 0, [])
    assert october["waste_rate"] is None
    assert (november["used_up"], november["thrown_away"], november["taken_out"]) == (2, 3, 1)
    assert november["wasted_value"] == [{"amount_minor": 795, "currency": "CNY"}]
    assert november["unpriced_thrown_away"] == 1
    assert november["waste_rate"] == pytest.approx(0.6)
    assert sorted(w["item_id"] for w in november["wasted_items"]) == ["juice-binned", "milk-binned", "yog-binned"]
    juice = next(w for w in november["wasted_items"] if w["item_id"] == "juice-binned")
    assert juice["value"] is None and juice["wasted_fraction"] == 1.0
    assert report["total"]["thrown_away"] == 3 and report["total"]["wasted_items"] == []
    assert report["timezone"] == "UTC" and report["since"] == "2026-10-01T00:00:00Z"

    listed = _get(api, "/api/v1/households/me/history", fridge.password, outcome="thrown_away")
    assert sorted(r["item_id"] for r in listed) == ["juice-binned", "milk-binned", "yog-binned"]
    values = {r["item_id"]: r["value"] for r in listed}
    assert values["milk-binned"] == {"amount_minor": 495, "currency": "CNY"} and values["juice-binned"] is None
    assert len(_get(api, "/api/v1/households/me/history", fridge.password)) == 6
    assert len(_get(api, "/api/v1/households/me/history", fridge.password, limit=2)) == 2


def test_removal_by_event_is_filed_once_and_a_returning_item_cancels_its_departure(api: Api) -> None:
    fridge = api.fridge()
    fid = fridge.fridge_id
    api.clock.set(T0)
    milk = item("milk-1", added_at=T0 - timedelta(days=1), label_expiry=SOON, fill=0.2)
    cheese = item("cheese-1", added_at=T0 - timedelta(days=1), label_expiry=SOON, fill=0.9, gtin=None, name="Cheese")
    send(api, fid, "inventory", 1, {"items": [milk, cheese]})

    removed = {"kind": "item_removed", "item_id": "milk-1", "detail": {}}
    assert send(api, fid, "event", 2, removed) == "applied"
    assert send(api, fid, "event", 2, removed) == "duplicate"
    send(api, fid, "inventory", 3, {"items": [cheese]})  # the snapshot agrees: no second row
    [row] = history(api, fid)
    assert (row.item_id, row.via, row.outcome) == ("milk-1", "event", "used_up")

    # Cheese taken out for lunch and put back: it was never gone.
    send(api, fid, "inventory", 4, {"items": []})
    assert {r.item_id for r in history(api, fid)} == {"milk-1", "cheese-1"}
    send(api, fid, "inventory", 5, {"items": [cheese]})
    assert {r.item_id for r in history(api, fid)} == {"milk-1"}

    # The same item id on a different item (another added_at) does not erase the old one's history.
    other_milk = item("milk-1", added_at=T0, label_expiry=SOON, fill=1.0)
    send(api, fid, "inventory", 6, {"items": [cheese, other_milk]})
    assert {r.item_id for r in history(api, fid)} == {"milk-1"}


def test_waste_is_priced_at_what_the_household_paid(api: Api) -> None:
    m1, m2 = api.merchant("Dairy"), api.merchant("Cheap dairy")
    create_offer(api, m1, create_product(api, m1, MILK_GTIN, price=1290), {"kind": "expiring", "within_hours": 48})
    create_product(api, m2, MILK_GTIN, price=990)
    buyer, other = api.fridge(), api.fridge()
    api.clock.set(T0)
    milk = item("milk-1", added_at=T0 - timedelta(days=3), label_expiry=date(2026, 11, 24), fill=1.0)
    for fridge in (buyer, other):
        send(api, fridge.fridge_id, "inventory", 1, {"items": [milk]})
    message = last_offers(api, buyer.fridge_id)
    assert message is not None
    order = api.client.post(
        f"/api/v1/proposals/{message['body']['offers'][0]['proposal_id']}/accept",
        headers={**api.as_(buyer.password), "Idempotency-Key": "tap"},
    )
    assert order.status_code == 200 and order.json()["status"] == "paid", order.text

    api.clock.set(T0 + timedelta(days=2))  # the carton expired on 25 Nov 00:00 UTC and goes in the bin
    for fridge in (buyer, other):
        send(api, fridge.fridge_id, "inventory", 2, {"items": []})
    [bought] = history(api, buyer.fridge_id)
    [listed] = history(api, other.fridge_id)
    assert (bought.outcome, bought.value_minor, bought.price_source) == ("thrown_away", 1290, "order")
    assert (listed.outcome, listed.value_minor, listed.price_source) == ("thrown_away", 990, "catalog")


def test_months_follow_the_household_time_zone_and_fridges_add_up(api: Api) -> None:
    create_product(api, api.merchant(), MILK_GTIN, price=1000)
    first = api.fridge()
    second = accounts.provision_fridge(api.services.sessions, api.clock, household_id=first.household_id)
    set_timezone(api, first.household_id, "Asia/Shanghai")
    late = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # 1 Dec 04:00 in Shanghai
    api.clock.set(late - timedelta(hours=1))
    for fridge in (first, second):
        milk = item("milk-1", added_at=late - timedelta(days=9), label_expiry=PAST, fill=None)
        send(api, fridge.fridge_id, "inventory", 1, {"items": [milk]})
    api.clock.set(late)
    send(api, first.fridge_id, "inventory", 2, {"items": []})
    api.clock.set(late + timedelta(days=1))
    send(api, second.fridge_id, "inventory", 2, {"items": []})

    report = _get(api, "/api/v1/households/me/waste", second.password, months=2)
    assert report["timezone"] == "Asia/Shanghai"
    assert report["since"] == "2026-10-31T16:00:00Z"  # 1 Nov 00:00 in Shanghai
    assert [(m["month"], m["thrown_away"]) for m in report["months"]] == [("2026-11", 0), ("2026-12", 2)]
    assert report["total"]["wasted_value"] == [{"amount_minor": 2000, "currency": "CNY"}]

    one = _get(api, f"/api/v1/fridges/{first.fridge_id}/waste", first.password, months=1)
    assert one["fridge_id"] == first.fridge_id
    assert [(m["month"], m["thrown_away"]) for m in one["months"]] == [("2026-12", 1)]


def test_only_the_household_sees_its_waste(api: Api) -> None:
    mine, theirs = api.fridge(), api.fridge()
    merchant = api.merchant()
    for path in (f"/api/v1/fridges/{mine.fridge_id}/waste",):
        assert api.client.get(path, headers=api.as_(theirs.password)).status_code == 404
        assert api.client.get(path, headers=api.as_(merchant.api_key)).status_code == 404
        assert api.client.get(path).status_code == 401
    for path in ("/api/v1/households/me/waste", "/api/v1/households/me/history"):
        denied = api.client.get(path, headers=api.as_(merchant.api_key))
        assert denied.status_code == 404
        assert denied.headers["content-type"].startswith("application/problem+json")
    for months in (0, 25, "x"):
        bad = api.client.get("/api/v1/households/me/waste", headers=api.as_(mine.password), params={"months": months})
        assert bad.status_code == 422
