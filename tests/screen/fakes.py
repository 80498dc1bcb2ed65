"""Small doubles for the door screen's two seams: the fridge it reads and the server it calls."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from freshtap.contract import (
    InventoryItem,
    Money,
    OfferEntry,
    OfferMerchant,
    OfferProduct,
    OfferReason,
)
from freshtap.device.screen import ApiUnavailable, OrderInfo, ServerInventory

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MILK_GTIN = "09506000134352"


class FakeFridge:
    """A `FridgeView`: items, offers and connection a test sets; offers wake waiters like the agent's board."""

    def __init__(self, fridge_id: str = "f-screen", items: Sequence[InventoryItem] = ()) -> None:
        self.fridge_id = fridge_id
        self._items = tuple(items)
        self._changed = threading.Condition()
        self._offers: tuple[OfferEntry, ...] = ()
        self.connection = "online"

    @property
    def items(self) -> tuple[InventoryItem, ...]:
        return self._items

    def set_items(self, items: Sequence[InventoryItem]) -> None:
        self._items = tuple(items)

    @property
    def offers(self) -> tuple[OfferEntry, ...]:
        with self._changed:
            return self._offers

    def set_offers(self, offers: Sequence[OfferEntry]) -> None:
        with self._changed:
            self._offers = tuple(offers)
            self._changed.notify_all()

    def wait_for_offers(
        self, predicate: Callable[[tuple[OfferEntry, ...]], bool], timeout: float
    ) -> tuple[OfferEntry, ...]:
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self._offers), timeout):
                raise TimeoutError
            return self._offers


class FakeApi:
    """A `HouseholdApi` whose answers a test scripts; it records every call (thread-safe)."""

    def __init__(self, inventory: ServerInventory | None = None) -> None:
        self.inventory_answer: ServerInventory | Exception = inventory or ServerInventory({}, None, None)
        self.accept_script: list[OrderInfo | Exception] = []
        self.order_script: list[OrderInfo | Exception] = []
        self.calls: list[tuple[str, ...]] = []
        self._cond = threading.Condition()
        self.closed = False

    def _record(self, *call: str) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def wait_calls(self, kind: str, count: int, timeout: float = 10.0) -> list[tuple[str, ...]]:
        with self._cond:
            ok = self._cond.wait_for(lambda: len([c for c in self.calls if c[0] == kind]) >= count, timeout)
            assert ok, f"expected {count} {kind} calls, got {self.calls}"
            return [c for c in self.calls if c[0] == kind]

    async def inventory(self, fridge_id: str) -> ServerInventory:
        self._record("inventory", fridge_id)
        if isinstance(self.inventory_answer, Exception):
            raise self.inventory_answer
        return self.inventory_answer

    async def accept(self, proposal_id: str, idempotency_key: str) -> OrderInfo:
        self._record("accept", proposal_id, idempotency_key)
        if not self.accept_script:
            raise ApiUnavailable("no scripted answer")
        answer = self.accept_script.pop(0) if len(self.accept_script) > 1 else self.accept_script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def order(self, order_id: str) -> OrderInfo:
        self._record("order", order_id)
        if not self.order_script:
            raise ApiUnavailable("no scripted answer")
        answer = self.order_script.pop(0) if len(self.order_script) > 1 else self.order_script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def aclose(self) -> None:
        self.closed = True


def order(order_id: str = "o-1", status: str = "paid", *, next_action_url: str | None = None,
          failure_reason: str | None = None, proposal_id: str = "p-1") -> OrderInfo:
    return OrderInfo(
        order_id=order_id,
        status=status,
        proposal_id=proposal_id,
        amount=Money(amount_minor=1290, currency="CNY"),
        payment_state={"paid": "succeeded", "declined": "failed"}.get(status, "pending"),
        failure_reason=failure_reason,
        next_action_url=next_action_url,
    )


def item(item_id: str, name: str, *, category: str = "dairy", compartment: str = "fridge",
         label_expiry: date | None = None, added_days_ago: float = 1, now: datetime = START,
         opened_at: datetime | None = None, fill: float | None = None, gtin: str | None = None) -> InventoryItem:
    return InventoryItem(
        item_id=item_id,
        gtin=gtin,
        name=name,
        category=category,
        compartment=compartment,
        fill=fill,
        added_at=now - timedelta(days=added_days_ago),
        opened_at=opened_at,
        label_expiry=label_expiry,
        expiry_kind=None if label_expiry is None else "expiry",
    )


def offer(proposal_id: str = "p-1", item_id: str = "milk", *, expires_in: timedelta = timedelta(hours=24),
          now: datetime = START, product: str = "Whole milk 1 L") -> OfferEntry:
    return OfferEntry(
        proposal_id=proposal_id,
        offer_id="of-1",
        item_id=item_id,
        product=OfferProduct(gtin=MILK_GTIN, name=product),
        merchant=OfferMerchant(id="m-1", name="Corner Dairy"),
        price=Money(amount_minor=1290, currency="CNY"),
        reason=OfferReason(kind="expiring", text=f"{product} expires in 20 h"),
        expires_at=now + expires_in,
    )
