"""What one ingest batch holds: its decoded messages grouped by fridge, and rows written many at a time.

`IngestService.handle_batch` decodes every message of a batch first (a bad one is rejected there,
before any transaction, so it can never roll back good ones), then groups the valid ones by fridge
in arrival order (`group_by_fridge`). Inside the batch's transaction, `PendingRows` collects the
rows that need no ORM object (the `(fridge_id, seq)` log, telemetry readings, fridge events) and
writes each table with one executemany; it is flushed before any query that reads those tables,
so a later message of the same batch sees what an earlier one wrote, exactly as if each had been
committed on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from sqlalchemy import insert
from sqlmodel import Session

from freshtap.contract import EventMessage, InventoryMessage, StateMessage, TelemetryMessage
from freshtap.server.store.models import AppliedMessage, FridgeEvent, TelemetryReading

__all__ = ["FridgeMessage", "Pending", "PendingRows", "group_by_fridge", "newest_snapshots"]

FridgeMessage: TypeAlias = StateMessage | TelemetryMessage | InventoryMessage | EventMessage


@dataclass(frozen=True)
class Pending:
    """One valid message of the batch, with its position in it (for its outcome)."""

    index: int
    message: FridgeMessage
    topic: str
    payload: bytes


def group_by_fridge(pending: Iterable[Pending]) -> dict[str, list[Pending]]:
    """The batch's messages per fridge, each fridge's in arrival order; fridges sorted by id.

    Sorted, so that every worker locks the fridges of its batch in the same order (no deadlock).
    """
    groups: dict[str, list[Pending]] = {}
    for item in pending:
        groups.setdefault(item.message.fridge_id, []).append(item)
    return dict(sorted(groups.items()))


def newest_snapshots(groups: dict[str, list[Pending]]) -> dict[str, int]:
    """Each fridge's highest inventory `seq` in the batch: the only snapshot of it applied in full."""
    newest: dict[str, int] = {}
    for fridge_id, items in groups.items():
        seqs = [p.message.seq for p in items if isinstance(p.message, InventoryMessage)]
        if seqs:
            newest[fridge_id] = max(seqs)
    return newest


@dataclass
class PendingRows:
    """Rows of a batch's transaction not yet sent, one list per table, each sent as one executemany."""

    applied: list[dict[str, Any]] = field(default_factory=list)
    telemetry: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def flush(self, session: Session) -> None:
        """Send the telemetry readings and events pending (before a query that may read them)."""
        for model, rows in ((TelemetryReading, self.telemetry), (FridgeEvent, self.events)):
            if rows:
                session.execute(insert(model), rows)
                rows.clear()

    def finish(self, session: Session) -> None:
        """Send everything pending, the `(fridge_id, seq)` log included (just before commit)."""
        self.flush(session)
        if self.applied:
            session.execute(insert(AppliedMessage), self.applied)
            self.applied.clear()
