"""Media stores the channels read a post's poster and video from (`MediaStore.get(media_id) -> bytes`).

The review part's media store (posters, videos) plugs in here through the same protocol; until a
server wires one, `NoMedia` answers that no media exists, and channels post text only when a post
names none (a post that names media it cannot fetch is refused, never posted without them).
"""

from __future__ import annotations

import threading

from freshtap.server.social.channels.base import MediaStore

__all__ = ["InMemoryMediaStore", "MediaStore", "NoMedia"]


class NoMedia:
    def get(self, media_id: str) -> bytes:
        raise KeyError(media_id)


class InMemoryMediaStore:
    """Media held in memory (tests, the demo)."""

    def __init__(self) -> None:
        self._items: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, media_id: str, data: bytes) -> None:
        with self._lock:
            self._items[media_id] = data

    def get(self, media_id: str) -> bytes:
        with self._lock:
            return self._items[media_id]
