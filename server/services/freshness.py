"""The server's authoritative freshness for stored items, from the shared shelf-life model."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from freshtap.server.store.models import InventoryRecord, TelemetryReading
from freshtap.settings import FreshnessSettings
from freshtap.shelflife import ItemFacts, TemperatureSpan, assess, next_transition

__all__ = ["refresh_item_freshness", "temperature_history"]

# Readings further apart than this are not assumed to describe the time between them.
_MAX_GAP = timedelta(hours=2)


def temperature_history(session: Session, fridge_id: str, since: datetime) -> dict[str, list[TemperatureSpan]]:
    """Spans of measured temperature per compartment, each reading holding until the next one."""
    readings = session.exec(
        select(TelemetryReading)
        .where(TelemetryReading.fridge_id == fridge_id, col(TelemetryReading.at) >= since)
        .order_by(col(TelemetryReading.compartment), col(TelemetryReading.at))
    ).all()
    spans: dict[str, list[TemperatureSpan]] = {}
    previous: TelemetryReading | None = None
    for reading in readings:
        if previous is not None and previous.compartment == reading.compartment:
            end = min(reading.at, previous.at + _MAX_GAP)
            if end > previous.at:
                spans.setdefault(reading.compartment, []).append(
                    TemperatureSpan(_aware(previous.at), _aware(end), previous.temp_c)
                )
        previous = reading
    return spans


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def refresh_item_freshness(
    record: InventoryRecord,
    now: datetime,
    thresholds: FreshnessSettings,
    temperatures: dict[str, list[TemperatureSpan]],
) -> bool:
    """Recompute one record's freshness in place; True when its state or deadline changed."""
    facts = ItemFacts(
        name=record.name,
        category=record.category,
        added_at=_aware(record.added_at),
        gtin=record.gtin,
        opened_at=_aware(record.opened_at) if record.opened_at else None,
        label_expiry=record.label_expiry,
        expiry_kind=record.expiry_kind if record.expiry_kind in ("expiry", "best_before") else None,  # type: ignore[arg-type]
        compartment=record.compartment,
    )
    spans = [s for s in temperatures.get(record.compartment, []) if s.end > facts.added_at]
    result = assess(facts, now, thresholds, spans)
    upcoming = next_transition(facts, now, thresholds, spans)
    before = (record.freshness_state, _aware(record.expires_at) if record.expires_at else None)
    record.freshness_state = result.state.value
    record.expires_at = result.expires_at
    record.basis = result.basis.value
    record.explanation = result.explanation[:500]
    record.next_check_at = upcoming
    return before != (record.freshness_state, record.expires_at)
