"""The uplink's on-disk queue: every device -> server message is written here before it is sent, and
deleted only once it is safe: when the server confirmed it (an `applied` notice naming its `seq`,
`confirm`), or — from a server that never confirmed anything — when the broker acknowledged it
(`delete`; the uplink decides which, see device/uplink.py, "Server confirmations").

Rows are numbered in the order they were queued (which is `seq` order: the agent numbers and
queues under one lock) and sent in that order; a message still here is sent again on the next
connection, also after a crash (the server applies each `seq` once). Messages the broker
acknowledged and the server has not confirmed yet stay here and count against the bounds below
like any other; the drop policy treats them like any other too (old telemetry first, never events).

**Bounds and drop policy.** The queue holds at most `max_messages` messages and `max_bytes` bytes
of payload. When a new message would exceed either bound, room is made in this order, never
touching a message that is on the wire right now:

1. the oldest queued **telemetry** goes first, one by one;
2. then the oldest **inventory snapshot that a newer one supersedes** (a snapshot is the whole
   inventory, so only the newest one carries information; the newest is never dropped);
3. if that is still not enough, a new telemetry message is itself dropped, and a new event or
   inventory snapshot is refused with `QueueFull`: **events are never dropped** — the caller
   keeps the change and tries again later.

Every drop is counted by type and kept in the `dropped` audit table (seq, type, reason; the last
`AUDIT_ROWS`), so "what did the fridge lose while it was offline" has an exact answer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from freshtap.contract import format_utc

from .device_store import DeviceStore, Transaction
from .errors import QueueFull

__all__ = ["AUDIT_ROWS", "DroppedMessage", "Outbox", "OutboxLimits", "QueueFull", "QueuedMessage"]

AUDIT_ROWS = 1000


@dataclass(frozen=True)
class OutboxLimits:
    max_messages: int = 20_000
    max_bytes: int = 32 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_messages < 1 or self.max_bytes < 65_536:
            raise ValueError("the queue must hold at least one message and one 64 KiB payload")


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    seq: int | None
    type: str
    qos: int
    payload: bytes


@dataclass(frozen=True)
class DroppedMessage:
    id: int
    """The queue id of the dropped message; 0 for a new message refused on arrival."""
    seq: int | None
    type: str
    reason: str


DropListener = Callable[[Sequence[DroppedMessage]], None]


class Outbox:
    """The queue inside a `DeviceStore`; see the module docstring. Thread-safe through the store."""

    def __init__(self, store: DeviceStore, limits: OutboxLimits | None = None) -> None:
        self._store = store
        self.limits = limits or OutboxLimits()

    @property
    def store(self) -> DeviceStore:
        return self._store

    def put(
        self,
        *,
        seq: int | None,
        type: str,
        qos: int,
        payload: bytes,
        now: datetime,
        in_flight: Collection[int] = (),
        on_drop: DropListener | None = None,
    ) -> int | None:
        """Queue one message (in the caller's transaction, if any); its id, or None if it was dropped.

        `in_flight` are ids that must not be dropped; `on_drop` hears, after commit, what the drop
        policy removed. Raises `QueueFull` when the policy may not make room, `ValueError` when
        the payload alone exceeds `max_bytes`.
        """
        size = len(payload)
        if size > self.limits.max_bytes:
            raise ValueError(f"a {size}-byte message cannot fit a queue of {self.limits.max_bytes} bytes")
        with self._store.transaction() as txn:
            dropped = self._make_room(txn, type, size, set(in_flight), now)
            if dropped is None:  # no room, and the new message is telemetry: it goes instead
                refused = DroppedMessage(0, seq, type, "queue_full")
                self._audit(txn, [refused], now)
                if on_drop is not None:
                    txn.after_commit(lambda: on_drop([refused]))
                return None
            cursor = txn.execute(
                "INSERT INTO outbox (seq, type, qos, payload, size, queued_at) VALUES (?, ?, ?, ?, ?, ?)",
                (seq, type, qos, payload, size, format_utc(now)),
            )
            if dropped:
                self._audit(txn, dropped, now)
                if on_drop is not None:
                    txn.after_commit(lambda: on_drop(dropped))
            row_id = cursor.lastrowid
            assert row_id is not None
            return int(row_id)

    def _make_room(
        self, txn: Transaction, type: str, size: int, in_flight: set[int], now: datetime
    ) -> list[DroppedMessage] | None:
        count, total = txn.execute("SELECT messages, bytes FROM outbox_totals WHERE id = 1").fetchone()
        over_count = count + 1 - self.limits.max_messages
        over_bytes = int(total) + size - self.limits.max_bytes
        dropped: list[DroppedMessage] = []
        while over_count > 0 or over_bytes > 0:
            victim = self._victim(txn, type, in_flight)
            if victim is None:
                if type == "telemetry":
                    return None
                raise QueueFull(
                    f"the queue holds {count} messages ({int(total)} bytes) it may not drop; {type} refused"
                )
            victim_id, victim_seq, victim_type, victim_size = victim
            txn.execute("DELETE FROM outbox WHERE id = ?", (victim_id,))
            dropped.append(DroppedMessage(victim_id, victim_seq, victim_type, "queue_full"))
            in_flight.add(victim_id)  # not again
            over_count -= 1
            over_bytes -= victim_size
        return dropped

    @staticmethod
    def _victim(txn: Transaction, incoming: str, in_flight: set[int]) -> tuple[int, int | None, str, int] | None:
        excluded = ",".join(str(i) for i in sorted(in_flight)) or "-1"
        row = txn.execute(
            f"SELECT id, seq, type, size FROM outbox WHERE type = 'telemetry' AND id NOT IN ({excluded})"  # noqa: S608
            " ORDER BY id LIMIT 1"
        ).fetchone()
        if row is not None:
            return row[0], row[1], row[2], row[3]
        # A snapshot is superseded by any newer one, including the one arriving now.
        newest = None
        if incoming != "inventory":
            newest_row = txn.execute("SELECT max(id) FROM outbox WHERE type = 'inventory'").fetchone()
            newest = newest_row[0] if newest_row is not None else None
            if newest is None:
                return None
        bound = "" if newest is None else f" AND id < {int(newest)}"
        row = txn.execute(
            f"SELECT id, seq, type, size FROM outbox WHERE type = 'inventory'{bound} AND id NOT IN ({excluded})"  # noqa: S608
            " ORDER BY id LIMIT 1"
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2], row[3])

    @staticmethod
    def _audit(txn: Transaction, dropped: Sequence[DroppedMessage], now: datetime) -> None:
        stamp = format_utc(now)
        for message in dropped:
            txn.execute(
                "INSERT INTO dropped (seq, type, reason, dropped_at) VALUES (?, ?, ?, ?)",
                (message.seq, message.type, message.reason, stamp),
            )
            totals = txn.get_state("outbox.dropped") or {}
            totals[message.type] = int(totals.get(message.type, 0)) + 1
            txn.put_state("outbox.dropped", totals)
        txn.execute(
            "DELETE FROM dropped WHERE id <= (SELECT max(id) FROM dropped) - ?", (AUDIT_ROWS,)
        )

    # ---- reading and acknowledging -------------------------------------------------------

    def after(self, last_id: int, limit: int) -> list[QueuedMessage]:
        """Up to `limit` queued messages with ids above `last_id`, oldest first."""
        rows = self._store.read(
            "SELECT id, seq, type, qos, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit)
        )
        return [QueuedMessage(int(r[0]), r[1], str(r[2]), int(r[3]), bytes(r[4])) for r in rows]

    def confirm(self, seqs: Collection[tuple[int, int]]) -> int:
        """Forget the messages whose `seq` lies in one of the inclusive ranges; how many went."""
        if not seqs:
            return 0
        with self._store.transaction() as txn:
            before = txn.execute("SELECT messages FROM outbox_totals WHERE id = 1").fetchone()[0]
            txn.connection.executemany("DELETE FROM outbox WHERE seq BETWEEN ? AND ?", list(seqs))
            after = txn.execute("SELECT messages FROM outbox_totals WHERE id = 1").fetchone()[0]
        return int(before) - int(after)

    def ids(self) -> set[int]:
        """The ids of every queued message."""
        return {int(r[0]) for r in self._store.read("SELECT id FROM outbox")}

    def delete(self, ids: Collection[int]) -> None:
        """Forget these messages (acknowledged by a broker whose server does not confirm)."""
        if not ids:
            return
        with self._store.transaction() as txn:
            txn.connection.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def depth(self) -> tuple[int, int]:
        """(messages, payload bytes) queued now."""
        ((count, total),) = self._store.read("SELECT messages, bytes FROM outbox_totals WHERE id = 1")
        return int(count), int(total)

    def last_id(self) -> int:
        ((value,),) = self._store.read("SELECT coalesce(max(id), 0) FROM outbox")
        return int(value)

    def dropped_totals(self) -> dict[str, int]:
        """Messages the drop policy removed over the device's life, by type."""
        totals = self._store.get_state("outbox.dropped") or {}
        return {str(k): int(v) for k, v in totals.items()}

    def recent_drops(self, limit: int = 100) -> list[DroppedMessage]:
        """The newest drops (at most `AUDIT_ROWS` are kept), newest first."""
        rows = self._store.read("SELECT id, seq, type, reason FROM dropped ORDER BY id DESC LIMIT ?", (limit,))
        return [DroppedMessage(int(r[0]), r[1], str(r[2]), str(r[3])) for r in rows]
