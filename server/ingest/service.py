"""Applying one fridge message.

`IngestService.handle(topic, payload)` validates a message against the contract and applies it
in one transaction together with the record of its `(fridge_id, seq)`, so a redelivery is
recognised and skipped, and an inventory snapshot older than the newest applied is ignored.
A message that fails validation is stored as a `Rejection` and counted by reason; nothing a
message contains can make `handle` raise. Offers lists that changed are published after commit.

Snapshots also keep each item's fill history (services/runout.py) and file an item that left,
or cancel the departure of one that came back (services/waste.py); `item_removed` files it too.
Telemetry reassesses the fridge only when a reading, or the one before it, is an excursion
(`is_excursion`): a warm span only counts once the next reading closes it, so the reading that
ends an excursion matters as much as the ones inside it.

`refresh_due` is the scheduler's tick: it reassesses every fridge with an item due
(`next_check_at`) or a lapsed proposal, so time alone moves items and opens offers.

Several workers may receive messages of one fridge at once (MQTT shared subscriptions split the
load per message, not per fridge), so each apply first locks the fridge's row
(`SELECT ... FOR NO KEY UPDATE` on PostgreSQL; SQLite has one writer anyway) and holds it to
commit: a fridge's messages are applied one at a time, each against the state the previous one
committed. The result does not depend on the order they arrive in: the newest snapshot wins, and
an event newer than the snapshot it arrives after is applied again on top of it; an event older
than the newest snapshot leaves the inventory as that snapshot says (docs/deployment.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session, col, or_, select

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
from freshtap.server.services.freshness import is_excursion
from freshtap.server.services.proposals import publish_offers, refresh_fridge
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.services.restock import restock_arrivals
from freshtap.server.services.runout import record_fills
from freshtap.server.services.waste import cancel_departure, record_departures
from freshtap.server.store.models import (
    AppliedMessage,
    Fridge,
    FridgeEvent,
    InventoryRecord,
    Offer,
    Proposal,
    Rejection,
    TelemetryReading,
)
from freshtap.settings import Settings

__all__ = ["IngestOutcome", "IngestService"]

log = logging.getLogger(__name__)

Outcome = Literal["applied", "duplicate", "stale", "rejected"]

# `SELECT ... FOR NO KEY UPDATE` of the fridge's row on PostgreSQL; nothing on SQLite.
_FRIDGE_LOCK = {"key_share": True}


@dataclass(frozen=True)
class IngestOutcome:
    outcome: Outcome
    reason: str | None = None
    fridge_id: str | None = None




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
        self._refreshed = threading.Condition()
        self._refreshed_through: datetime | None = None

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
            # Anything else must not be acknowledged as if stored: raise, and the link retries.
            if isinstance(message, StateMessage) or not self._applied(message.fridge_id, message.seq):
                raise
            self._metrics.ingested.labels(type=message.type, outcome="duplicate").inc()
            return IngestOutcome("duplicate", fridge_id=message.fridge_id)
        except DataError as exc:
            # Valid by the contract yet refused by the database (a value out of its range): the same
            # message would fail forever, so it is rejected and kept, never retried into a jam.
            return self._reject(topic, payload, "invalid", f"refused by the database: {exc.orig}"[:300])

    def _applied(self, fridge_id: str, seq: int) -> bool:
        with self._sessions() as session:
            return session.get(AppliedMessage, (fridge_id, seq)) is not None

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
            # One apply per fridge at a time, to commit (see the module docstring). NO KEY UPDATE, not
            # UPDATE: rows that only reference the fridge (an order being placed) must not wait on it.
            fridge = session.get(Fridge, message.fridge_id, with_for_update=_FRIDGE_LOCK)
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
                    reassess = True
                elif isinstance(message, TelemetryMessage):
                    reassess = self._moves_deadlines(session, fridge, message)
                    outcome = self._apply_telemetry(session, fridge, message)
                else:
                    outcome = self._apply_event(session, fridge, message, now)
                    reassess = True
                if outcome == "applied" and reassess:
                    republish = refresh_fridge(session, fridge.id, now, self._settings)
            session.add(fridge)
            session.commit()
            if republish:
                publish_offers(session, self._publisher, fridge.id, now)
                self._metrics.offers_published.inc()
        self._metrics.ingested.labels(type=message.type, outcome=outcome).inc()
        return IngestOutcome(outcome, fridge_id=message.fridge_id)

    @staticmethod
    def _moves_deadlines(session: Session, fridge: Fridge, message: TelemetryMessage) -> bool:
        """Whether this telemetry can move a deadline: it, or the reading it follows, is an excursion.

        Called before the readings are stored. In order, the reading before is the fridge's last
        (`compartments`); a late reading is compared with the stored one just before it.
        """
        newest = fridge.telemetry_at
        in_order = newest is None or message.at >= newest
        for reading in message.body.compartments:
            if is_excursion(reading.id, reading.temp_c):
                return True
            if in_order:
                before = (fridge.compartments or {}).get(reading.id)
            else:
                before = session.exec(
                    select(TelemetryReading.temp_c)
                    .where(
                        TelemetryReading.fridge_id == fridge.id,
                        TelemetryReading.compartment == reading.id,
                        col(TelemetryReading.at) < message.at,
                    )
                    .order_by(col(TelemetryReading.at).desc())
                    .limit(1)
                ).first()
            if before is not None and is_excursion(reading.id, before):
                return True
        return False

    @staticmethod
    def _apply_state(fridge: Fridge, message: StateMessage) -> Outcome:
        current = fridge.state_at
        if current is not None and message.at < current:
            return "stale"
        fridge.online = message.body.online
        fridge.state_at = message.at
        fridge.model = message.body.model or fridge.model
        fridge.firmware = message.body.firmware or fridge.firmware
        fridge.agent = message.body.agent or fridge.agent
        return "applied"

    def _apply_inventory(self, session: Session, fridge: Fridge, message: InventoryMessage, now: datetime) -> Outcome:
        if fridge.inventory_seq is not None and message.seq <= fridge.inventory_seq:
            return "stale"
        fridge.inventory_seq = message.seq
        fridge.inventory_at = message.at
        existing = {
            r.item_id: r
            for r in session.exec(select(InventoryRecord).where(InventoryRecord.fridge_id == fridge.id)).all()
        }
        seen: set[str] = set()
        fills: dict[str, float] = {}
        for item in message.body.items:
            if item.item_id in seen:
                continue
            seen.add(item.item_id)
            if item.fill is not None:
                fills[item.item_id] = item.fill
            back = existing.get(item.item_id)
            if back is not None and not back.present:
                cancel_departure(session, fridge.id, item.item_id, item.added_at)
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
        departed = [record for item_id, record in existing.items() if item_id not in seen and record.present]
        for record in departed:
            record.present = False
            record.removed_at = message.at
            record.updated_at = now
            session.add(record)
        record_fills(session, fridge.id, fills, message.at)
        record_departures(session, fridge, departed, message.at, "snapshot", self._settings)
        restock_arrivals(session, self._publisher, fridge.id, message.body.items, now)  # services/restock.py
        # Events the device sent after this snapshot, applied before it arrived, still hold.
        newer = session.exec(
            select(FridgeEvent)
            .where(FridgeEvent.fridge_id == fridge.id, col(FridgeEvent.seq) > message.seq)
            .order_by(col(FridgeEvent.seq))
        ).all()
        for event in newer:
            self._apply_item_effect(session, fridge, event.kind, event.item_id, event.at or message.at, now)
        return "applied"

    @staticmethod
    def _apply_telemetry(session: Session, fridge: Fridge, message: TelemetryMessage) -> Outcome:
        newest = fridge.telemetry_at
        for reading in message.body.compartments:
            session.add(
                TelemetryReading(fridge_id=fridge.id, at=message.at, compartment=reading.id, temp_c=reading.temp_c)
            )
        if newest is None or message.at >= newest:
            fridge.telemetry_at = message.at
            fridge.door_open = message.body.door_open
            fridge.compartments = {c.id: c.temp_c for c in message.body.compartments}
        return "applied"

    def _apply_event(self, session: Session, fridge: Fridge, message: EventMessage, now: datetime) -> Outcome:
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
        # A snapshot newer than this event already shows its effect (and perhaps its undoing).
        if fridge.inventory_seq is None or message.seq > fridge.inventory_seq:
            self._apply_item_effect(session, fridge, body.kind.value, body.item_id, message.at, now)
        return "applied"

    def _apply_item_effect(
        self, session: Session, fridge: Fridge, kind: str, item_id: str | None, at: datetime, now: datetime
    ) -> None:
        """What an `item_opened` or `item_removed` event does to the inventory (other kinds do nothing)."""
        if item_id is None or kind not in ("item_opened", "item_removed"):
            return
        record = session.get(InventoryRecord, (fridge.id, item_id))
        if record is None:
            return
        if kind == "item_opened" and record.opened_at is None:
            record.opened_at = at
        if kind == "item_removed" and record.present:
            record.present = False
            record.removed_at = at
            record_departures(session, fridge, [record], at, "event", self._settings)
        record.updated_at = now
        session.add(record)

    def refresh_due(self) -> int:
        """Re-evaluate every fridge whose items change state by now or whose proposals lapsed.

        The scheduler calls this each tick, so an item that becomes `expiring` at 03:00 with no
        new message still opens its offer. Fridges holding items that an offer created since
        the last pass matches are reassessed too, so a new offer's own crossing is scheduled.
        One fridge that fails is logged and skipped; the others are still refreshed. Returns
        how many fridges' offers changed.
        """
        now = self._clock.now()
        since = self.refreshed_through or now - 2 * timedelta(seconds=self._settings.offers.scheduler_tick_seconds)
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
            due |= self._matching_new_offers(session, since, now)
        changed = 0
        for fridge_id in sorted(due):
            try:
                changed += self._refresh_one(fridge_id, now)
            except Exception:
                log.exception("scheduled refresh of fridge %s failed", fridge_id)
        with self._refreshed:
            self._refreshed_through = now
            self._refreshed.notify_all()
        return changed

    @staticmethod
    def _matching_new_offers(session: Session, since: datetime, now: datetime) -> set[str]:
        """Fridges with a present item that an active offer created in (since, now] matches."""
        fresh = session.exec(
            select(Offer.match_gtin, Offer.match_category).where(
                col(Offer.active), col(Offer.created_at) > since, col(Offer.created_at) <= now
            )
        ).all()
        gtins = {gtin for gtin, _ in fresh if gtin}
        categories = {category.lower() for _, category in fresh if category}
        if not gtins and not categories:
            return set()
        return set(
            session.exec(
                select(InventoryRecord.fridge_id)
                .where(
                    col(InventoryRecord.present),
                    or_(
                        col(InventoryRecord.gtin).in_(gtins), func.lower(col(InventoryRecord.category)).in_(categories)
                    ),
                )
                .distinct()
            ).all()
        )

    def _refresh_one(self, fridge_id: str, now: datetime) -> int:
        with self._sessions() as session:
            # The same lock as an apply: a refresh and an apply of one fridge never interleave.
            session.get(Fridge, fridge_id, with_for_update=_FRIDGE_LOCK)
            changed = refresh_fridge(session, fridge_id, now, self._settings)
            session.commit()
            if not changed:
                return 0
            publish_offers(session, self._publisher, fridge_id, now)
        self._metrics.offers_published.inc()
        return 1

    @property
    def refreshed_through(self) -> datetime | None:
        """The clock time of the last completed `refresh_due` pass (None: none yet)."""
        with self._refreshed:
            return self._refreshed_through

    def wait_refreshed(self, through: datetime, timeout: float) -> bool:
        """Block until a `refresh_due` pass that started at or after `through` has finished.

        For tests and tools that move a clock and need to know the scheduler has seen it;
        False on timeout (real seconds).
        """
        with self._refreshed:
            return self._refreshed.wait_for(
                lambda: self._refreshed_through is not None and self._refreshed_through >= through, timeout
            )
