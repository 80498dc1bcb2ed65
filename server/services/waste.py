"""What became of each item that left a fridge, and the household's waste report.

When an item leaves (it is missing from an inventory snapshot, or an `item_removed` event names
it), `record_departures` reassesses it at the moment it left and files one `ItemHistory` row,
classified by `classify_departure`:

- **thrown away**: it was `expired` when it left and had more than `EMPTY_FILL` left (or its
  fill is unknown). The wasted part is its last fill level, or the whole item when unknown.
- **used up**: it was not expired and its last fill was at most `USED_UP_FILL` or unknown; or
  it was expired but (nearly) empty: the food was eaten, only the package went.
- **taken out**: it left before expiry with more than `USED_UP_FILL` left. The fridge cannot
  tell whether it was eaten, moved or binned, so it counts as neither use nor waste.

An item that comes back (the same `item_id` and `added_at` in a later snapshot) was not gone:
its row is deleted (`cancel_departure`).

The wasted part is priced when it leaves, so later price changes do not rewrite history: the
price of the household's latest paid order for that GTIN, else the lowest price any merchant
lists for it; no GTIN or no listing leaves the value unknown (None). `WasteService.report`
sums the rows per calendar month in the household's time zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.contract import FreshnessState
from freshtap.server.services.freshness import (
    catalog_references,
    load_windows,
    refresh_item_freshness,
    temperature_history,
)
from freshtap.server.store.history_models import ItemHistory
from freshtap.server.store.models import Fridge, Household, InventoryRecord, Order, Product
from freshtap.settings import Settings

__all__ = [
    "EMPTY_FILL",
    "MAX_REPORT_MONTHS",
    "USED_UP_FILL",
    "DepartureOutcome",
    "MonthWaste",
    "WasteReport",
    "WasteService",
    "WastedItem",
    "cancel_departure",
    "classify_departure",
    "record_departures",
]

USED_UP_FILL = 0.25
"""An unexpired item that leaves with at most this much left was used up."""

EMPTY_FILL = 0.05
"""An expired item that leaves with at most this much left was (nearly) empty: not waste."""

MAX_REPORT_MONTHS = 24

DepartureOutcome = Literal["used_up", "thrown_away", "taken_out"]
Via = Literal["snapshot", "event"]


def classify_departure(state: str, fill: float | None) -> tuple[DepartureOutcome, float]:
    """The outcome for an item that left in freshness `state` with `fill` left, and the wasted fraction."""
    if state == FreshnessState.EXPIRED.value:
        if fill is not None and fill <= EMPTY_FILL:
            return "used_up", 0.0
        return "thrown_away", 1.0 if fill is None else fill
    if fill is None or fill <= USED_UP_FILL:
        return "used_up", 0.0
    return "taken_out", 0.0




def _price(session: Session, household_id: str, gtin: str | None) -> tuple[int, str, str] | None:
    """(amount_minor, currency, source) for one unit of `gtin`, or None when no price is known."""
    if gtin is None:
        return None
    paid = session.exec(
        select(Order.amount_minor, Order.currency)
        .join(Product, col(Product.id) == col(Order.product_id))
        .where(Order.household_id == household_id, Product.gtin == gtin, Order.status == "paid")
        .order_by(col(Order.created_at).desc(), col(Order.id).desc())
        .limit(1)
    ).first()
    if paid is not None:
        return paid[0], paid[1], "order"
    listed = session.exec(
        select(Product.price_minor, Product.currency)
        .where(Product.gtin == gtin)
        .order_by(col(Product.price_minor), col(Product.id))
        .limit(1)
    ).first()
    if listed is not None:
        return listed[0], listed[1], "catalog"
    return None


def record_departures(
    session: Session,
    fridge: Fridge,
    records: Iterable[InventoryRecord],
    removed_at: datetime,
    via: Via,
    settings: Settings,
) -> list[ItemHistory]:
    """File one history row per record that just left `fridge` at `removed_at`.

    Each record's freshness is reassessed at `removed_at` (and kept on the record), so the
    outcome follows the server's authoritative state at that moment. A row already filed for
    the same item (another worker, a redelivered event) is left as it is.
    """
    departed = list(records)
    if not departed:
        return []
    oldest = min(r.added_at for r in departed)
    temperatures = temperature_history(session, fridge.id, oldest)
    windows = load_windows(session, fridge.id)
    references = catalog_references(session, {r.gtin for r in departed if r.gtin})
    filed: list[ItemHistory] = []
    for record in departed:
        refresh_item_freshness(
            record,
            removed_at,
            settings.freshness,
            temperatures,
            windows.hours_for(record.gtin, record.category),
            references.get(record.gtin or ""),
        )
        outcome, wasted = classify_departure(record.freshness_state, record.fill)
        value_minor: int | None = None
        currency: str | None = None
        source: str | None = None
        if outcome == "thrown_away":
            price = _price(session, fridge.household_id, record.gtin)
            if price is not None:
                value_minor, currency, source = round(price[0] * wasted), price[1], price[2]
        row = ItemHistory(
            household_id=fridge.household_id,
            fridge_id=fridge.id,
            item_id=record.item_id,
            gtin=record.gtin,
            name=record.name,
            category=record.category,
            added_at=record.added_at,
            opened_at=record.opened_at,
            removed_at=removed_at,
            expires_at=record.expires_at,
            freshness_state=record.freshness_state,
            fill=record.fill,
            outcome=outcome,
            wasted_fraction=wasted,
            value_minor=value_minor,
            currency=currency,
            price_source=source,
            via=via,
        )
        already = session.exec(
            select(ItemHistory.id).where(
                ItemHistory.fridge_id == fridge.id,
                ItemHistory.item_id == record.item_id,
                col(ItemHistory.added_at) == row.added_at,
            )
        ).first()
        if already is not None:
            continue
        try:
            with session.begin_nested():  # a concurrent worker may file the same row first
                session.add(row)
        except IntegrityError:
            continue
        filed.append(row)
    return filed


def cancel_departure(session: Session, fridge_id: str, item_id: str, added_at: datetime) -> None:
    """Forget the departure of an item that came back (same item id and `added_at`)."""
    session.execute(
        delete(ItemHistory).where(
            col(ItemHistory.fridge_id) == fridge_id,
            col(ItemHistory.item_id) == item_id,
            col(ItemHistory.added_at) == added_at,
        )
    )


@dataclass(frozen=True)
class WastedItem:
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
    value_minor: int | None
    currency: str | None


@dataclass(frozen=True)
class MonthWaste:
    """One calendar month (household time): counts by outcome and the value thrown away per currency."""

    month: str
    used_up: int
    thrown_away: int
    taken_out: int
    wasted_value: dict[str, int]
    unpriced_thrown_away: int
    """Items thrown away whose value is unknown (not in `wasted_value`)."""
    wasted_items: tuple[WastedItem, ...]

    @property
    def waste_rate(self) -> float | None:
        """Thrown away / (thrown away + used up); None when nothing was either."""
        judged = self.thrown_away + self.used_up
        return None if judged == 0 else self.thrown_away / judged


@dataclass(frozen=True)
class WasteReport:
    household_id: str
    fridge_id: str | None
    timezone: str
    since: datetime
    until: datetime
    months: tuple[MonthWaste, ...]
    """Oldest first, one per month, empty months included."""
    total: MonthWaste
    """The whole period; its `month` is `"total"` and it lists no items."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _month_starts(now: datetime, zone: ZoneInfo, months: int) -> list[datetime]:
    local = now.astimezone(zone)
    year, month = local.year, local.month
    starts: list[datetime] = []
    for _ in range(months):
        starts.append(datetime(year, month, 1, tzinfo=zone))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return starts[::-1]


def _summarise(label: str, rows: list[ItemHistory], with_items: bool) -> MonthWaste:
    wasted = [r for r in rows if r.outcome == "thrown_away"]
    value: dict[str, int] = {}
    for r in wasted:
        if r.value_minor is not None and r.currency is not None:
            value[r.currency] = value.get(r.currency, 0) + r.value_minor
    items = tuple(
        WastedItem(
            history_id=r.id or 0,
            fridge_id=r.fridge_id,
            item_id=r.item_id,
            name=r.name,
            gtin=r.gtin,
            category=r.category,
            removed_at=r.removed_at,
            expires_at=r.expires_at,
            fill=r.fill,
            wasted_fraction=r.wasted_fraction,
            value_minor=r.value_minor,
            currency=r.currency,
        )
        for r in sorted(wasted, key=lambda r: (r.removed_at, r.id or 0))
    )
    return MonthWaste(
        month=label,
        used_up=sum(1 for r in rows if r.outcome == "used_up"),
        thrown_away=len(wasted),
        taken_out=sum(1 for r in rows if r.outcome == "taken_out"),
        wasted_value=dict(sorted(value.items())),
        unpriced_thrown_away=sum(1 for r in wasted if r.value_minor is None),
        wasted_items=items if with_items else (),
    )


class WasteService:
    """Read side of the item history: the waste report and the history list."""

    def __init__(self, sessions: Callable[[], Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def report(self, household_id: str, months: int, fridge_id: str | None = None) -> WasteReport:
        """The last `months` calendar months (this one included) in the household's time zone."""
        if not 1 <= months <= MAX_REPORT_MONTHS:
            raise ValueError(f"months must be 1..{MAX_REPORT_MONTHS}")
        now = self._clock.now()
        with self._sessions() as session:
            household = session.get(Household, household_id)
            zone_name = household.timezone if household is not None else "UTC"
            zone = _zone(zone_name)
            starts = _month_starts(now, zone, months)
            since = starts[0].astimezone(UTC)
            query = select(ItemHistory).where(
                ItemHistory.household_id == household_id,
                col(ItemHistory.removed_at) >= since,
                col(ItemHistory.removed_at) <= now,
            )
            if fridge_id is not None:
                query = query.where(ItemHistory.fridge_id == fridge_id)
            rows = list(session.exec(query).all())
        by_month: dict[str, list[ItemHistory]] = {f"{s.year:04d}-{s.month:02d}": [] for s in starts}
        for row in rows:
            local = row.removed_at.astimezone(zone)
            by_month.setdefault(f"{local.year:04d}-{local.month:02d}", []).append(row)
        return WasteReport(
            household_id=household_id,
            fridge_id=fridge_id,
            timezone=zone.key,
            since=since,
            until=now,
            months=tuple(_summarise(label, month_rows, True) for label, month_rows in by_month.items()),
            total=_summarise("total", rows, False),
        )

    def history(
        self,
        household_id: str,
        *,
        limit: int,
        offset: int,
        fridge_id: str | None = None,
        outcome: DepartureOutcome | None = None,
    ) -> list[ItemHistory]:
        """The household's departed items, newest first."""
        with self._sessions() as session:
            query = select(ItemHistory).where(ItemHistory.household_id == household_id)
            if fridge_id is not None:
                query = query.where(ItemHistory.fridge_id == fridge_id)
            if outcome is not None:
                query = query.where(ItemHistory.outcome == outcome)
            query = query.order_by(col(ItemHistory.removed_at).desc(), col(ItemHistory.id).desc())
            return list(session.exec(query.offset(offset).limit(limit)).all())
