"""Per-product due-soon windows a household sets for its fridge, used as `due_soon_hours` by the model."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.server.conftest import MILK_GTIN, Api
from tests.server.freshness_support import YOGURT_GTIN, item, record, send

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # use by 26 Nov: 84 h after T0


def _state(api: Api, fridge_id: str, token: str) -> str:
    body = api.client.get(f"/api/v1/fridges/{fridge_id}/inventory", headers=api.as_(token)).json()
    state: str = body["items"][0]["freshness"]["state"]
    return state


def _put(api: Api, fridge_id: str, token: str, body: Any) -> Any:
    return api.client.put(f"/api/v1/fridges/{fridge_id}/due-soon", headers=api.as_(token), json=body)


def test_a_window_changes_the_state_at_once_and_the_next_wake(api: Api) -> None:
    fridge = api.fridge()
    fid = fridge.fridge_id
    api.clock.set(T0)
    send(api, fid, "inventory", 1, {"items": [item("milk-1", added_at=T0, label_expiry=date(2026, 11, 26))]})
    assert _state(api, fid, fridge.password) == "use_soon"  # 84 h < the default 96 h

    empty = api.client.get(f"/api/v1/fridges/{fid}/due-soon", headers=api.as_(fridge.password))
    assert empty.status_code == 200 and empty.json() == {"gtin": {}, "category": {}}

    put = _put(api, fid, fridge.password, {"gtin": {MILK_GTIN: 72}, "category": {" Dairy ": 100}})
    assert put.status_code == 200, put.text
    assert put.json() == {"gtin": {MILK_GTIN: 72.0}, "category": {"dairy": 100.0}}
    assert _state(api, fid, fridge.password) == "fresh"  # the GTIN's 72 h beats dairy's 100 h
    assert record(api, fid, "milk-1").next_check_at == EXPIRES - timedelta(hours=72) + timedelta(microseconds=1)

    # Time alone brings the item into the household's window.
    api.clock.set(EXPIRES - timedelta(hours=72) + timedelta(microseconds=1))
    api.services.ingest.refresh_due()
    assert _state(api, fid, fridge.password) == "use_soon"

    # PUT replaces the whole set: without the GTIN window, dairy's 100 h applies.
    assert _put(api, fid, fridge.password, {"category": {"dairy": 30}}).status_code == 200
    assert _state(api, fid, fridge.password) == "fresh"
    got = api.client.get(f"/api/v1/fridges/{fid}/due-soon", headers=api.as_(fridge.password)).json()
    assert got == {"gtin": {}, "category": {"dairy": 30.0}}


INVALID = [
    {"gtin": {"09506000134353": 24}},  # bad check digit
    {"gtin": {"123": 24}},
    {"gtin": {YOGURT_GTIN: 0}},
    {"category": {"dairy": -1}},
    {"category": {"dairy": 24 * 365 + 1}},
    {"category": {"": 24}},
    {"category": {"Dairy": 24, "dairy": 48}},
    {"category": {f"c{i}": 24 for i in range(201)}},
    {"gtin": {}, "household_id": "hh_other"},
    {"category": {"dairy": "24"}},
    [],
]


def test_invalid_windows_are_refused_and_nothing_changes(api: Api) -> None:
    fridge = api.fridge()
    assert _put(api, fridge.fridge_id, fridge.password, {"category": {"dairy": 12}}).status_code == 200
    for body in INVALID:
        refused = _put(api, fridge.fridge_id, fridge.password, body)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    got = api.client.get(f"/api/v1/fridges/{fridge.fridge_id}/due-soon", headers=api.as_(fridge.password)).json()
    assert got == {"gtin": {}, "category": {"dairy": 12.0}}


def test_only_the_fridges_household_reads_or_sets_its_windows(api: Api) -> None:
    mine, theirs = api.fridge(), api.fridge()
    merchant = api.merchant()
    path = f"/api/v1/fridges/{mine.fridge_id}/due-soon"
    for token in (theirs.password, merchant.api_key):
        assert api.client.get(path, headers=api.as_(token)).status_code == 404
        assert api.client.put(path, headers=api.as_(token), json={"category": {"dairy": 1}}).status_code == 404
    assert api.client.put(path, json={}).status_code == 401
    got = api.client.get(path, headers=api.as_(mine.password)).json()
    assert got == {"gtin": {}, "category": {}}
