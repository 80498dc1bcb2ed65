"""Applying one fridge message.

`IngestService.handle(topic, payload)` validates a message against the contract and applies it
in one transaction together with the record of its `(fridge_id, seq)`, so a redelivery is
recognised and skipped, and an inventory snapshot older than the newest applied is ignored.
A message that fails validation is stored as a `Rejection` and counted by reason; nothing a
message contains can make `handle` raise. Offers lists that changed are published after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.contract import (
    MAX_PAYLOAD_BYTES,
    ContractViolation,
    EventMessage,
    InventoryMessage,
    StateMessage,
    TelemetryMessage,
    decode,
)
from freshtap.server.metrics import Metrics
from freshtap.server.services.proposals import publish_offers, refresh_fridge
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.store.models import (
    AppliedMessage,
    Fridge,
    FridgeEvent,
    InventoryRecord,
    Rejection,
    TelemetryReading,
)
from freshtap.settings import Settings

__all__ = ["IngestOutcome", "IngestService"]

log = logging.getLogger(__name__)

Outcome = Literal["applied", "duplicate", "stale", "rejected"]

# A reading above this in a chilled compartment shortens shelf life (docs/shelf-life.md).
_SAFE_CHILL_C = 4.0


@dataclass(frozen=True)
class IngestOutcome:
    outcome: Outcome
    reason: str | None = None
    fridge_id: str | None = None


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class IngestService:
    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Clock,
        settings: Settings,
        publisher: FridgePublisher,
        metrics: Metrics,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._publisher = publisher
        self._metrics = metrics

    def handle(self, topic: str, payload: bytes | bytearray) -> IngestOutcome:
        payload = bytes(payload)
        try:
            message = decode(topic, payload)
        except ContractViolation as violation:
            return self._reject(topic, payload, violation.reason, violation.detail)
        if not isinstance(message, StateMessage | TelemetryMessage | InventoryMessage | EventMessage):
            return self._reject(topic, payload, "wrong_channel", f"{message.type} is not sent by fridges")
        try:
            return self._apply(message, topic, payload)
        except IntegrityError:
            # Another worker applied the same (fridge_id, seq) between our check and our commit.
            self._metrics.ingested.labels(type=message.type, outcome="duplicate").inc()
            return IngestOutcome("duplicate", fridge_id=message.fridge_id)

    def broker_refused(self, reason: str, detail: str) -> None:
        """Record what the embedded broker cut off before it reached us (an oversized packet)."""
        self._reject("(refused by the broker)", b"", "too_large" if reason == "oversized" else "malformed", detail)

    def _reject(self, topic: str, payload: bytes, reason: str, detail: str) -> IngestOutcome:
        self._metrics.rejected.labels(reason=reason).inc()
        kept = payload[: MAX_PAYLOAD_BYTES + 1]
        with self._sessions() as session:
            session.add(
                Rejection(
                    received_at=self._clock.now(),
                    topic=topic[:300],
                    reason=reason,
                    detail=detail[:500],
                    payload=kept,
                    payload_size=len(payload),
                )
            )
            session.commit()
        log.info("rejected message on %s: %s (%s)", topic[:120], reason, detail[:200])
        return IngestOutcome("rejected", reason=reason)

    def _apply(
        self, message: StateMessage | TelemetryMessage | InventoryMessage | EventMessage, topic: str, payload: bytes
    ) -> IngestOutcome:
        now = self._clock.now()
        republish = False
        with self._sessions() as session:
            fridge = session.get(Fridge, message.fridge_id)
            if fridge is None:
                session.rollback()
                return self._reject(topic, payload, "unknown_fridge", f"no fridge {message.fridge_id}")
            if isinstance(message, StateMessage):
                outcome = self._apply_state(fridge, message)
                republish = outcome == "applied" and message.body.online
            else:
                if session.get(AppliedMessage, (message.fridge_id, message.seq)) is not None:
                    self._metrics.ingested.labels(type=message.type, outcome="duplicate").inc()
                    return IngestOutcome("duplicate", fridge_id=message.fridge_id)
                session.add(
                    AppliedMessage(
                        fridge_id=message.fridge_id, seq=message.seq, type=message.type, at=message.at, received_at=now
                    )
                )
                if isinstance(message, InventoryMessage):
                    outcome = self._apply_inventory(session, fridge, message, now)
                elif isinstance(message, TelemetryMessage):
                    outcome = self._apply_telemetry(session, fridge, message)
                else:
                    outcome = self._apply_event(session, fridge, message, now)
                if outcome == "applied":
                    republish = self._needs_refresh(message) and refresh_fridge(session, fridge.id, now, self._settings)
            session.add(fridge)
            session.commit()
            if republish:
                publish_offers(session, self._publisher, fridge.id, now)
                self._metrics.offers_published.inc()
        self._metrics.ingested.labels(type=message.type, outcome=outcome).inc()
        return IngestOutcome(outcome, fridge_id=message.fridge_id)

    @staticmethod
    def _needs_refresh(message: TelemetryMessage | InventoryMessage | EventMessage) -> bool:
        if isinstance(message, TelemetryMessage):
            return any(c.temp_c > _SAFE_CHILL_C and c.id != "freezer" for c in message.body.compartments)
        return True

    @staticmethod
    def _apply_state(fridge: Fridge, message: StateMessage) -> Outcome:
        current = _aware(fridge.state_at)
        if current is not None and message.at < current:
            return "stale"
        fridge.online = message.body.online
        fridge.state_at = message.at
        fridge.model = message.body.model or fridge.model
        fridge.firmware = message.body.firmware or fridge.firmware
        fridge.agent = message.body.agent or fridge.agent
        return "applied"

    @staticmethod
    def _apply_inventory(session: Session, fridge: Fridge, message: InventoryMessage, now: datetime) -> Outcome:
        if fridge.inventory_seq is not None and message.seq <= fridge.inventory_seq:
            return "stale"
        fridge.inventory_seq = message.seq
        fridge.inventory_at = message.at
        existing = {
            r.item_id: r
            for r in session.exec(select(InventoryRecord).where(InventoryRecord.fridge_id == fridge.id)).all()
        }
        seen: set[str] = set()
        for item in message.body.items:
            if item.item_id in seen:
                continue
            seen.add(item.item_id)
            record = existing.get(item.item_id) or InventoryRecord(
                fridge_id=fridge.id,
                item_id=item.item_id,
                name=item.name,
                category=item.category,
                added_at=item.added_at,
                updated_at=now,
            )
            record.gtin = item.gtin
            record.name = item.name
            record.category = item.category.lower()
            record.quantity = item.quantity
            record.unit = item.unit
            record.fill = item.fill
            record.compartment = item.compartment
            record.added_at = item.added_at
            record.opened_at = item.opened_at
            record.label_expiry = item.label_expiry
            record.expiry_kind = item.expiry_kind
            record.batch = item.batch
            record.present = True
            record.removed_at = None
            record.updated_at = now
            session.add(record)
        for item_id, record in existing.items():
            if item_id not in seen and record.present:
                record.present = False
                record.removed_at = message.at
                record.updated_at = now
                session.add(record)
        return "applied"

    @staticmethod
    def _apply_telemetry(session: Session, fridge: Fridge, message: TelemetryMessage) -> Outcome:
        newest = _aware(fridge.telemetry_at)
        for reading in message.body.compartments:
            session.add(
                TelemetryReading(fridge_id=fridge.id, at=message.at, compartment=reading.id, temp_c=reading.temp_c)
            )
        if newest is None or message.at >= newest:
            fridge.telemetry_at = message.at
            fridge.door_open = message.body.door_open
            fridge.compartments = {c.id: c.temp_c for c in message.body.compartments}
        return "applied"

    @staticmethod
    def _apply_event(session: Session, fridge: Fridge, message: EventMessage, now: datetime) -> Outcome:
        body = message.body
        session.add(
            FridgeEvent(
                fridge_id=fridge.id,
                seq=message.seq,
                at=message.at,
                kind=body.kind.value,
                item_id=body.item_id,
                detail=dict(body.detail),
            )
        )
        if body.item_id is not None and body.kind.value in ("item_opened", "item_removed"):
            record = session.get(InventoryRecord, (fridge.id, body.item_id))
            if record is not None:
                if body.kind.value == "item_opened" and record.opened_at is None:
                    record.opened_at = message.at
                if body.kind.value == "item_removed" and record.present:
                    record.present = False
                    record.removed_at = message.at
                record.updated_at = now
                session.add(record)
        return "applied"

    def refresh_due(self) -> int:
        """Re-evaluate every fridge whose items change state by now or whose proposals lapsed.

        The scheduler calls this each tick, so an item that becomes `expiring` at 03:00 with no
        new message still opens its offer. Returns how many fridges' offers changed.
        """
        from freshtap.server.store.models import Proposal

        now = self._clock.now()
        with self._sessions() as session:
            due = set(
                session.exec(
                    select(InventoryRecord.fridge_id).where(
                        col(InventoryRecord.present), col(InventoryRecord.next_check_at) <= now
                    )
                ).all()
            )
            due |= set(
                session.exec(
                    select(Proposal.fridge_id).where(Proposal.status == "live", col(Proposal.expires_at) <= now)
                ).all()
            )
        changed = 0
        for fridge_id in sorted(due):
            with self._sessions() as session:
                if refresh_fridge(session, fridge_id, now, self._settings):
                    session.commit()
                    publish_offers(session, self._publisher, fridge_id, now)
                    self._metrics.offers_published.inc()
                    changed += 1
                else:
                    session.commit()
        return changed
