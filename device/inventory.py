"""What is inside the fridge, as the agent knows it: a thread-safe map of contract items.

Items are the contract's frozen `InventoryItem`; every change builds a new, re-validated item, so
nothing that breaks the contract (a fill of 1.5, a naive timestamp) can get into a snapshot.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from freshtap.contract import InventoryItem

__all__ = ["Inventory"]


class Inventory:
    """Items by `item_id`, in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, InventoryItem] = {}

    def add(self, item: InventoryItem) -> InventoryItem:
        """Put `item` in; `ValueError` if an item with its id is already inside."""
        with self._lock:
            if item.item_id in self._items:
                raise ValueError(f"item {item.item_id!r} is already in the fridge")
            self._items[item.item_id] = item
        return item

    def remove(self, item_id: str) -> InventoryItem:
        """Take an item out and return it; `KeyError` if it is not inside."""
        with self._lock:
            return self._items.pop(item_id)

    def update(self, item_id: str, **changes: Any) -> InventoryItem:
        """Replace fields of one item, validating the result; `KeyError` if it is not inside."""
        with self._lock:
            current = self._items[item_id]
            updated = InventoryItem.model_validate({**current.model_dump(), **changes}, strict=True)
            self._items[item_id] = updated
            return updated

    def open(self, item_id: str, at: datetime) -> InventoryItem:
        """Mark an item opened at `at`, unless it already was (the first opening counts)."""
        with self._lock:
            current = self._items[item_id]
        if current.opened_at is not None:
            return current
        return self.update(item_id, opened_at=at)

    def get(self, item_id: str) -> InventoryItem | None:
        with self._lock:
            return self._items.get(item_id)

    def snapshot(self) -> tuple[InventoryItem, ...]:
        with self._lock:
            return tuple(self._items.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, item_id: object) -> bool:
        with self._lock:
            return item_id in self._items

    def replace_all(self, items: tuple[InventoryItem, ...]) -> None:
        """Hold exactly `items`, in that order (restoring a snapshot, or loading one from disk)."""
        with self._lock:
            self._items = {item.item_id: item for item in items}
