"""The agent's durable state: one SQLite file in the fridge's state directory.

It holds the outgoing queue (`outbox.py`), a small key-value table for state that must survive a
crash together with the messages describing it (the tracker's slots, the inventory), and an
audit of what the queue's drop policy threw away. Everything that belongs together is written
in one transaction, so a `kill -9` or a power cut leaves either all of it or none.

- Durability: rollback journal (`TRUNCATE`) with `synchronous=FULL` by default, so a committed
  transaction survives a power cut; `synchronous="normal"` survives a crash of the process only.
- File descriptors: a connection is opened per transaction and closed after it. A fridge writes
  a few messages a minute, so the extra millisecond does not matter, and no descriptor stays
  open: paho's `select()` loop needs the low descriptor numbers for the MQTT sockets of the
  hundreds of agents a simulator runs in one process (`SeqStore` moves its lock out of the way
  for the same reason). The `SeqStore`'s lock already keeps other processes out of the directory.
- Transactions nest: the outermost is `BEGIN IMMEDIATE` ... `COMMIT`, inner ones are savepoints,
  so an inner failure undoes only its own part. Hooks registered in a transaction run after the
  outermost commit (`after_commit`) or when their level rolls back (`after_rollback`).
- An unreadable or corrupt file is an error (`DeviceStoreError`), never a silent fresh start.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["DeviceStore", "DeviceStoreError", "Transaction"]

_SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        seq INTEGER,
        type TEXT NOT NULL,
        qos INTEGER NOT NULL,
        size INTEGER NOT NULL,
        queued_at TEXT NOT NULL,
        payload BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_by_type ON outbox (type, id)",
    # Running totals kept by triggers, in the same transactions as the rows: O(1) for the bounds.
    """CREATE TABLE IF NOT EXISTS outbox_totals (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        messages INTEGER NOT NULL,
        bytes INTEGER NOT NULL
    )""",
    "INSERT OR IGNORE INTO outbox_totals (id, messages, bytes) VALUES (1, 0, 0)",
    """CREATE TRIGGER IF NOT EXISTS outbox_counted_in AFTER INSERT ON outbox BEGIN
        UPDATE outbox_totals SET messages = messages + 1, bytes = bytes + NEW.size WHERE id = 1;
    END""",
    """CREATE TRIGGER IF NOT EXISTS outbox_counted_out AFTER DELETE ON outbox BEGIN
        UPDATE outbox_totals SET messages = messages - 1, bytes = bytes - OLD.size WHERE id = 1;
    END""",
    """CREATE TABLE IF NOT EXISTS dropped (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        seq INTEGER,
        type TEXT NOT NULL,
        reason TEXT NOT NULL,
        dropped_at TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

Hook = Callable[[], None]


class DeviceStoreError(RuntimeError):
    """The state file is unreadable, corrupt, from a newer agent, or the store is not open."""


@dataclass
class _Level:
    committed: list[Hook] = field(default_factory=list)
    rolled_back: list[Hook] = field(default_factory=list)


class Transaction:
    """The open transaction handed to `with store.transaction() as txn:`."""

    def __init__(self, connection: sqlite3.Connection, levels: list[_Level]) -> None:
        self.connection = connection
        self._levels = levels

    @property
    def depth(self) -> int:
        """1 for the outermost transaction, 2 for one nested in it, and so on."""
        return len(self._levels)

    def execute(self, sql: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, parameters)

    def after_commit(self, hook: Hook) -> None:
        """Run `hook` once everything is committed (it must not raise)."""
        self._levels[-1].committed.append(hook)

    def after_rollback(self, hook: Hook) -> None:
        """Run `hook` if this level is rolled back."""
        self._levels[-1].rolled_back.append(hook)

    def get_state(self, key: str) -> Any:
        row = self.connection.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put_state(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value under `key` (replacing what was there)."""
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
        self.connection.execute(
            "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, text),
        )


class DeviceStore:
    """One agent's state file; `open()` creates or checks it, `transaction()` reads and writes it."""

    def __init__(self, path: Path, *, synchronous: Literal["full", "normal"] = "full") -> None:
        self._path = Path(path)
        self._synchronous = synchronous.upper()
        self._lock = threading.RLock()
        self._open = False
        self._local = threading.local()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def is_open(self) -> bool:
        return self._open

    def open(self) -> None:
        """Create the file (and its directory) if missing, check it, and allow transactions. Idempotent."""
        with self._lock:
            if self._open:
                return
            self._path.parent.mkdir(parents=True, exist_ok=True)
            try:
                connection = self._connect()
                try:
                    version = connection.execute("PRAGMA user_version").fetchone()[0]
                    if version > _SCHEMA_VERSION:
                        raise DeviceStoreError(
                            f"{self._path} was written by a newer agent (schema {version} > {_SCHEMA_VERSION})"
                        )
                    check = connection.execute("PRAGMA quick_check").fetchone()[0]
                    if check != "ok":
                        raise DeviceStoreError(f"{self._path} is damaged: {check}")
                    connection.execute("BEGIN IMMEDIATE")
                    for statement in _SCHEMA:
                        connection.execute(statement)
                    connection.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
                    connection.execute("COMMIT")
                finally:
                    connection.close()
            except sqlite3.DatabaseError as exc:
                raise DeviceStoreError(f"cannot use {self._path}: {exc}") from exc
            self._open = True

    def close(self) -> None:
        """Refuse further transactions (waits for one in progress). Idempotent."""
        with self._lock:
            self._open = False

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A transaction, or a savepoint inside the one this thread already has open."""
        with self._lock:
            if not self._open:
                raise DeviceStoreError(f"{self._path} is not open")
            current: Transaction | None = getattr(self._local, "txn", None)
            if current is not None:
                with self._nested(current) as txn:
                    yield txn
                return
            try:
                connection = self._connect()
            except sqlite3.DatabaseError as exc:
                raise DeviceStoreError(f"cannot open {self._path}: {exc}") from exc
            levels = [_Level()]
            txn = Transaction(connection, levels)
            self._local.txn = txn
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield txn
                except BaseException:
                    connection.execute("ROLLBACK")
                    _run(levels[0].rolled_back)
                    raise
                connection.execute("COMMIT")
            finally:
                self._local.txn = None
                connection.close()
            _run(levels[0].committed)

    @contextmanager
    def _nested(self, txn: Transaction) -> Iterator[Transaction]:
        name = f"level{txn.depth + 1}"
        levels = txn._levels
        txn.execute(f"SAVEPOINT {name}")
        levels.append(_Level())
        try:
            yield txn
        except BaseException:
            level = levels.pop()
            txn.execute(f"ROLLBACK TO {name}")
            txn.execute(f"RELEASE {name}")
            _run(level.rolled_back)
            raise
        level = levels.pop()
        txn.execute(f"RELEASE {name}")
        levels[-1].committed += level.committed
        levels[-1].rolled_back += level.rolled_back

    def read(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query, in a transaction of its own (or the caller's)."""
        with self.transaction() as txn:
            return list(txn.execute(sql, parameters).fetchall())

    def get_state(self, key: str) -> Any:
        with self.transaction() as txn:
            return txn.get_state(key)

    def put_state(self, key: str, value: Any) -> None:
        with self.transaction() as txn:
            txn.put_state(key, value)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode = TRUNCATE")
            connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        except BaseException:
            connection.close()
            raise
        return connection


def _run(hooks: list[Hook]) -> None:
    for hook in hooks:
        hook()
