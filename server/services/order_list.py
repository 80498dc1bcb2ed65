"""The orders list: a merchant's orders or a household's own, newest first, a page at a time.

Pages are keyed, not counted: the cursor is the `(created_at, id)` of the last order of the page
(`<microseconds>.<id>`), so an order placed while someone pages through never shifts or repeats a
page. The `status` filter
is the combined status (domain/fulfilment.py): `shipped`, `delivered` and `restocked` are paid
orders at that fulfilment step, `paid` is a paid order not yet shipped; any other status is the
payment status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from freshtap.server.domain.errors import InvalidRequest
from freshtap.server.domain.fulfilment import CombinedStatus
from freshtap.server.store.models import Order
from freshtap.server.store.payments_models import OrderPayment
from freshtap.server.store.shipment_models import OrderFulfilment

__all__ = ["CURSOR_PATTERN", "MAX_PAGE", "OrderRow", "decode_cursor", "encode_cursor", "list_orders"]

MAX_PAGE = 200
_FULFILMENT_SHOWN = ("shipped", "delivered", "restocked")


@dataclass(frozen=True)
class OrderRow:
    order: Order
    payment: OrderPayment | None
    fulfilment: OrderFulfilment | None


CURSOR_PATTERN = r"^[0-9]{1,16}\.[A-Za-z0-9_-]{1,40}$"
"""`<microseconds since 1970 UTC>.<order id>` of the last order of a page."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(created_at: datetime, order_id: str) -> str:
    return f"{(created_at - _EPOCH) // timedelta(microseconds=1)}.{order_id}"


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The `(created_at, id)` a cursor names; any cursor matching `CURSOR_PATTERN` is accepted."""
    micros, _, order_id = cursor.partition(".")
    if not micros.isdigit() or len(micros) > 16 or not order_id:
        raise InvalidRequest("cursor is not one this server handed out")
    return _EPOCH + timedelta(microseconds=int(micros)), order_id


def _status_clause(status: CombinedStatus) -> ColumnElement[bool]:
    if status in _FULFILMENT_SHOWN:
        return and_(col(Order.status) == "paid", col(OrderFulfilment.status) == status)
    if status == "paid":
        return and_(
            col(Order.status) == "paid",
            or_(col(OrderFulfilment.status).is_(None), col(OrderFulfilment.status).not_in(_FULFILMENT_SHOWN)),
        )
    return col(Order.status) == status


def list_orders(
    sessions: Callable[[], Session],
    *,
    household_id: str | None = None,
    merchant_id: str | None = None,
    status: CombinedStatus | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[OrderRow], str | None]:
    """One page of the caller's orders, newest first, and the cursor of the next page (None: last)."""
    if (household_id is None) == (merchant_id is None):
        raise ValueError("give exactly one of household_id or merchant_id")
    limit = max(1, min(limit, MAX_PAGE))
    query = (
        select(Order, OrderPayment, OrderFulfilment)
        .join(OrderPayment, col(OrderPayment.order_id) == col(Order.id), isouter=True)
        .join(OrderFulfilment, col(OrderFulfilment.order_id) == col(Order.id), isouter=True)
    )
    if household_id is not None:
        query = query.where(Order.household_id == household_id)
    else:
        query = query.where(Order.merchant_id == merchant_id)
    if status is not None:
        query = query.where(_status_clause(status))
    if since is not None:
        query = query.where(col(Order.created_at) >= since)
    if cursor is not None:
        at, last_id = decode_cursor(cursor)
        query = query.where(or_(col(Order.created_at) < at, and_(col(Order.created_at) == at, col(Order.id) < last_id)))
    query = query.order_by(col(Order.created_at).desc(), col(Order.id).desc()).limit(limit + 1)
    with sessions() as session:
        rows = [OrderRow(o, p, f) for o, p, f in session.exec(query).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].order.created_at, rows[-1].order.id) if more and rows else None
    return rows, next_cursor
