"""The offer rules over HTTP, on SQLite and PostgreSQL: dismissal and cooldown, household opt-in
and mutes, discounts, validity windows, several merchants, FoodKeeper matches, offer edits, previews.

Inventory reaches the server through the real ingest service; the retained `offers` list each
change publishes is read from the recording publisher, exactly as a fridge would receive it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session, func, select

from freshtap.server.services import accounts
from freshtap.server.store.models import Proposal
from freshtap.shelflife import find_product
from tests.server.conftest import MILK_GTIN, Api, _z
from tests.server.freshness_support import last_offers, set_timezone


def _offer(api: Api, merchant: accounts.MerchantCreated, price: int = 1290, **extra: Any) -> dict[str, Any]:
    """A milk product (once per merchant) and an expiring-milk offer on it with `extra` fields."""
    headers = api.as_(merchant.api_key)
    api.client.post(
        "/api/v1/products",
        headers=headers,
        json={"gtin": MILK_GTIN, "name": "Whole milk 1 L", "category": "dairy",
              "price": {"amount_minor": price, "currency": "CNY"}},
    )
    body = {"gtin": MILK_GTIN, "match": {"gtin": MILK_GTIN}, "trigger": {"kind": "expiring", "within_hours": 48}}
    made = api.client.post("/api/v1/offers", headers=headers, json={**body, **extra})
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def _live(api: Api, fridge_id: str) -> list[dict[str, Any]]:
    message = last_offers(api, fridge_id)
    assert message is not None
    offers: list[dict[str, Any]] = message["body"]["offers"]
    return offers


def _proposals(api: Api) -> int:
    with Session(api.services.engine) as session:
        return int(session.exec(select(func.count()).select_from(Proposal)).one())


def test_dismissal_closes_republishes_and_cools_down(api: Api) -> None:
    merchant = api.merchant()
    offer = _offer(api, merchant, cooldown_hours_after_dismissal=2)
    assert offer["cooldown_hours_after_dismissal"] == 2
    fridge, other = api.fridge(), api.fridge()
    api.publish_inventory(fridge.fridge_id, 1, [api.milk(timedelta(hours=30))])
    [entry] = _live(api, fridge.fridge_id)
    path = f"/api/v1/proposals/{entry['proposal_id']}/dismiss"

    assert api.client.post(path, headers=api.as_(other.password)).status_code == 404
    assert api.client.post(path, headers=api.as_(merchant.api_key)).status_code == 404
    dismissed = api.client.post(path, headers=api.as_(fridge.password))
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["closed_at"] is not None
    assert _live(api, fridge.fridge_id) == []  # the retained list is empty, not stale
    again = api.client.post(path, headers=api.as_(fridge.password))
    assert again.status_code == 200 and again.json() == dismissed.json()
    bought = api.client.post(
        f"/api/v1/proposals/{entry['proposal_id']}/accept", headers={**api.as_(fridge.password), "Idempotency-Key": "k"}
    )
    assert bought.status_code == 409

    # Within the cooldown, new snapshots bring no proposal from that offer for milk ...
    api.clock.advance(timedelta(hours=1))
    api.publish_inventory(fridge.fridge_id, 2, [api.milk(timedelta(hours=29))])
    assert _live(api, fridge.fridge_id) == []
    # ... and the scheduler wakes the item when the cooldown ends.
    api.clock.advance(timedelta(hours=1, seconds=1))
    assert api.services.ingest.refresh_due() == 1
    [back] = _live(api, fridge.fridge_id)
    assert back["offer_id"] == offer["id"] and back["proposal_id"] != entry["proposal_id"]


def test_dismissing_an_accepted_or_expired_proposal_is_a_conflict(api: Api) -> None:
    merchant = api.merchant()
    _offer(api, merchant)
    fridge = api.fridge()
    api.publish_inventory(fridge.fridge_id, 1, [api.milk(timedelta(hours=20)), api.milk(timedelta(hours=20), "milk-2")])
    first, second = _live(api, fridge.fridge_id)
    headers = api.as_(fridge.password)
    paid = api.client.post(
        f"/api/v1/proposals/{first['proposal_id']}/accept", headers={**headers, "Idempotency-Key": "k1"}
    )
    assert paid.status_code == 200, paid.text
    refused = api.client.post(f"/api/v1/proposals/{first['proposal_id']}/dismiss", headers=headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    api.clock.advance(timedelta(hours=25))  # past the proposal's 24 h
    api.services.ingest.refresh_due()
    assert api.client.post(f"/api/v1/proposals/{second['proposal_id']}/dismiss", headers=headers).status_code == 409
    assert api.client.post("/api/v1/proposals/pr_nope/dismiss", headers=headers).status_code == 404


def test_opting_out_and_muting_withdraw_at_once(api: Api) -> None:
    merchant = api.merchant()
    _offer(api, merchant)
    fridge = api.fridge()
    path = "/api/v1/households/me/offer-preferences"
    headers = api.as_(fridge.password)
    assert api.client.get(path, headers=headers).json() == {"opted_in": True, "muted_categories": []}
    assert api.client.get(path, headers=api.as_(merchant.api_key)).status_code == 404
    api.publish_inventory(fridge.fridge_id, 1, [api.milk(timedelta(hours=20))])
    assert len(_live(api, fridge.fridge_id)) == 1

    out = api.client.put(path, headers=headers, json={"opted_in": False})
    assert out.status_code == 200 and out.json() == {"opted_in": False, "muted_categories": []}
    assert _live(api, fridge.fridge_id) == []
    api.publish_inventory(fridge.fridge_id, 2, [api.milk(timedelta(hours=19))])
    assert _live(api, fridge.fridge_id) == []

    muted = api.client.put(path, headers=headers, json={"opted_in": True, "muted_categories": ["Dairy", "dairy"]})
    assert muted.json() == {"opted_in": True, "muted_categories": ["dairy"]}
    assert _live(api, fridge.fridge_id) == []
    back = api.client.put(path, headers=headers, json={"opted_in": True, "muted_categories": []})
    assert back.status_code == 200
    assert len(_live(api, fridge.fridge_id)) == 1  # opting back in shows it again at once
    api.client.put(path, headers=headers, json={"opted_in": True, "muted_categories": ["dairy"]})
    assert _live(api, fridge.fridge_id) == []

    sneaky = api.client.put(path, headers=headers, json={"opted_in": True, "household_id": "hh_other"})
    assert sneaky.status_code == 422


def test_a_household_provisioned_without_offers_sees_none(api: Api) -> None:
    merchant = api.merchant()
    _offer(api, merchant)
    quiet = accounts.provision_fridge(api.services.sessions, api.clock, household_name="q", offers_opted_in=False)
    api.publish_inventory(quiet.fridge_id, 1, [api.milk(timedelta(hours=20))])
    assert last_offers(api, quiet.fridge_id) is None
    got = api.client.get("/api/v1/households/me/offer-preferences", headers=api.as_(quiet.password))
    assert got.json()["opted_in"] is False


def test_a_discount_sets_the_price_and_keeps_the_original(api: Api) -> None:
    m1, m2 = api.merchant("M1"), api.merchant("M2")
    pct = _offer(api, m1, discount={"kind": "percent", "percent": 15})
    assert pct["discount"] == {"kind": "percent", "percent": 15.0}
    fridge = api.fridge()
    api.publish_inventory(fridge.fridge_id, 1, [api.milk(timedelta(hours=20))])
    [entry] = _live(api, fridge.fridge_id)
    # 15 % of 12.90 is 1.935 -> 1.94 off (half up): 10.96.
    assert entry["price"] == {"amount_minor": 1096, "currency": "CNY"}
    assert entry["original_price"] == {"amount_minor": 1290, "currency": "CNY"}
    assert entry["reason"]["explanation"] == "the only matching offer"

    # An amount off larger than the price makes it free, never negative; the cheaper offer wins
    # the next item, and says why.
    _offer(api, m2, price=500, discount={"kind": "amount_off", "amount_minor": 900})
    api.publish_inventory(fridge.fridge_id, 2, [api.milk(timedelta(hours=20)), api.milk(timedelta(hours=20), "milk-2")])
    entries = {e["item_id"]: e for e in _live(api, fridge.fridge_id)}
    assert entries["milk-1"]["proposal_id"] == entry["proposal_id"]  # a live proposal is kept
    assert entries["milk-2"]["price"] == {"amount_minor": 0, "currency": "CNY"}
    assert entries["milk-2"]["merchant"]["name"] == "M2"
    assert entries["milk-2"]["reason"]["explanation"] == "cheapest of 2 matching offers"
    bad = api.client.post(
        "/api/v1/offers",
        headers=api.as_(m1.api_key),
        json={"gtin": MILK_GTIN, "match": {"gtin": MILK_GTIN}, "trigger": {"kind": "expiring", "within_hours": 48},
              "discount": {"kind": "percent", "percent": 150}},
    )
    assert bad.status_code == 422


def test_the_validity_window_opens_and_closes_proposals(api: Api) -> None:
    merchant = api.merchant()
    now = api.clock.now()
    opens, closes = now + timedelta(hours=1), now + timedelta(hours=3)
    offer = _offer(api, merchant, valid_from=_z(opens), valid_until=_z(closes))
    fridge = api.fridge()
    api.publish_inventory(fridge.fridge_id, 1, [api.milk(timedelta(hours=30))])
    assert last_offers(api, fridge.fridge_id) is None  # not yet valid

    api.clock.set(opens - timedelta(seconds=1))
    assert api.services.ingest.refresh_due() == 0
    api.clock.set(opens)
    assert api.services.ingest.refresh_due() == 1
    [entry] = _live(api, fridge.fridge_id)
    assert entry["offer_id"] == offer["id"]
    assert entry["expires_at"] == _z(closes)  # a proposal never outlives its offer

    api.clock.set(closes)
    assert api.services.ingest.refresh_due() == 1
    assert _live(api, fridge.fridge_id) == []

    backwards = api.client.post(
        "/api/v1/offers",
        headers=api.as_(merchant.api_key),
        json={"gtin": MILK_GTIN, "match": {"gtin": MILK_GTIN}, "trigger": {"kind": "expiring", "within_hours": 48},
              "valid_from": _z(closes), "valid_until": _z(opens)},
    )
    assert backwards.status_code == 201  # an empty window: accepted, and it never proposes
    empty = api.client.get(f"/api/v1/offers/{backwards.json()['id']}/preview", headers=api.as_(merchant.api_key))
    assert {m["blocked_by"] for m in empty.json()["matches"]} == {"outside_validity"}
    naive = api.client.post(
        "/api/v1/offers",
        headers=api.as_(merchant.api_key),
        json={"gtin": MILK_GTIN, "match": {"gtin": MILK_GTIN}, "trigger": {"kind": "expiring", "within_hours": 48},
              "valid_from": "2026-11-23T12:00:00"},
    )
    assert naive.status_code == 422


def test_a_foodkeeper_match_finds_items_through_the_catalog(api: Api) -> None:
    reference = find_product("Sour cream")
    assert reference is not None
    fridge = api.fridge()
    item = {**api.milk(timedelta(hours=20)), "name": "Item 4711"}
    api.publish_inventory(fridge.fridge_id, 1, [item])
    merchant = api.merchant()
    headers = api.as_(merchant.api_key)
    made = api.client.post("/api/v1/products", headers=headers, json={
        "gtin": MILK_GTIN, "name": "Sour cream 200 g", "category": "dairy",
        "price": {"amount_minor": 990, "currency": "CNY"}, "foodkeeper_product_id": reference.id})
    assert made.status_code == 201
    unknown = api.client.post("/api/v1/offers", headers=headers, json={
        "gtin": MILK_GTIN, "match": {"foodkeeper_product_id": 99_999}, "trigger": {"kind": "low_fill", "below": 0.9}})
    assert unknown.status_code == 404
    offer = api.client.post("/api/v1/offers", headers=headers, json={
        "gtin": MILK_GTIN, "match": {"foodkeeper_product_id": reference.id}, "trigger": {"kind": "low_fill", "below": 0.9}})
    assert offer.status_code == 201, offer.text
    assert offer.json()["match"] == {"foodkeeper_product_id": reference.id}
    # The new offer wakes the items it matches for the scheduler's next tick.
    assert api.services.ingest.refresh_due() == 1
    [entry] = _live(api, fridge.fridge_id)
    assert entry["offer_id"] == offer.json()["id"]


def test_patch_changes_allowed_fields_only_and_withdraws_at_once(api: Api) -> None:
    m1, m2 = api.merchant("M1"), api.merchant("M2")
    offer = _offer(api, m1)
    fridge = api.fridge()
    api.publish_inventory(fridge.fridge_id, 1, [api.milk(timedelta(hours=20))])
    assert len(_live(api, fridge.fridge_id)) == 1
    path = f"/api/v1/offers/{offer['id']}"

    injected = api.client.patch(path, headers=api.as_(m1.api_key), json={"merchant_id": m2.merchant_id})
    assert injected.status_code == 422
    injected = api.client.patch(path, headers=api.as_(m1.api_key), json={"status": "accepted", "active": False})
    assert injected.status_code == 422
    assert api.client.patch(path, headers=api.as_(m2.api_key), json={"active": False}).status_code == 404
    assert api.client.patch(path, headers=api.as_(fridge.password), json={"active": False}).status_code == 404
    assert api.client.get(path, headers=api.as_(m1.api_key)).json()["merchant_id"] == m1.merchant_id

    off = api.client.patch(path, headers=api.as_(m1.api_key), json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    assert _live(api, fridge.fridge_id) == []  # withdrawn within the request

    on = api.client.patch(
        path,
        headers=api.as_(m1.api_key),
        json={"active": True, "price": {"amount_minor": 1000, "currency": "CNY"},
              "discount": {"kind": "amount_off", "amount_minor": 100}, "max_per_household_per_week": 5,
              "quiet_hours": {"start": "22:00", "end": "07:00"}, "cooldown_hours_after_dismissal": 1},
    )
    assert on.status_code == 200, on.text
    body = on.json()
    assert body["price"] == {"amount_minor": 1000, "currency": "CNY"}
    assert body["discount"] == {"kind": "amount_off", "amount_minor": 100}
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert (body["max_per_household_per_week"], body["cooldown_hours_after_dismissal"]) == (5, 1)
    assert body["updated_at"] is not None
    assert api.services.ingest.refresh_due() == 1  # reactivation woke the item
    [entry] = _live(api, fridge.fridge_id)
    assert entry["price"]["amount_minor"] == 900

    cleared = api.client.patch(path, headers=api.as_(m1.api_key), json={"discount": None, "quiet_hours": None})
    assert cleared.json()["discount"] is None and cleared.json()["quiet_hours"] is None
    assert cleared.json()["price"] == {"amount_minor": 1000, "currency": "CNY"}  # untouched
    until = api.clock.now() - timedelta(hours=1)
    closed = api.client.patch(path, headers=api.as_(m1.api_key), json={"valid_until": _z(until)})
    assert closed.status_code == 200
    assert _live(api, fridge.fridge_id) == []  # outside its window now: withdrawn at once
    naive = api.client.patch(path, headers=api.as_(m1.api_key), json={"valid_from": "2026-11-23T12:00:00"})
    assert naive.status_code == 422


def test_preview_explains_every_match_and_writes_nothing(api: Api) -> None:
    m1, m2 = api.merchant("M1"), api.merchant("M2")
    cheap = _offer(api, m2, price=900)
    offer = _offer(api, m1, quiet_hours={"start": "09:00", "end": "10:00"}, active=False)
    a, b, c = api.fridge(), api.fridge(), api.fridge()
    set_timezone(api, c.household_id, "Asia/Shanghai")  # 20:00 there: inside 20:00-21:00 below
    api.publish_inventory(a.fridge_id, 1, [api.milk(timedelta(hours=20))])
    api.publish_inventory(b.fridge_id, 1, [api.milk(timedelta(hours=90))])  # not triggered: not listed
    api.publish_inventory(c.fridge_id, 1, [api.milk(timedelta(hours=20))])
    before = _proposals(api)
    sent = len(api.publisher.sent)

    got = api.client.get(f"/api/v1/offers/{offer['id']}/preview", headers=api.as_(m1.api_key))
    assert got.status_code == 200, got.text
    preview = got.json()
    assert (preview["eligible"], preview["total"]) == (0, 2)
    by_fridge = {m["fridge_id"]: m for m in preview["matches"]}
    assert set(by_fridge) == {a.fridge_id, c.fridge_id}
    assert by_fridge[a.fridge_id]["blocked_by"] == "better_offer"  # M2's live proposal holds the item
    assert by_fridge[a.fridge_id]["item"] == {
        "item_id": "milk-1", "name": "Whole milk 1 L", "gtin": MILK_GTIN, "category": "dairy"
    }
    assert by_fridge[a.fridge_id]["price"] == {"amount_minor": 1290, "currency": "CNY"}
    assert by_fridge[a.fridge_id]["reason"]["kind"] == "expiring"
    assert "home" not in got.text  # no household names, only fridge ids

    # A draft that would undercut M2 at a time outside its quiet hours: eligible where no proposal is live.
    api.client.put("/api/v1/households/me/offer-preferences", headers=api.as_(c.password),
                   json={"opted_in": True, "muted_categories": []})
    draft = {"gtin": MILK_GTIN, "match": {"category": "Dairy"}, "trigger": {"kind": "expiring", "within_hours": 48},
             "price": {"amount_minor": 800, "currency": "CNY"}, "quiet_hours": {"start": "20:00", "end": "21:00"}}
    dry = api.client.post("/api/v1/offers/preview", headers=api.as_(m1.api_key), json=draft)
    assert dry.status_code == 200, dry.text
    blocked = {m["fridge_id"]: m["blocked_by"] for m in dry.json()["matches"]}
    assert blocked == {a.fridge_id: "better_offer", c.fridge_id: "better_offer"}
    with Session(api.services.engine) as session:
        for p in session.exec(select(Proposal)).all():
            p.status = "expired"
            session.add(p)
        session.commit()
    dry = api.client.post("/api/v1/offers/preview", headers=api.as_(m1.api_key), json=draft).json()
    blocked = {m["fridge_id"]: (m["eligible"], m["blocked_by"]) for m in dry["matches"]}
    assert blocked == {a.fridge_id: (True, None), c.fridge_id: (False, "quiet_hours")}
    assert dry["eligible"] == 1
    assert [m["explanation"] for m in dry["matches"] if m["eligible"]] == ["cheapest of 2 matching offers"]
    assert _proposals(api) == before  # previews write nothing
    assert len(api.publisher.sent) == sent

    assert api.client.get(f"/api/v1/offers/{cheap['id']}/preview", headers=api.as_(m1.api_key)).status_code == 404
    assert api.client.get(f"/api/v1/offers/{offer['id']}/preview", headers=api.as_(a.password)).status_code == 404
    foreign = api.client.post("/api/v1/offers/preview", headers=api.as_(m1.api_key),
                              json={**draft, "gtin": None, "product_id": cheap["product_id"]})
    assert foreign.status_code == 404
