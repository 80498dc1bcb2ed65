"""A household's item history and waste report: what it used up, what it threw away, and what that cost.

The rules that classify an item that left, and how its value is found, are in
services/waste.py and docs/shelf-life.md ("Server").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from freshtap.contract import Money
from freshtap.server.api.deps import CurrentHousehold, OwnedFridge, ServicesDep
from freshtap.server.services.waste import MAX_REPORT_MONTHS, MonthWaste, WasteReport, WasteService
from freshtap.server.store.history_models import ItemHistory

router = APIRouter(prefix="/api/v1", tags=["household"])

Months = Annotated[int, Query(ge=1, le=MAX_REPORT_MONTHS, description="calendar months, this one included")]


class WastedItemPublic(BaseModel):
    history_id: int
    fridge_id: str
    item_id: str
    name: str
    gtin: str | None
    category: str
    removed_at: datetime
    expires_at: datetime | None
    fill: float | None
    wasted_fraction: float
    value: Money | None
    """The wasted part's value; null when no price is known for the product."""


class WasteMonthPublic(BaseModel):
    month: str
    """`YYYY-MM` in the household's time zone, or `total`."""
    used_up: int
    thrown_away: int
    taken_out: int
    waste_rate: float | None
    """thrown_away / (thrown_away + used_up); null when both are 0."""
    wasted_value: list[Money]
    """Value thrown away, one entry per currency; items of unknown value are not in it."""
    unpriced_thrown_away: int
    wasted_items: list[WastedItemPublic]


class WasteReportPublic(BaseModel):
    household_id: str
    fridge_id: str | None
    timezone: str
    since: datetime
    until: datetime
    months: list[WasteMonthPublic]
    total: WasteMonthPublic


class ItemHistoryPublic(BaseModel):
    history_id: int
    fridge_id: str
    item_id: str
    gtin: str | None
    name: str
    category: str
    added_at: datetime
    opened_at: datetime | None
    removed_at: datetime
    expires_at: datetime | None
    freshness_state: str
    fill: float | None
    outcome: Literal["used_up", "thrown_away", "taken_out"]
    wasted_fraction: float
    value: Money | None
    price_source: str | None
    via: str


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _money(amount: int | None, currency: str | None) -> Money | None:
    return Money(amount_minor=amount, currency=currency) if amount is not None and currency else None


def _month(month: MonthWaste) -> WasteMonthPublic:
    return WasteMonthPublic(
        month=month.month,
        used_up=month.used_up,
        thrown_away=month.thrown_away,
        taken_out=month.taken_out,
        waste_rate=month.waste_rate,
        wasted_value=[Money(amount_minor=v, currency=c) for c, v in month.wasted_value.items()],
        unpriced_thrown_away=month.unpriced_thrown_away,
        wasted_items=[
            WastedItemPublic(
                history_id=i.history_id,
                fridge_id=i.fridge_id,
                item_id=i.item_id,
                name=i.name,
                gtin=i.gtin,
                category=i.category,
                removed_at=i.removed_at,
                expires_at=i.expires_at,
                fill=i.fill,
                wasted_fraction=i.wasted_fraction,
                value=_money(i.value_minor, i.currency),
            )
            for i in month.wasted_items
        ],
    )


def _report(report: WasteReport) -> WasteReportPublic:
    return WasteReportPublic(
        household_id=report.household_id,
        fridge_id=report.fridge_id,
        timezone=report.timezone,
        since=report.since,
        until=report.until,
        months=[_month(m) for m in report.months],
        total=_month(report.total),
    )


def _history(row: ItemHistory) -> ItemHistoryPublic:
    return ItemHistoryPublic(
        history_id=row.id or 0,
        fridge_id=row.fridge_id,
        item_id=row.item_id,
        gtin=row.gtin,
        name=row.name,
        category=row.category,
        added_at=_utc(row.added_at),
        opened_at=_utc_or_none(row.opened_at),
        removed_at=_utc(row.removed_at),
        expires_at=_utc_or_none(row.expires_at),
        freshness_state=row.freshness_state,
        fill=row.fill,
        outcome=row.outcome,
        wasted_fraction=row.wasted_fraction,
        value=_money(row.value_minor, row.currency),
        price_source=row.price_source,
        via=row.via,
    )


def _waste(services: ServicesDep) -> WasteService:
    return WasteService(services.sessions, services.clock)


WasteDep = Annotated[WasteService, Depends(_waste)]


@router.get("/households/me/waste")
def household_waste(household: CurrentHousehold, waste: WasteDep, months: Months = 6) -> WasteReportPublic:
    """Items used up and thrown away, and the value thrown away, per month, over all the household's fridges."""
    return _report(waste.report(household.household_id, months))


@router.get("/fridges/{fridge_id}/waste")
def fridge_waste(fridge: OwnedFridge, waste: WasteDep, months: Months = 6) -> WasteReportPublic:
    """The waste report of one of the household's fridges."""
    return _report(waste.report(fridge.household_id, months, fridge_id=fridge.id))


@router.get("/households/me/history")
def household_history(
    household: CurrentHousehold,
    waste: WasteDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    outcome: Literal["used_up", "thrown_away", "taken_out"] | None = None,
) -> list[ItemHistoryPublic]:
    """Every item that left the household's fridges, newest first, with what became of it."""
    rows = waste.history(household.household_id, limit=limit, offset=offset, outcome=outcome)
    return [_history(r) for r in rows]
