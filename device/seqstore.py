"""The fridge's `seq`: an integer that only grows over the device's life, kept on disk.

The server applies each `(fridge_id, seq)` at most once, so a value must never be handed out
twice, not even across a crash or a power cut. The store therefore reserves values in blocks:
before it hands out the first value of a block it durably writes the block's end (temp file,
fsync, `os.replace`, fsync of the directory). After a crash the next process starts at the last
reserved end, so the unused rest of a block is skipped — gaps are allowed, reuse is not.

An exclusive `flock` on a sibling lock file keeps two processes (or two stores in one process)
from sharing one state directory. A missing file starts at 1; an unreadable or corrupt one is an
error, never a silent restart from 1.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
from pathlib import Path
from types import TracebackType

__all__ = ["SeqStore", "SeqStoreError"]

_FIRST_SEQ = 1
_MAX_SEQ = 2**63 - 1  # the contract's bound on `seq`
_SELECT_LIMIT = 1024  # FD_SETSIZE


def _out_of_select_range(fd: int) -> int:
    """Move a descriptor to 1024 or above when the process may, and return the one to keep.

    paho's network loop uses `select()`, which cannot watch descriptors of 1024 and up; the lock's
    descriptor is never selected on, so parking it high leaves the low numbers to the MQTT
    sockets and lets a few hundred agents share one process. The flock belongs to the open file,
    so it survives the move.
    """
    try:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _SELECT_LIMIT)
    except OSError:  # the descriptor limit is at or below 1024: keep the low one
        return fd
    os.close(fd)
    return high


class SeqStoreError(RuntimeError):
    """The sequence file is corrupt, locked by someone else, or the store is not started."""


class SeqStore:
    """Hands out strictly increasing integers, durable across restarts.

    `path` is the file holding the reserved end (next value a restarted store would hand out);
    `block` is how many values one fsync reserves. `start()` opens and locks, `stop()` releases;
    `next()` is thread-safe.
    """

    def __init__(self, path: Path, block: int = 64) -> None:
        if block < 1:
            raise ValueError("block must be at least 1")
        self._path = Path(path)
        self._block = block
        self._lock = threading.Lock()
        self._lock_fd: int | None = None
        self._next = 0
        self._reserved_end = 0

    @property
    def path(self) -> Path:
        return self._path

    def start(self) -> None:
        """Lock the directory's sequence and load the reserved end; idempotent."""
        with self._lock:
            if self._lock_fd is not None:
                return
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise SeqStoreError(f"{self._path} is in use by another sequence store") from None
            try:
                start_at = self._read()
            except BaseException:
                os.close(fd)
                raise
            self._lock_fd = _out_of_select_range(fd)
            self._next = start_at
            self._reserved_end = start_at

    def stop(self) -> None:
        """Release the lock; the unused rest of the current block is skipped next time."""
        with self._lock:
            if self._lock_fd is None:
                return
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def __enter__(self) -> SeqStore:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def next(self) -> int:
        """The next value; larger than every value this file ever handed out."""
        with self._lock:
            if self._lock_fd is None:
                raise SeqStoreError("sequence store is not started")
            if self._next >= self._reserved_end:
                end = min(self._next + self._block, _MAX_SEQ + 1)
                if end <= self._next:
                    raise SeqStoreError("sequence exhausted")
                self._write(end)
                self._reserved_end = end
            value = self._next
            self._next += 1
            return value

    # -----------------------------------------------------------------------------------------

    def _lock_path(self) -> Path:
        return self._path.with_name(self._path.name + ".lock")

    def _read(self) -> int:
        try:
            text = self._path.read_text(encoding="ascii")
        except FileNotFoundError:
            return _FIRST_SEQ
        except (OSError, UnicodeDecodeError) as exc:
            raise SeqStoreError(f"cannot read {self._path}: {exc}") from exc
        stripped = text.strip()
        if not stripped.isdigit():
            raise SeqStoreError(f"{self._path} does not hold a sequence number: {text[:40]!r}")
        value = int(stripped)
        if not _FIRST_SEQ <= value <= _MAX_SEQ + 1:
            raise SeqStoreError(f"{self._path} holds an out-of-range sequence number: {value}")
        return value

    def _write(self, value: int) -> None:
        directory = self._path.parent
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self._path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(f"{value}\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self._path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)
