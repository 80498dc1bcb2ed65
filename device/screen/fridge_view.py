"""What the door screen reads from the fridge agent: a narrow protocol `FridgeAgent` satisfies.

The screen only reads (items, live offers, connection state) and waits for the offers to change;
it never publishes. A test or a demo can pass any object with these members.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from freshtap.contract import InventoryItem, OfferEntry

__all__ = ["FridgeView"]


class FridgeView(Protocol):
    @property
    def fridge_id(self) -> str: ...

    @property
    def items(self) -> tuple[InventoryItem, ...]: ...

    @property
    def offers(self) -> tuple[OfferEntry, ...]: ...

    @property
    def connection(self) -> str:
        """`online`, `connecting` or `offline` (the uplink's `ConnectionState`, a str enum)."""
        ...

    def wait_for_offers(
        self, predicate: Callable[[tuple[OfferEntry, ...]], bool], timeout: float
    ) -> tuple[OfferEntry, ...]:
        """Block until the offers satisfy `predicate`; `TimeoutError` after `timeout` seconds."""
        ...
