"""Time alone moves items and opens offers: the scheduler's `refresh_due`, at the service level.

No message arrives after the first snapshot; a `ManualClock` moves, `refresh_due` runs as the
scheduler's tick would, and the offer opens exactly when its trigger starts to hold — also for
triggers whose crossing is not a freshness transition, offers held back by quiet hours, and
offers held back by a weekly cap.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.server.conftest import MILK_GTIN, Api
from tests.server.freshness_support import (
    create_offer,
    create_product,
    item,
    last_offers,
    record,
    send,
    set_timezone,
)

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LABEL = date(2026, 11, 26)
EXPIRES = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # end of the label day, UTC


@pytest.mark.parametrize(("within_hours", "reason"), [(48.0, "expires in 2 days"), (30.0, "expires in 30 h")])
def test_the_offer_opens_at_the_crossing_with_no_message(api: Api, within_hours: float, reason: str) -> None:
    merchant = api.merchant()
    create_offer(
        api, merchant, create_product(api, merchant, MILK_GTIN), {"kind": "expiring", "within_hours": within_hours}
    )
    fridge = api.fridge()
    api.clock.set(T0)
    assert (
        send(api, fridge.fridge_id, "inventory", 1, {"items": [item("milk-1", added_at=T0, label_expiry=LABEL)]})
        == "applied"
    )
    assert last_offers(api, fridge.fridge_id) is None
    crossing = EXPIRES - timedelta(hours=within_hours)

    # The scheduler wakes for the item no later than the crossing, and nothing opens before it.
    wakes = 0
    while (due := record(api, fridge.fridge_id, "milk-1").next_check_at) is not None and due < crossing:
        api.clock.set(due)
        assert api.services.ingest.refresh_due() == 0
        wakes += 1
        assert wakes < 5
    assert record(api, fridge.fridge_id, "milk-1").next_check_at == crossing
    api.clock.set(crossing - timedelta(seconds=1))
    assert api.services.ingest.refresh_due() == 0
    assert last_offers(api, fridge.fridge_id) is None

    api.clock.set(crossing)
    assert api.services.ingest.refresh_due() == 1
    message = last_offers(api, fridge.fridge_id)
    assert message is not None
    assert message["at"] == crossing.isoformat().replace("+00:00", "Z")
    [offer] = message["body"]["offers"]
    assert offer["item_id"] == "milk-1"
    assert offer["reason"] == {
        "kind": "expiring", "text": f"Whole milk 1 L {reason}", "explanation": "the only matching offer"
    }
    # Nothing further to do at the same instant: the offer is live, the next wake is later.
    assert api.services.ingest.refresh_due() == 0
    assert record(api, fridge.fridge_id, "milk-1").next_check_at > crossing  # type: ignore[operator]


def test_states_move_with_time_alone(api: Api) -> None:
    fridge = api.fridge()
    api.clock.set(T0)
    send(api, fridge.fridge_id, "inventory", 1, {"items": [item("milk-1", added_at=T0, label_expiry=LABEL)]})

    def state() -> tuple[str, str]:
        body = api.client.get(f"/api/v1/fridges/{fridge.fridge_id}/inventory", headers=api.as_(fridge.password)).json()
        freshness = body["items"][0]["freshness"]
        return freshness["state"], freshness["explanation"]

    assert state()[0] == "use_soon"  # 60 h left
    steps = [
        (EXPIRES - timedelta(hours=48) + timedelta(microseconds=1), "expiring"),
        (EXPIRES, "expired"),  # expired from the deadline itself (<= 0 h left)
    ]
    for when, expected in steps:
        assert record(api, fridge.fridge_id, "milk-1").next_check_at == when
        api.clock.set(when - timedelta(microseconds=1))
        api.services.ingest.refresh_due()
        assert state()[0] != expected
        api.clock.set(when)
        api.services.ingest.refresh_due()
        assert state()[0] == expected
    assert state()[1].startswith("expired")
    assert record(api, fridge.fridge_id, "milk-1").next_check_at is None


def test_quiet_hours_hold_the_offer_until_they_end_in_household_time(api: Api) -> None:
    merchant = api.merchant()
    create_offer(
        api,
        merchant,
        create_product(api, merchant, MILK_GTIN),
        {"kind": "expiring", "within_hours": 29},
        quiet_hours={"start": "22:00", "end": "07:00"},
    )
    fridge = api.fridge()
    set_timezone(api, fridge.household_id, "Asia/Shanghai")  # UTC+8
    api.clock.set(T0)
    send(api, fridge.fridge_id, "inventory", 1, {"items": [item("milk-1", added_at=T0, label_expiry=LABEL)]})
    crossing = EXPIRES - timedelta(hours=29)  # 25 Nov 19:00 UTC = 26 Nov 03:00 in Shanghai: quiet
    quiet_end = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # 26 Nov 07:00 in Shanghai

    api.clock.set(crossing)
    api.services.ingest.refresh_due()
    due = record(api, fridge.fridge_id, "milk-1").next_check_at
    while due is not None and due < crossing:  # the expiring transition at 00:00 UTC came first
        api.clock.set(max(due, crossing))
        api.services.ingest.refresh_due()
        due = record(api, fridge.fridge_id, "milk-1").next_check_at
    assert last_offers(api, fridge.fridge_id) is None
    assert due == quiet_end

    api.clock.set(quiet_end - timedelta(seconds=1))
    assert api.services.ingest.refresh_due() == 0
    api.clock.set(quiet_end)
    assert api.services.ingest.refresh_due() == 1
    message = last_offers(api, fridge.fridge_id)
    assert message is not None and len(message["body"]["offers"]) == 1


def test_a_weekly_cap_holds_the_offer_until_the_oldest_proposal_is_a_week_old(api: Api) -> None:
    merchant = api.merchant()
    create_offer(
        api,
        merchant,
        create_product(api, merchant, MILK_GTIN),
        {"kind": "low_fill", "below": 0.25},
        max_per_household_per_week=1,
    )
    fridge = api.fridge()
    api.clock.set(T0)
    far = date(2026, 12, 30)
    items = [item(i, added_at=T0, label_expiry=far, fill=0.1) for i in ("milk-a", "milk-b")]
    send(api, fridge.fridge_id, "inventory", 1, {"items": items})
    message = last_offers(api, fridge.fridge_id)
    assert message is not None and [o["item_id"] for o in message["body"]["offers"]] == ["milk-a"]
    freed = T0 + timedelta(days=7, microseconds=1)
    assert record(api, fridge.fridge_id, "milk-b").next_check_at == freed

    # The proposal lapses after its TTL (24 h); the cap still holds, so nothing replaces it.
    api.clock.set(T0 + timedelta(days=1))
    assert api.services.ingest.refresh_due() == 1
    message = last_offers(api, fridge.fridge_id)
    assert message is not None and message["body"]["offers"] == []

    api.clock.set(freed - timedelta(microseconds=1))
    assert api.services.ingest.refresh_due() == 0
    api.clock.set(freed)
    assert api.services.ingest.refresh_due() == 1
    message = last_offers(api, fridge.fridge_id)
    assert message is not None and len(message["body"]["offers"]) == 1


def test_an_item_already_bought_is_not_offered_again(api: Api) -> None:
    merchant = api.merchant()
    create_offer(api, merchant, create_product(api, merchant, MILK_GTIN), {"kind": "expiring", "within_hours": 48})
    fridge = api.fridge()
    api.clock.set(T0)
    milk = item("milk-1", added_at=T0, label_expiry=date(2026, 11, 24))
    send(api, fridge.fridge_id, "inventory", 1, {"items": [milk]})
    message = last_offers(api, fridge.fridge_id)
    assert message is not None
    proposal_id = message["body"]["offers"][0]["proposal_id"]
    order = api.client.post(
        f"/api/v1/proposals/{proposal_id}/accept", headers={**api.as_(fridge.password), "Idempotency-Key": "tap-1"}
    )
    assert order.status_code == 200, order.text

    api.clock.set(T0 + timedelta(hours=1))
    send(api, fridge.fridge_id, "inventory", 2, {"items": [milk]})
    api.clock.set(T0 + timedelta(days=1, hours=1))  # past any TTL
    api.services.ingest.refresh_due()
    offers = api.client.get(f"/api/v1/fridges/{fridge.fridge_id}/offers", headers=api.as_(fridge.password)).json()
    assert offers["body"]["offers"] == []

    # A new carton (another item) is a new item: it may be offered again.
    api.clock.set(T0 + timedelta(days=1, hours=2))
    fresh = item("milk-2", added_at=api.clock.now(), label_expiry=date(2026, 11, 25))
    send(api, fridge.fridge_id, "inventory", 3, {"items": [milk, fresh]})
    offers = api.client.get(f"/api/v1/fridges/{fridge.fridge_id}/offers", headers=api.as_(fridge.password)).json()
    assert [o["item_id"] for o in offers["body"]["offers"]] == ["milk-2"]


def test_an_offer_created_after_the_snapshot_opens_at_its_own_crossing(api: Api) -> None:
    fridge = api.fridge()
    api.clock.set(T0)
    # Already expiring (36 h left): the next freshness transition is the expiry itself.
    milk = item("milk-1", added_at=T0, label_expiry=date(2026, 11, 24))
    send(api, fridge.fridge_id, "inventory", 1, {"items": [milk]})
    api.services.ingest.refresh_due()
    assert record(api, fridge.fridge_id, "milk-1").next_check_at == datetime(2026, 11, 25, tzinfo=UTC)

    api.clock.set(T0 + timedelta(hours=1))
    merchant = api.merchant()
    create_offer(api, merchant, create_product(api, merchant, MILK_GTIN), {"kind": "expiring", "within_hours": 30})
    crossing = datetime(2026, 11, 25, tzinfo=UTC) - timedelta(hours=30)
    assert api.services.ingest.refresh_due() == 0  # the first pass after the offer was created sees it
    assert record(api, fridge.fridge_id, "milk-1").next_check_at == crossing

    api.clock.set(crossing)
    assert api.services.ingest.refresh_due() == 1
    message = last_offers(api, fridge.fridge_id)
    assert message is not None and [o["item_id"] for o in message["body"]["offers"]] == ["milk-1"]
