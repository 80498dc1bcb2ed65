"""Media stores the channels read a post's poster and video from (`MediaStore.get(media_id) -> bytes`).

A server reads them from the database (`DatabaseMediaStore`: the `review_media` table, where the
approval puts the poster and the fridge's upload the video). `NoMedia` answers that no media
exists, and `InMemoryMediaStore` holds them in memory (tests); a post that names media it cannot
fetch is refused, never posted without them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlmodel import Session, select

from freshtap.server.social.channels.base import MediaStore
from freshtap.server.store.review_media_models import ReviewMedia

__all__ = ["DatabaseMediaStore", "InMemoryMediaStore", "MediaStore", "NoMedia"]


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


class DatabaseMediaStore:
    """The review media in the database (`review_media`), read by id."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions

    def get(self, media_id: str) -> bytes:
        with self._sessions() as session:
            data = session.exec(select(ReviewMedia.data).where(ReviewMedia.id == media_id)).first()
        if data is None:
            raise KeyError(media_id)
        return bytes(data)
