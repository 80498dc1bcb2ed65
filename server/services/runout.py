"""Fill levels over time, and when each item will run out.

`record_fills` keeps the fill level each inventory snapshot reports (a change, or at most one
unchanged reading an hour, so a steady level still counts as "not being used"), and forgets
readings older than `RUNOUT_HISTORY`; `forecast_runouts` fits `freshtap.shelflife.forecast_runout`
to each item's readings. The run-out instant is stored on the inventory record (`runout_at`) and
feeds the offer planner's `runout` trigger.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from freshtap.server.store.history_models import FillReading
from freshtap.shelflife import forecast_runout

__all__ = ["FILL_RESAMPLE", "RUNOUT_HISTORY", "forecast_runouts", "record_fills"]

RUNOUT_HISTORY = timedelta(days=14)
"""Readings older than this are dropped: the forecast follows recent use, not last month's."""

FILL_RESAMPLE = timedelta(hours=1)
"""An unchanged fill level is stored again once this much time has passed since the last reading."""

_SAME_FILL = 1e-3




def record_fills(session: Session, fridge_id: str, fills: Mapping[str, float], at: datetime) -> int:
    """Store the fill levels observed at `at` (item id -> fill); returns how many were stored."""
    if not fills:
        return 0
    recent = session.exec(
        select(FillReading)
        .where(
            FillReading.fridge_id == fridge_id,
            col(FillReading.item_id).in_(list(fills)),
            col(FillReading.at) > at - FILL_RESAMPLE,
        )
        .order_by(col(FillReading.at))
    ).all()
    latest = {row.item_id: row for row in recent}  # the newest reading of each item, within the hour
    stored = 0
    for item_id, fill in fills.items():
        previous = latest.get(item_id)
        if previous is not None and (previous.at >= at or abs(previous.fill - fill) < _SAME_FILL):
            continue  # already have a newer reading, or the same level less than an hour ago
        session.add(FillReading(fridge_id=fridge_id, item_id=item_id, at=at, fill=fill))
        stored += 1
    session.execute(
        delete(FillReading).where(col(FillReading.fridge_id) == fridge_id, col(FillReading.at) < at - RUNOUT_HISTORY)
    )
    return stored


def forecast_runouts(
    session: Session, fridge_id: str, item_ids: Collection[str], now: datetime
) -> dict[str, datetime | None]:
    """When each item is forecast to run out, from its recent fill readings (None: no forecast)."""
    if not item_ids:
        return {}
    rows = session.exec(
        select(FillReading)
        .where(
            FillReading.fridge_id == fridge_id,
            col(FillReading.item_id).in_(list(item_ids)),
            col(FillReading.at) >= now - RUNOUT_HISTORY,
        )
        .order_by(col(FillReading.item_id), col(FillReading.at))
    ).all()
    series: dict[str, list[tuple[datetime, float]]] = {}
    for row in rows:
        series.setdefault(row.item_id, []).append((row.at, row.fill))
    return {item_id: forecast_runout(series.get(item_id, ()), now) for item_id in item_ids}
