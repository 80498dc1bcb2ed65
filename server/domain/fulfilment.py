"""What happens to an order after it is paid: shipped, delivered, restocked — pure rules, no I/O.

An order has two sides. The **payment** side (`domain/orders.py`) says what happened to the money;
the **fulfilment** side (this module) says what happened to the goods. People see one `status`,
combined by `combined_status`:

    payment status      fulfilment          status shown
    paid                none                paid
    paid                shipped             shipped      the merchant handed it to a carrier
    paid                delivered           delivered    the carrier says it arrived
    paid                restocked           restocked    the fridge itself saw the item (closed)
    anything else       (any)               the payment status (pending, requires_action,
                                            declined, cancelled, refunded)

So fulfilment only ever refines `paid`: once the money is given back (a refund after the merchant
ran out of stock, or a cancel in the window) the payment status shows, whatever was shipped.
`out_of_stock` is a fulfilment outcome too, but it is never shown as the status: the merchant's
out-of-stock refunds or voids the payment, so the order shows `refunded` or `cancelled`, and
`fulfilment.status` tells why.

Fulfilment moves only forward:

    none ──shipment event──▶ shipped ──`delivered` event──▶ delivered
      │                         └───────fridge sees the item──────┐   │
      │                                                           ▼   ▼
      └──out of stock──▶ out_of_stock                           restocked (once, final)

Shipment events carry the carrier's tracking status, which has its own order:
`label_created` < `in_transit` < `out_for_delivery` < `delivered`. `exception` (a failed delivery
attempt, damage, a hold) may come at any point before `delivered` and does not move the ladder.
An event lower on the ladder than one already recorded is out of order (`Conflict`, 409); an event
at the same rung (another `in_transit` scan at the next hub) is recorded but changes nothing.
Every tracking status but `delivered` makes (or keeps) the order `shipped`; `delivered` makes it
`delivered`. Once restocked, only a late `delivered` is still accepted (it changes nothing).
A shipment for an order that is not paid, or that ran out of stock, is a `Conflict` too.
The same event delivered twice is recognised by its id by the caller, before these rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from freshtap.server.domain.errors import Conflict
from freshtap.server.domain.orders import OrderStatus

__all__ = [
    "TRACKING_STATUSES",
    "CombinedStatus",
    "Fulfilment",
    "FulfilmentStatus",
    "TrackingStatus",
    "combined_status",
    "mark_out_of_stock",
    "record_shipment",
    "restock",
    "restock_candidate",
]

TrackingStatus = Literal["label_created", "in_transit", "out_for_delivery", "delivered", "exception"]
FulfilmentStatus = Literal["shipped", "delivered", "restocked", "out_of_stock"]
CombinedStatus = Literal[
    "pending", "requires_action", "paid", "declined", "cancelled", "refunded", "shipped", "delivered", "restocked"
]

TRACKING_STATUSES: tuple[TrackingStatus, ...] = (
    "label_created",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "exception",
)

_RUNG: dict[TrackingStatus, int] = {"label_created": 0, "in_transit": 1, "out_for_delivery": 2, "delivered": 3}
_SHOWN: frozenset[FulfilmentStatus] = frozenset({"shipped", "delivered", "restocked"})


@dataclass(frozen=True)
class Fulfilment:
    """The goods side of one order, as the rules need it.

    `status`: None until the first shipment event (or out of stock). `tracking`: the carrier's
    latest status. `rung`: the highest ladder rung any event reached (-1: none yet).
    """

    status: FulfilmentStatus | None = None
    tracking: TrackingStatus | None = None
    rung: int = -1


def combined_status(payment_status: OrderStatus, fulfilment: FulfilmentStatus | None) -> CombinedStatus:
    """The one status people see (see the table in the module docstring)."""
    if payment_status == "paid" and fulfilment in _SHOWN:
        return fulfilment  # type: ignore[return-value]
    return payment_status


def record_shipment(payment_status: OrderStatus, current: Fulfilment, event: TrackingStatus) -> Fulfilment:
    """The fulfilment after a shipment event; raises `Conflict` for one that cannot happen now."""
    if current.status == "out_of_stock":
        raise Conflict("the merchant reported this order out of stock; it cannot be shipped")
    if payment_status != "paid":
        raise Conflict(f"only a paid order can be shipped; this one is {payment_status}")
    if current.status == "restocked":
        if event != "delivered":
            raise Conflict(f"the order was already restocked; a {event} event comes too late")
        return current
    if event == "exception":
        if current.rung >= _RUNG["delivered"]:
            raise Conflict("the order was already delivered; an exception comes too late")
        return replace(current, status="shipped", tracking=event)
    rung = _RUNG[event]
    if rung < current.rung:
        reached = next(name for name, value in _RUNG.items() if value == current.rung)
        raise Conflict(f"out of order: the shipment already reached {reached}, so it cannot be {event} again")
    status: FulfilmentStatus = "delivered" if event == "delivered" else "shipped"
    if current.status == "delivered":
        status = "delivered"
    return Fulfilment(status=status, tracking=event, rung=max(rung, current.rung))


def restock_candidate(payment_status: OrderStatus, current: Fulfilment) -> bool:
    """Whether the fridge seeing the item now closes the order: shipped or delivered, and paid."""
    return payment_status == "paid" and current.status in ("shipped", "delivered")


def restock(
    payment_status: OrderStatus, current: Fulfilment, item_added_at: datetime, ordered_at: datetime
) -> Fulfilment | None:
    """The fulfilment once the fridge sees an item of the order's GTIN added at `item_added_at`.

    None when nothing changes: the order is not waiting for its goods (not shipped or delivered,
    not paid, already restocked), or the item was in the fridge before the order was placed (it
    is the item being replaced, not the delivery).
    """
    if not restock_candidate(payment_status, current) or item_added_at <= ordered_at:
        return None
    return replace(current, status="restocked")


def mark_out_of_stock(payment_status: OrderStatus, current: Fulfilment) -> Fulfilment | None:
    """The fulfilment once the merchant says it cannot supply; None when it already said so.

    Raises `Conflict` when it is too late (shipped already) or the order never went through.
    """
    if current.status == "out_of_stock":
        return None
    if current.status is not None:
        raise Conflict(f"the order is already {current.status}; out of stock can only come before shipping")
    if payment_status == "pending":
        raise Conflict("the payment is still being processed; try again in a moment")
    if payment_status not in ("paid", "requires_action"):
        raise Conflict(f"the order is {payment_status}; there is nothing left to refund or supply")
    return replace(current, status="out_of_stock")
