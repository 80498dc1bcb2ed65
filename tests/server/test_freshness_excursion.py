"""Telemetry reassesses a fridge when a reading can move a deadline, including the one that ends an excursion.

A reading holds until the next one, so a warm span only exists once the next reading closes
it: the cool reading that ends an excursion is what makes its last stretch count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.server.conftest import MILK_GTIN, Api
from tests.server.freshness_support import create_offer, create_product, item, last_offers, record, send

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _telemetry(fridge: float | None = None, freezer: float | None = None) -> dict[str, Any]:
    compartments = []
    if fridge is not None:
        compartments.append({"id": "fridge", "temp_c": fridge})
    if freezer is not None:
        compartments.append({"id": "freezer", "temp_c": freezer})
    return {"compartments": compartments, "door_open": False}


def _reading(api: Api, fridge_id: str, seq: int, hours: float, **temps: float) -> None:
    at = T0 + timedelta(hours=hours)
    api.clock.set(at)
    assert send(api, fridge_id, "telemetry", seq, _telemetry(**temps), at=at) == "applied"


def test_the_reading_that_ends_an_excursion_moves_the_deadline_and_opens_the_offer(api: Api) -> None:
    merchant = api.merchant()
    create_offer(api, merchant, create_product(api, merchant, MILK_GTIN), {"kind": "expiring", "within_hours": 40})
    fridge = api.fridge()
    fid = fridge.fridge_id
    api.clock.set(T0)
    # Use by 25 Nov: expires 26 Nov 00:00 UTC, 60 h from T0.
    send(api, fid, "inventory", 1, {"items": [item("milk-1", added_at=T0, label_expiry=date(2026, 11, 25))]})
    nominal = record(api, fid, "milk-1").expires_at

    _reading(api, fid, 2, 0, fridge=3.0)
    _reading(api, fid, 3, 1, fridge=20.0)  # the excursion starts; no span yet
    assert record(api, fid, "milk-1").expires_at == nominal
    _reading(api, fid, 4, 3, fridge=20.0)  # 1-3 h at 20 °C now counts
    during = record(api, fid, "milk-1").expires_at
    assert during is not None and nominal is not None and during < nominal
    assert last_offers(api, fid) is None  # still more than 40 h left

    _reading(api, fid, 5, 5, fridge=3.0)  # back to normal: 3-5 h at 20 °C counts only now
    after = record(api, fid, "milk-1")
    assert after.expires_at is not None and after.expires_at < during
    assert after.basis == "temperature"
    assert "4 h above 4 °C (up to 20 °C)" in after.explanation
    message = last_offers(api, fid)
    assert message is not None and [o["item_id"] for o in message["body"]["offers"]] == ["milk-1"]

    # Steady readings at fridge temperature change nothing and cost no reassessment.
    updated = after.updated_at
    _reading(api, fid, 6, 6, fridge=3.0)
    _reading(api, fid, 7, 7, fridge=3.5)
    assert record(api, fid, "milk-1").updated_at == updated


def test_a_freezer_that_warms_up_shortens_life(api: Api) -> None:
    fridge = api.fridge()
    fid = fridge.fridge_id
    api.clock.set(T0)
    peas = item(
        "peas-1",
        added_at=T0,
        label_expiry=date(2026, 12, 20),
        gtin=None,
        name="Frozen peas",
        category="frozen",
        compartment="freezer",
    )
    send(api, fid, "inventory", 1, {"items": [peas]})
    nominal = record(api, fid, "peas-1").expires_at
    _reading(api, fid, 2, 0, freezer=-18.0)
    _reading(api, fid, 3, 1, freezer=15.0)  # a power cut
    _reading(api, fid, 4, 3, freezer=15.0)
    during = record(api, fid, "peas-1").expires_at
    _reading(api, fid, 5, 5, freezer=-18.0)
    after = record(api, fid, "peas-1").expires_at
    assert nominal is not None and during is not None and after is not None
    assert during < nominal
    assert after < during


def test_a_late_cool_reading_inside_an_excursion_gives_time_back(api: Api) -> None:
    fridge = api.fridge()
    fid = fridge.fridge_id
    api.clock.set(T0)
    send(api, fid, "inventory", 1, {"items": [item("milk-1", added_at=T0, label_expiry=date(2026, 11, 30))]})
    _reading(api, fid, 2, 0, fridge=15.0)
    _reading(api, fid, 3, 2, fridge=15.0)
    _reading(api, fid, 4, 4, fridge=3.0)
    before = record(api, fid, "milk-1").expires_at
    # A reading delayed in the device's queue arrives last: the fridge was cool from 1 h to 2 h.
    late = T0 + timedelta(hours=1)
    api.clock.set(T0 + timedelta(hours=5))
    assert send(api, fid, "telemetry", 5, _telemetry(fridge=3.0), at=late) == "applied"
    after = record(api, fid, "milk-1").expires_at
    assert before is not None and after is not None and after > before
