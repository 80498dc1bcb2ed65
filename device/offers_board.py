"""The live offers the server last sent this fridge (the retained `offers` topic).

Each `offers` message is the full list, so the board simply replaces what it holds; an empty
list clears the screen. Readers may block until the list satisfies a condition.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from freshtap.contract import OfferEntry, OffersMessage

__all__ = ["OffersBoard", "OffersPredicate"]

OffersPredicate = Callable[[tuple[OfferEntry, ...]], bool]


class OffersBoard:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._offers: tuple[OfferEntry, ...] = ()
        self._updates = 0

    @property
    def offers(self) -> tuple[OfferEntry, ...]:
        with self._changed:
            return self._offers

    @property
    def updates(self) -> int:
        """How many `offers` messages arrived (a retained one counts on every connect)."""
        with self._changed:
            return self._updates

    def replace(self, message: OffersMessage) -> tuple[OfferEntry, ...]:
        offers = tuple(message.body.offers)
        with self._changed:
            self._offers = offers
            self._updates += 1
            self._changed.notify_all()
        return offers

    def wait_for(self, predicate: OffersPredicate, timeout: float) -> tuple[OfferEntry, ...]:
        """Block until `predicate(offers)` holds and return those offers; `TimeoutError` after `timeout`."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self._offers), timeout):
                raise TimeoutError(f"offers did not match within {timeout}s (now {len(self._offers)} offers)")
            return self._offers
