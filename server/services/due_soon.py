"""A household's own due-soon windows: how many hours before expiry a product counts as `use_soon`.

The shelf-life model takes one such window as `due_soon_hours`, overriding the
`use_soon_hours` threshold for that product (docs/shelf-life.md, "Server"). A household sets
them per fridge, for a GTIN or for a category; a GTIN's window beats its category's.
`DueSoonService.replace` stores a fridge's whole set and reassesses the fridge at once; the
read side (`DueSoonWindows`, `load_windows`) is in services/freshness.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col

from freshtap.clock import Clock
from freshtap.server.metrics import Metrics
from freshtap.server.services.freshness import DueSoonWindows, load_windows
from freshtap.server.services.proposals import publish_offers, refresh_fridge
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.store.history_models import DueSoonWindow
from freshtap.settings import Settings

__all__ = ["DueSoonService"]


class DueSoonService:
    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Clock,
        settings: Settings,
        publisher: FridgePublisher,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._publisher = publisher
        self._metrics = metrics

    def get(self, fridge_id: str) -> DueSoonWindows:
        with self._sessions() as session:
            return load_windows(session, fridge_id)

    def replace(self, fridge_id: str, windows: DueSoonWindows) -> DueSoonWindows:
        """Make `windows` the fridge's whole set, reassess its items, and republish its offers if they changed."""
        now: datetime = self._clock.now()
        with self._sessions() as session:
            session.execute(delete(DueSoonWindow).where(col(DueSoonWindow.fridge_id) == fridge_id))
            for kind, entries in (("gtin", windows.gtin), ("category", windows.category)):
                for key, hours in entries.items():
                    session.add(
                        DueSoonWindow(
                            fridge_id=fridge_id, kind=kind, key=key.strip().lower(), hours=hours, updated_at=now
                        )
                    )
            session.flush()
            changed = refresh_fridge(session, fridge_id, now, self._settings)
            session.commit()
            if changed:
                publish_offers(session, self._publisher, fridge_id, now)
                if self._metrics is not None:
                    self._metrics.offers_published.inc()
            return load_windows(session, fridge_id)
