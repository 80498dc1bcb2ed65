"""The server's authoritative freshness for stored items, from the shared shelf-life model.

`temperature_history` turns stored telemetry into the spans the model integrates;
`refresh_item_freshness` reassesses one record in place and sets `next_check_at`, the instant
its state next changes with no new data (the scheduler wakes for it); `load_windows` reads a
fridge's due-soon windows (the household's own `use_soon` hours per GTIN or category, which
`services/due_soon.py` writes); `is_excursion` says
whether a reading uses shelf life at other than the compartment's nominal rate, so that
telemetry only triggers a recomputation when it can change a deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from freshtap.server.store.history_models import DueSoonWindow
from freshtap.server.store.models import InventoryRecord, Product, TelemetryReading
from freshtap.settings import FreshnessSettings
from freshtap.shelflife import (
    FREEZER_COMPARTMENTS,
    FROZEN_AT_OR_BELOW_C,
    REFERENCE_TEMP_C,
    Assessment,
    ItemFacts,
    TemperatureSpan,
    assess,
    next_transition,
)

__all__ = [
    "MAX_READING_GAP",
    "DueSoonWindows",
    "catalog_references",
    "is_excursion",
    "item_facts",
    "load_windows",
    "refresh_item_freshness",
    "temperature_history",
]

MAX_READING_GAP = timedelta(hours=2)
"""Readings further apart than this are not assumed to describe the time between them."""




def is_excursion(compartment: str, temp_c: float) -> bool:
    """True when a reading spends shelf life at another rate than the compartment's nominal one.

    Nominal is "frozen" (rate 0) in a freezer and "at most 4 °C, not frozen" (rate 1) in any
    other compartment (docs/shelf-life.md); only readings outside that move a deadline.
    """
    if compartment.strip().lower() in FREEZER_COMPARTMENTS:
        return temp_c > FROZEN_AT_OR_BELOW_C
    return temp_c > REFERENCE_TEMP_C or temp_c <= FROZEN_AT_OR_BELOW_C


def temperature_history(session: Session, fridge_id: str, since: datetime) -> dict[str, list[TemperatureSpan]]:
    """Spans of measured temperature per compartment, each reading holding until the next one.

    A reading holds for at most `MAX_READING_GAP`; consecutive touching spans at the same
    temperature are merged, so a month of steady one-minute telemetry is a handful of spans.
    """
    readings = session.exec(
        select(TelemetryReading)
        .where(TelemetryReading.fridge_id == fridge_id, col(TelemetryReading.at) >= since)
        .order_by(col(TelemetryReading.compartment), col(TelemetryReading.at))
    ).all()
    spans: dict[str, list[TemperatureSpan]] = {}
    previous: TelemetryReading | None = None
    for reading in readings:
        if previous is not None and previous.compartment == reading.compartment:
            start, end = previous.at, min(reading.at, previous.at + MAX_READING_GAP)
            if end > start:
                series = spans.setdefault(reading.compartment, [])
                last = series[-1] if series else None
                if last is not None and last.end == start and last.temp_c == previous.temp_c:
                    series[-1] = TemperatureSpan(last.start, end, last.temp_c)
                else:
                    series.append(TemperatureSpan(start, end, previous.temp_c))
        previous = reading
    return spans


@dataclass(frozen=True)
class DueSoonWindows:
    """Hours before expiry at which an item becomes `use_soon`, by GTIN and by category (lower case)."""

    gtin: Mapping[str, float] = field(default_factory=dict)
    category: Mapping[str, float] = field(default_factory=dict)

    def hours_for(self, gtin: str | None, category: str) -> float | None:
        """The window for an item: its GTIN's, else its category's, else None (the default threshold)."""
        if gtin is not None and gtin in self.gtin:
            return self.gtin[gtin]
        return self.category.get(category.strip().lower())


def load_windows(session: Session, fridge_id: str) -> DueSoonWindows:
    rows = session.exec(select(DueSoonWindow).where(DueSoonWindow.fridge_id == fridge_id)).all()
    return DueSoonWindows(
        gtin={r.key: r.hours for r in rows if r.kind == "gtin"},
        category={r.key: r.hours for r in rows if r.kind == "category"},
    )


def catalog_references(session: Session, gtins: set[str]) -> dict[str, int]:
    """GTIN -> FoodKeeper product id, from merchants' catalogs (the oldest listing that names one)."""
    if not gtins:
        return {}
    rows = session.exec(
        select(Product.gtin, Product.foodkeeper_product_id)
        .where(col(Product.gtin).in_(gtins), col(Product.foodkeeper_product_id).is_not(None))
        .order_by(col(Product.created_at), col(Product.id))
    ).all()
    found: dict[str, int] = {}
    for gtin, reference in rows:
        if gtin is not None and reference is not None:
            found.setdefault(gtin, reference)
    return found


def item_facts(record: InventoryRecord, reference_product_id: int | None = None) -> ItemFacts:
    """What the shelf-life model is told about a stored item."""
    kind = record.expiry_kind
    return ItemFacts(
        reference_product_id=reference_product_id,
        name=record.name,
        category=record.category,
        added_at=record.added_at,
        gtin=record.gtin,
        opened_at=record.opened_at,
        label_expiry=record.label_expiry,
        expiry_kind="expiry" if kind == "expiry" else "best_before" if kind == "best_before" else None,
        compartment=record.compartment,
    )


def refresh_item_freshness(
    record: InventoryRecord,
    now: datetime,
    thresholds: FreshnessSettings,
    temperatures: dict[str, list[TemperatureSpan]],
    due_soon_hours: float | None = None,
    reference_product_id: int | None = None,
) -> bool:
    """Recompute one record's freshness in place; True when its state or deadline changed.

    `due_soon_hours` is the household's own window for this product, if it set one.
    """
    facts = item_facts(record, reference_product_id)
    spans = [s for s in temperatures.get(record.compartment, []) if s.end > facts.added_at]
    result: Assessment = assess(facts, now, thresholds, spans, due_soon_hours)
    upcoming = next_transition(facts, now, thresholds, spans, due_soon_hours)
    before = (record.freshness_state, record.expires_at)
    record.freshness_state = result.state.value
    record.expires_at = result.expires_at
    record.basis = result.basis.value
    record.explanation = result.explanation[:500]
    record.next_check_at = upcoming
    return before != (record.freshness_state, record.expires_at)
