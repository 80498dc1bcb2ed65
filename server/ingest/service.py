"""Applying fridge messages, a batch at a time.

`IngestService.handle_batch(messages)` validates each message against the contract and applies the
valid ones in ONE transaction per batch, together with the record of each `(fridge_id, seq)`, so a
redelivery is recognised and skipped, and an inventory snapshot older than the newest applied is
ignored. Per fridge, only the batch's newest snapshot is applied in full (an older one is recorded
and `stale`: the newest would overwrite it anyway); events and telemetry are applied in arrival
order; the fridge's offers are refreshed once per batch, not once per message. The log of applied
messages, readings and events are written with one executemany per table (ingest/batch.py).
A message that fails validation is stored as a `Rejection` and counted by reason before the
transaction, so it never rolls back the good ones; nothing a message contains can make a batch
raise. If the database refuses the batch, each fridge is retried alone, then each message alone.
Offers lists that changed are published after commit. `handle(topic, payload)` is a batch of one.
The MQTT link (ingest/mqtt_link.py) acknowledges a batch's messages only after it committed.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
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
from freshtap.server.ingest.batch import Pending, PendingRows, group_by_fridge, newest_snapshots
from freshtap.server.ingest.confirmations import Confirmations
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


def _rejection(now: datetime, topic: str, payload: bytes, reason: str, detail: str) -> Rejection:
    return Rejection(
        received_at=now,
        topic=topic[:300],
        reason=reason,
        detail=detail[:500],
        payload=payload[: MAX_PAYLOAD_BYTES + 1],
        payload_size=len(payload),
    )


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
        self.confirmations = Confirmations.disabled()
        """Tells fridges what is applied (the runtime sets the real one: server/ingest/confirmations.py)."""

    def handle(self, topic: str, payload: bytes | bytearray) -> IngestOutcome:
        """Apply one message: a batch of one (see `handle_batch`)."""
        return self.handle_batch([(topic, payload)])[0]

    def handle_batch(self, messages: Sequence[tuple[str, bytes | bytearray]]) -> list[IngestOutcome]:
        """Apply a batch of messages in one transaction; one outcome per message, in order.

        Every message is validated first: a bad one is rejected (stored, counted) and never takes
        the others down with it. The valid ones are applied per fridge in arrival order, in ONE
        transaction for the whole batch; if the database refuses it, each fridge's messages are
        retried in a transaction of their own, and a fridge that fails again one message at a time,
        so one fridge's bad row never holds back another's. An error that persists even then (the
        database is down) is raised: nothing of the batch may be acknowledged, the link retries it.
        """
        outcomes: list[IngestOutcome | None] = [None] * len(messages)
        valid: list[Pending] = []
        refused: list[tuple[int, str, bytes, str, str]] = []
        for index, (topic, raw) in enumerate(messages):
            payload = bytes(raw)
            try:
                message = decode(topic, payload)
            except ContractViolation as violation:
                refused.append((index, topic, payload, violation.reason, violation.detail))
                continue
            if not isinstance(message, StateMessage | TelemetryMessage | InventoryMessage | EventMessage):
                refused.append((index, topic, payload, "wrong_channel", f"{message.type} is not sent by fridges"))
                continue
            valid.append(Pending(index, message, topic, payload))
        if refused:
            for (index, *_), outcome in zip(refused, self._reject_all([r[1:] for r in refused]), strict=True):
                outcomes[index] = outcome
        groups = group_by_fridge(valid)
        if groups:
            try:
                outcomes_of = self._apply_groups(groups)
            except SQLAlchemyError:
                if len(groups) == 1:
                    outcomes_of = {}
                    for items in groups.values():
                        outcomes_of.update(self._apply_fridge_alone(items))
                else:
                    log.warning("an ingest batch of %d fridges failed; retrying each fridge alone", len(groups))
                    outcomes_of = {}
                    for fridge_id, items in groups.items():
                        try:
                            outcomes_of.update(self._apply_groups({fridge_id: items}))
                        except SQLAlchemyError:
                            outcomes_of.update(self._apply_fridge_alone(items))
            for index, outcome in outcomes_of.items():
                outcomes[index] = outcome
        assert all(o is not None for o in outcomes)
        self.confirmations.handled_batch(messages, outcomes)  # confirmations: keep this call after the commit
        return [o for o in outcomes if o is not None]

    def _apply_fridge_alone(self, items: list[Pending]) -> dict[int, IngestOutcome]:
        """One fridge's messages one transaction each, after its batch failed (see `handle_batch`)."""
        outcomes: dict[int, IngestOutcome] = {}
        for item in items:
            message = item.message
            try:
                outcomes.update(self._apply_groups({message.fridge_id: [item]}))
            except IntegrityError:
                # Another worker applied the same (fridge_id, seq) between our check and our commit.
                # Anything else must not be acknowledged as if stored: raise, and the link retries.
                if isinstance(message, StateMessage) or not self._applied(message.fridge_id, message.seq):
                    raise
                self._metrics.ingested.labels(type=message.type, outcome="duplicate").inc()
                outcomes[item.index] = IngestOutcome("duplicate", fridge_id=message.fridge_id)
            except DataError as exc:
                # Valid by the contract yet refused by the database (a value out of its range): the
                # same message would fail forever, so it is rejected and kept, never retried into a jam.
                detail = f"refused by the database: {exc.orig}"[:300]
                outcomes[item.index] = self._reject(item.topic, item.payload, "invalid", detail)
        return outcomes

    def _applied(self, fridge_id: str, seq: int) -> bool:
        with self._sessions() as session:
            return session.get(AppliedMessage, (fridge_id, seq)) is not None

    def broker_refused(self, reason: str, detail: str) -> None:
        """Record what the embedded broker cut off before it reached us (an oversized packet)."""
        self._reject("(refused by the broker)", b"", "too_large" if reason == "oversized" else "malformed", detail)

    def _reject(self, topic: str, payload: bytes, reason: str, detail: str) -> IngestOutcome:
        return self._reject_all([(topic, payload, reason, detail)])[0]

    def _reject_all(self, refused: Sequence[tuple[str, bytes, str, str]]) -> list[IngestOutcome]:
        """Store and count rejected messages, all in one transaction: (topic, payload, reason, detail) each."""
        now = self._clock.now()
        with self._sessions() as session:
            for topic, payload, reason, detail in refused:
                session.add(_rejection(now, topic, payload, reason, detail))
            session.commit()
        outcomes = []
        for topic, _, reason, detail in refused:
            self._metrics.rejected.labels(reason=reason).inc()
            log.info("rejected message on %s: %s (%s)", topic[:120], reason, detail[:200])
            outcomes.append(IngestOutcome("rejected", reason=reason))
        return outcomes

    def _apply_groups(self, groups: dict[str, list[Pending]]) -> dict[int, IngestOutcome]:
        """Apply each fridge's messages of the batch, all in one transaction; then publish what changed.

        Per fridge: only the newest snapshot of the batch is applied in full (an older one is
        recorded and `stale`, as it would be once the newest had been applied); events and
        telemetry in arrival order; then one offers refresh if anything moved. The `(fridge_id,
        seq)` log, readings and events are written many rows per statement (`PendingRows`).
        Metrics are counted and offers published only after the commit.
        """
        now = self._clock.now()
        outcomes: dict[int, IngestOutcome] = {}
        counted: list[tuple[str, Outcome]] = []
        unknown: list[Pending] = []
        publish: list[str] = []
        rows = PendingRows()
        newest = newest_snapshots(groups)
        with self._sessions() as session:
            # One apply per fridge at a time, to commit (see the module docstring). NO KEY UPDATE, not
            # UPDATE: rows that only reference the fridge (an order being placed) must not wait on it.
            # All of the batch's fridges in one statement, in id order, so two workers never deadlock.
            fridges = {
                f.id: f
                for f in session.exec(
                    select(Fridge)
                    .where(col(Fridge.id).in_(list(groups)))
                    .order_by(col(Fridge.id))
                    .with_for_update(key_share=True)
                ).all()
            }
            done = self._already_applied(session, groups)
            for fridge_id, items in groups.items():
                fridge = fridges.get(fridge_id)
                if fridge is None:
                    unknown.extend(items)
                    continue
                reassess = republish = False
                for item in items:
                    message = item.message
                    if isinstance(message, StateMessage):
                        outcome = self._apply_state(fridge, message)
                        republish = republish or (outcome == "applied" and message.body.online)
                    elif (fridge_id, message.seq) in done:
                        outcome = "duplicate"
                    else:
                        done.add((fridge_id, message.seq))
                        rows.applied.append(
                            {
                                "fridge_id": fridge_id,
                                "seq": message.seq,
                                "type": message.type,
                                "at": message.at,
                                "received_at": now,
                            }
                        )
                        moves = True
                        if isinstance(message, InventoryMessage):
                            if message.seq < newest[fridge_id]:
                                outcome = "stale"  # the batch holds a newer snapshot of this fridge
                            else:
                                outcome = self._apply_inventory(session, fridge, message, now, rows)
                        elif isinstance(message, TelemetryMessage):
                            moves = self._moves_deadlines(session, fridge, message, rows)
                            outcome = self._apply_telemetry(fridge, message, rows)
                        else:
                            outcome = self._apply_event(session, fridge, message, now, rows)
                        reassess = reassess or (outcome == "applied" and moves)
                    outcomes[item.index] = IngestOutcome(outcome, fridge_id=fridge_id)
                    counted.append((message.type, outcome))
                if reassess:
                    rows.flush(session)  # the offer rules read the temperature history
                    republish = refresh_fridge(session, fridge_id, now, self._settings) or republish
                session.add(fridge)
                if republish:
                    publish.append(fridge_id)
            for item in unknown:
                detail = f"no fridge {item.message.fridge_id}"
                session.add(_rejection(now, item.topic, item.payload, "unknown_fridge", detail))
            rows.finish(session)
            session.commit()
            for fridge_id in publish:
                publish_offers(session, self._publisher, fridge_id, now)
                self._metrics.offers_published.inc()
        for type_, outcome in counted:
            self._metrics.ingested.labels(type=type_, outcome=outcome).inc()
        for item in unknown:
            self._metrics.rejected.labels(reason="unknown_fridge").inc()
            log.info("rejected message on %s: unknown_fridge", item.topic[:120])
            outcomes[item.index] = IngestOutcome("rejected", reason="unknown_fridge")
        return outcomes

    @staticmethod
    def _already_applied(session: Session, groups: dict[str, list[Pending]]) -> set[tuple[str, int]]:
        """The batch's `(fridge_id, seq)` pairs already in the log, in one query."""
        seqs = {p.message.seq for items in groups.values() for p in items if not isinstance(p.message, StateMessage)}
        if not seqs:
            return set()
        found = session.exec(
            select(AppliedMessage.fridge_id, AppliedMessage.seq).where(
                col(AppliedMessage.fridge_id).in_(list(groups)), col(AppliedMessage.seq).in_(sorted(seqs))
            )
        ).all()
        return {(fridge_id, seq) for fridge_id, seq in found}

    @staticmethod
    def _moves_deadlines(session: Session, fridge: Fridge, message: TelemetryMessage, rows: PendingRows) -> bool:
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
                rows.flush(session)
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

    def _apply_inventory(
        self, session: Session, fridge: Fridge, message: InventoryMessage, now: datetime, rows: PendingRows
    ) -> Outcome:
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
        rows.flush(session)  # departures read the temperature history; newer events are read below
        record_departures(session, fridge, departed, message.at, "snapshot", self._settings)
        restock_arrivals(session, self._publisher, fridge.id, message.body.items, now)  # services/restock.py
        # Events the device sent after this snapshot, applied before it arrived, still hold.
        newer = session.exec(
            select(FridgeEvent)
            .where(FridgeEvent.fridge_id == fridge.id, col(FridgeEvent.seq) > message.seq)
            .order_by(col(FridgeEvent.seq))
        ).all()
        for event in newer:
            self._apply_item_effect(session, fridge, event.kind, event.item_id, event.at or message.at, now, rows)
        return "applied"

    @staticmethod
    def _apply_telemetry(fridge: Fridge, message: TelemetryMessage, rows: PendingRows) -> Outcome:
        newest = fridge.telemetry_at
        rows.telemetry.extend(
            {"fridge_id": fridge.id, "at": message.at, "compartment": reading.id, "temp_c": reading.temp_c}
            for reading in message.body.compartments
        )
        if newest is None or message.at >= newest:
            fridge.telemetry_at = message.at
            fridge.door_open = message.body.door_open
            fridge.compartments = {c.id: c.temp_c for c in message.body.compartments}
        return "applied"

    def _apply_event(
        self, session: Session, fridge: Fridge, message: EventMessage, now: datetime, rows: PendingRows
    ) -> Outcome:
        body = message.body
        rows.events.append(
            {
                "fridge_id": fridge.id,
                "seq": message.seq,
                "at": message.at,
                "kind": body.kind.value,
                "item_id": body.item_id,
                "detail": dict(body.detail),
            }
        )
        # A snapshot newer than this event already shows its effect (and perhaps its undoing).
        if fridge.inventory_seq is None or message.seq > fridge.inventory_seq:
            self._apply_item_effect(session, fridge, body.kind.value, body.item_id, message.at, now, rows)
        return "applied"

    def _apply_item_effect(
        self,
        session: Session,
        fridge: Fridge,
        kind: str,
        item_id: str | None,
        at: datetime,
        now: datetime,
        rows: PendingRows,
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
            rows.flush(session)  # the departure reads the temperature history
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
