"""Retention: the scheduler deletes what is older than the settings keep (docs/security.md, "Privacy").

- telemetry readings after `privacy.telemetry_retention_days`;
- refused messages (raw payloads kept for inspection) after `privacy.rejection_retention_days`;
- anonymised orders of deleted households after `privacy.retained_order_days`;
- purchase-rate bookkeeping once it has left the purchase window.

Each call deletes at most `batch` rows per table, oldest first, so a large backlog (retention just
shortened, or a server that was off) drains over several ticks instead of holding one long
transaction; every call after that finds only the last tick's worth.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlmodel import Session, SQLModel, col

from freshtap.server.store.models import Rejection, TelemetryReading
from freshtap.server.store.security_models import PurchaseAttempt, RetainedOrder
from freshtap.settings import Settings

__all__ = ["prune_expired"]


def prune_expired(
    sessions: Callable[[], Session], now: datetime, settings: Settings, batch: int = 5000
) -> dict[str, int]:
    """Delete expired rows; how many, per table (tables with none left out)."""
    privacy = settings.privacy
    # (table, its timestamp column, its key column, delete what is older than this)
    cutoffs: list[tuple[type[SQLModel], Any, Any, datetime]] = [
        (
            TelemetryReading,
            col(TelemetryReading.at),
            col(TelemetryReading.id),
            now - timedelta(days=privacy.telemetry_retention_days),
        ),
        (
            Rejection,
            col(Rejection.received_at),
            col(Rejection.id),
            now - timedelta(days=privacy.rejection_retention_days),
        ),
        (
            RetainedOrder,
            col(RetainedOrder.ordered_at),
            col(RetainedOrder.id),
            now - timedelta(days=privacy.retained_order_days),
        ),
        (
            PurchaseAttempt,
            col(PurchaseAttempt.at),
            col(PurchaseAttempt.id),
            now - timedelta(seconds=settings.purchases.window_seconds),
        ),
    ]
    deleted: dict[str, int] = {}
    for model, at, key, cutoff in cutoffs:
        with sessions() as session:
            oldest = select(key).where(at < cutoff).order_by(at).limit(batch)
            result = session.execute(delete(model).where(key.in_(oldest)))
            session.commit()
        count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            deleted[str(model.__tablename__)] = count
    return deleted
