"""Restock detected by the fridge itself: a delivered order closes when its item shows up inside.

`restock_arrivals` runs inside the ingest transaction of every applied inventory snapshot (one call
from `IngestService._apply_inventory`). It is built to cost nothing on the hot path: a snapshot
with no GTIN asks nothing, and otherwise one query on the `(fridge_id, status)` index asks for this
fridge's orders that are shipped or delivered with one of the snapshot's GTINs — almost always none.

An order becomes `restocked` (domain/fulfilment.py `restock`) when the snapshot holds an item with
the order's GTIN added after the order was placed (the item it replaces was there before), once:
the change is a conditional update from shipped/delivered, and one fridge item closes at most one
order (oldest order first). The household's notice is published only after the ingest transaction
commits, so a snapshot that is rolled back (and redelivered) never announces anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event, update
from sqlmodel import Session, col, select

from freshtap.contract import InventoryItem
from freshtap.server.domain.fulfilment import restock
from freshtap.server.domain.orders import OrderStatus
from freshtap.server.services.notices import restocked_fields, send_order_notice
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.services.shipments import fulfilment_of
from freshtap.server.store.models import Order, Product
from freshtap.server.store.shipment_models import OrderFulfilment

__all__ = ["restock_arrivals"]

_WAITING = ("shipped", "delivered")


def restock_arrivals(
    session: Session, publisher: FridgePublisher, fridge_id: str, items: Sequence[InventoryItem], now: datetime
) -> int:
    """Close the fridge's shipped or delivered orders whose item the snapshot shows; how many closed."""
    gtins = {item.gtin for item in items if item.gtin}
    if not gtins:
        return 0
    waiting = session.exec(
        select(OrderFulfilment)
        .where(
            OrderFulfilment.fridge_id == fridge_id,
            col(OrderFulfilment.status).in_(_WAITING),
            col(OrderFulfilment.gtin).in_(gtins),
        )
        .order_by(col(OrderFulfilment.ordered_at), col(OrderFulfilment.order_id))
    ).all()
    if not waiting:
        return 0
    ids = [item.item_id for item in items]
    used = set(
        session.exec(
            select(OrderFulfilment.restock_item_id).where(
                OrderFulfilment.fridge_id == fridge_id,
                OrderFulfilment.status == "restocked",
                col(OrderFulfilment.restock_item_id).in_(ids),
            )
        ).all()
    )
    closed: list[tuple[str, str]] = []
    for row in waiting:
        order = session.get(Order, row.order_id)
        if order is None:
            continue
        payment_status: OrderStatus = order.status  # type: ignore[assignment]
        for item in sorted(items, key=lambda i: (i.added_at, i.item_id)):
            if item.gtin != row.gtin or item.item_id in used:
                continue
            if restock(payment_status, fulfilment_of(row), item.added_at, row.ordered_at) is None:
                continue
            done = session.execute(
                update(OrderFulfilment)
                .execution_options(synchronize_session=False)
                .where(col(OrderFulfilment.order_id) == row.order_id, col(OrderFulfilment.status).in_(_WAITING))
                .values(status="restocked", restocked_at=now, restock_item_id=item.item_id, updated_at=now)
            )
            if done.rowcount == 1:  # type: ignore[attr-defined]
                used.add(item.item_id)
                product = session.get(Product, order.product_id)
                closed.append((order.id, product.name if product is not None else item.name))
            break
    if closed:
        _notify_after_commit(session, publisher, fridge_id, closed, now)
    return len(closed)


def _notify_after_commit(
    session: Session, publisher: FridgePublisher, fridge_id: str, closed: list[tuple[str, str]], now: datetime
) -> None:
    def send(_session: Any) -> None:
        for order_id, product in closed:
            send_order_notice(publisher, fridge_id, order_id, "restocked", now, restocked_fields(product))

    event.listen(session, "after_commit", send, once=True)
