"""Run-out forecasts from fill levels over time, stored on the record and firing `runout` offers on time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

from freshtap.server.store.history_models import FillReading
from tests.server.conftest import MILK_GTIN, Api
from tests.server.freshness_support import create_offer, create_product, item, last_offers, record, send

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FAR = date(2026, 12, 30)


def _snapshot(api: Api, fridge_id: str, seq: int, hours: float, fill: float | None) -> None:
    at = T0 + timedelta(hours=hours)
    api.clock.set(at)
    milk = item("milk-1", added_at=T0, label_expiry=FAR, fill=fill)
    assert send(api, fridge_id, "inventory", seq, {"items": [milk]}, at=at) == "applied"


def _readings(api: Api, fridge_id: str) -> list[tuple[datetime, float]]:
    with Session(api.services.engine) as session:
        rows = session.exec(
            select(FillReading).where(FillReading.fridge_id == fridge_id).order_by(col(FillReading.at))
        ).all()
    return [(r.at, r.fill) for r in rows]


def test_runout_is_forecast_and_its_offer_opens_at_the_crossing(api: Api) -> None:
    merchant = api.merchant()
    create_offer(api, merchant, create_product(api, merchant, MILK_GTIN), {"kind": "runout", "within_hours": 10})
    fridge = api.fridge()
    fid = fridge.fridge_id
    _snapshot(api, fid, 1, 0, 0.9)
    _snapshot(api, fid, 2, 6, 0.7)
    assert record(api, fid, "milk-1").runout_at is None  # two readings are not a trend
    _snapshot(api, fid, 3, 12, 0.5)  # 0.2 per 6 h: empty 27 h after T0
    runout = record(api, fid, "milk-1").runout_at
    assert runout is not None
    assert abs(runout - (T0 + timedelta(hours=27))) < timedelta(seconds=1)
    assert last_offers(api, fid) is None

    due = record(api, fid, "milk-1").next_check_at
    assert due == runout - timedelta(hours=10)
    api.clock.set(due - timedelta(seconds=1))
    assert api.services.ingest.refresh_due() == 0
    api.clock.set(due)
    assert api.services.ingest.refresh_due() == 1
    message = last_offers(api, fid)
    assert message is not None
    [offer] = message["body"]["offers"]
    assert offer["reason"] == {
        "kind": "runout", "text": "Whole milk 1 L runs out in about 10 h", "explanation": "the only matching offer"
    }

    # A refill starts a new series: no forecast, so the run-out offer is withdrawn.
    _snapshot(api, fid, 4, 18, 1.0)
    assert record(api, fid, "milk-1").runout_at is None
    message = last_offers(api, fid)
    assert message is not None and message["body"]["offers"] == []


def test_fill_history_keeps_changes_resamples_steady_levels_and_forgets_old_readings(api: Api) -> None:
    fridge = api.fridge()
    fid = fridge.fridge_id
    for seq, minutes in enumerate((0, 10, 20), start=1):
        _snapshot(api, fid, seq, minutes / 60, 0.5)
    assert _readings(api, fid) == [(T0, 0.5)]  # the same level within the hour is stored once
    _snapshot(api, fid, 4, 70 / 60, 0.5)  # an hour later: stored again, "not being used" counts
    _snapshot(api, fid, 5, 75 / 60, 0.45)  # a change: stored at once
    _snapshot(api, fid, 6, 76 / 60, None)  # unknown fill: nothing stored
    assert [fill for _, fill in _readings(api, fid)] == [0.5, 0.5, 0.45]

    _snapshot(api, fid, 7, 15 * 24, 0.4)  # two weeks on, the old readings are dropped
    assert _readings(api, fid) == [(T0 + timedelta(days=15), 0.4)]
