"""Committed Buy taps on disk, so a restart neither forgets an order nor loses its idempotency key.

A tap is written here *before* its first request goes out: if the agent dies after the server took
the request but before the answer came back, the next run sends the same `Idempotency-Key` again
and gets the same order — never a second charge. Taps still inside their undo window are not
written: the household could not undo them while the agent was down, so they are not sent.

One JSON file, replaced atomically (write, fsync, rename). Without a directory the log lives in
memory only.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["PurchaseLog"]

log = logging.getLogger(__name__)

_FILE = "door-screen-taps.json"
_VERSION = 1


class PurchaseLog:
    def __init__(self, directory: Path | None) -> None:
        self._path = None if directory is None else Path(directory) / _FILE
        self._memory: list[dict[str, Any]] = []

    @property
    def path(self) -> Path | None:
        return self._path

    def load(self) -> list[dict[str, Any]]:
        if self._path is None:
            return [dict(entry) for entry in self._memory]
        try:
            raw = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            # A damaged log must not stop the screen; keep the bad file for inspection.
            log.warning("door screen tap log %s unreadable (%s); starting empty", self._path, exc)
            self._path.replace(self._path.with_suffix(".damaged"))
            return []
        if not isinstance(raw, dict) or raw.get("v") != _VERSION or not isinstance(raw.get("taps"), list):
            log.warning("door screen tap log %s has an unknown layout; starting empty", self._path)
            return []
        return [entry for entry in raw["taps"] if isinstance(entry, dict)]

    def save(self, entries: Sequence[dict[str, Any]]) -> None:
        if self._path is None:
            self._memory = [dict(entry) for entry in entries]
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"v": _VERSION, "taps": list(entries)}, ensure_ascii=False, indent=1)
        fd, tmp = tempfile.mkstemp(prefix=".taps-", dir=self._path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
