"""The on-disk queue: order, durability across reopening, bounds, and a drop policy that never drops an event."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from freshtap.device import DeviceStore, DeviceStoreError, DroppedMessage, Outbox, OutboxLimits, QueueFull

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SMALL = OutboxLimits(max_messages=5, max_bytes=1 << 20)


def opened(path: Path, limits: OutboxLimits = SMALL) -> Outbox:
    store = DeviceStore(path)
    store.open()
    return Outbox(store, limits)


def put(outbox: Outbox, seq: int, kind: str, size: int = 10, **kw: object) -> int | None:
    return outbox.put(seq=seq, type=kind, qos=1, payload=b"x" * size, now=NOW, **kw)  # type: ignore[arg-type]


def kinds(outbox: Outbox) -> list[tuple[int | None, str]]:
    return [(m.seq, m.type) for m in outbox.after(0, 1000)]


def test_messages_come_out_in_order_and_survive_reopening(tmp_path: Path) -> None:
    outbox = opened(tmp_path / "q.sqlite3")
    ids = [put(outbox, seq, kind) for seq, kind in [(1, "event"), (2, "telemetry"), (3, "inventory")]]
    assert ids == sorted(ids) and None not in ids
    again = opened(tmp_path / "q.sqlite3")  # another process after a crash would see the same
    assert kinds(again) == [(1, "event"), (2, "telemetry"), (3, "inventory")]
    assert [m.id for m in again.after(ids[0] or 0, 10)] == ids[1:]
    again.delete([ids[0] or 0, ids[2] or 0])
    assert kinds(opened(tmp_path / "q.sqlite3")) == [(2, "telemetry")]
    assert again.depth() == (1, 10)


def test_ids_are_never_reused_even_after_everything_was_acknowledged(tmp_path: Path) -> None:
    outbox = opened(tmp_path / "q.sqlite3")
    first = put(outbox, 1, "event")
    outbox.delete([first or 0])
    assert (put(outbox, 2, "event") or 0) > (first or 0)


def test_old_telemetry_goes_first_then_superseded_snapshots_never_events(tmp_path: Path) -> None:
    outbox = opened(tmp_path / "q.sqlite3")
    heard: list[DroppedMessage] = []
    for seq, kind in [(1, "telemetry"), (2, "inventory"), (3, "event"), (4, "telemetry"), (5, "inventory")]:
        put(outbox, seq, kind, on_drop=heard.extend)
    put(outbox, 6, "event", on_drop=heard.extend)  # full: the oldest telemetry makes room
    assert [(d.seq, d.type) for d in heard] == [(1, "telemetry")]
    put(outbox, 7, "event", on_drop=heard.extend)
    assert heard[-1].seq == 4  # the next telemetry
    put(outbox, 8, "event", on_drop=heard.extend)  # no telemetry left: the snapshot seq 5 supersedes seq 2
    assert (heard[-1].seq, heard[-1].type) == (2, "inventory")
    assert kinds(outbox) == [(3, "event"), (5, "inventory"), (6, "event"), (7, "event"), (8, "event")]
    with pytest.raises(QueueFull):
        put(outbox, 9, "event")  # only events and the newest snapshot left: refused, nothing dropped
    assert put(outbox, 10, "inventory", on_drop=heard.extend) is not None  # supersedes seq 5
    assert heard[-1].seq == 5
    assert put(outbox, 11, "telemetry", on_drop=heard.extend) is None  # no room: the new one goes
    assert heard[-1] == DroppedMessage(0, 11, "telemetry", "queue_full")
    assert kinds(outbox) == [(3, "event"), (6, "event"), (7, "event"), (8, "event"), (10, "inventory")]
    assert outbox.dropped_totals() == {"telemetry": 3, "inventory": 2}
    assert [(d.seq, d.type) for d in outbox.recent_drops()] == [
        (11, "telemetry"), (5, "inventory"), (2, "inventory"), (4, "telemetry"), (1, "telemetry")
    ]


def test_messages_on_the_wire_are_not_dropped(tmp_path: Path) -> None:
    outbox = opened(tmp_path / "q.sqlite3")
    ids = [put(outbox, seq, "telemetry") for seq in range(1, 6)]
    put(outbox, 6, "event", in_flight={ids[0], ids[1]})
    assert [seq for seq, _ in kinds(outbox)] == [1, 2, 4, 5, 6]


def test_the_byte_bound_holds_too(tmp_path: Path) -> None:
    outbox = opened(tmp_path / "q.sqlite3", OutboxLimits(max_messages=100, max_bytes=100_000))
    for seq in range(1, 4):
        put(outbox, seq, "telemetry", size=30_000)
    put(outbox, 4, "event", size=30_000)
    assert [seq for seq, _ in kinds(outbox)] == [2, 3, 4]
    assert outbox.depth() == (3, 90_000)
    with pytest.raises(ValueError):
        put(outbox, 5, "event", size=100_001)


def test_a_rolled_back_transaction_queues_nothing_and_undoes_only_its_own_level(tmp_path: Path) -> None:
    outbox = opened(tmp_path / "q.sqlite3")
    committed: list[str] = []
    rolled: list[str] = []
    with outbox.store.transaction() as txn:
        put(outbox, 1, "event")
        try:
            with outbox.store.transaction() as inner:
                put(outbox, 2, "event")
                inner.after_rollback(lambda: rolled.append("inner"))
                inner.after_commit(lambda: committed.append("inner"))
                raise RuntimeError("changed my mind")
        except RuntimeError:
            pass
        txn.after_commit(lambda: committed.append("outer"))
        txn.put_state("k", {"v": 1})
    assert kinds(outbox) == [(1, "event")]
    assert committed == ["outer"] and rolled == ["inner"]
    assert outbox.store.get_state("k") == {"v": 1}
    with pytest.raises(KeyError), outbox.store.transaction():
        put(outbox, 3, "event")
        raise KeyError("crash before commit")
    assert kinds(outbox) == [(1, "event")]
    assert outbox.depth() == (1, 10)  # the running totals roll back with the rows


def test_a_damaged_or_newer_file_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DeviceStoreError):
        DeviceStore(path).open()
    newer = tmp_path / "newer.sqlite3"
    with sqlite3.connect(newer) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(DeviceStoreError, match="newer"):
        DeviceStore(newer).open()
    closed = DeviceStore(tmp_path / "closed.sqlite3")
    with pytest.raises(DeviceStoreError, match="not open"), closed.transaction():
        pass
