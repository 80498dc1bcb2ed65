"""Tables of logistics: each order's fulfilment (shipped, delivered, restocked, out of stock) and
the shipment events merchants post.

The rules live in `domain/fulfilment.py`; `services/shipments.py` writes these rows and
`services/restock.py` closes an order when the fridge sees its item.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from freshtap.server.store.columns import timestamp as _ts

__all__ = ["OrderFulfilment", "ShipmentEvent"]


class OrderFulfilment(SQLModel, table=True):
    """The goods side of one order; the row exists from the first shipment event (or out of stock)."""

    __tablename__ = "order_fulfilment"
    # The restock hook asks, per inventory snapshot, for a fridge's orders still waiting for goods.
    __table_args__ = (Index("ix_order_fulfilment_fridge_status", "fridge_id", "status"),)
    order_id: str = Field(foreign_key="order.id", primary_key=True, max_length=40)
    fridge_id: str = Field(max_length=64)
    """The buying fridge (copied from the order, so the restock hook needs no join)."""
    gtin: str | None = Field(default=None, max_length=14)
    """The product's GTIN when the order was shipped; None: the fridge cannot recognise it."""
    ordered_at: datetime = _ts()
    """When the order was placed (and charged); an item added before it is not the delivery."""
    status: str = Field(max_length=16)
    """`shipped`, `delivered`, `restocked` or `out_of_stock` (domain/fulfilment.py)."""
    tracking_status: str | None = Field(default=None, max_length=24)
    rung: int = -1
    """The highest rung of the tracking ladder reached (-1 none, 0 label_created .. 3 delivered)."""
    carrier: str | None = Field(default=None, max_length=64)
    tracking_number: str | None = Field(default=None, max_length=64)
    shipped_at: datetime | None = _ts(nullable=True)
    delivered_at: datetime | None = _ts(nullable=True)
    restocked_at: datetime | None = _ts(nullable=True)
    restock_item_id: str | None = Field(default=None, max_length=64)
    """The fridge item that closed the order; one item closes at most one order."""
    out_of_stock_at: datetime | None = _ts(nullable=True)
    alternative_proposal_id: str | None = Field(default=None, max_length=40)
    """After out of stock: the live proposal offered instead, if there was one."""
    updated_at: datetime = _ts()


class ShipmentEvent(SQLModel, table=True):
    """One carrier status a merchant posted for one order; recorded once per `dedupe_key`."""

    __tablename__ = "shipment_event"
    __table_args__ = (UniqueConstraint("order_id", "dedupe_key", name="uq_shipment_event_dedupe"),)
    id: str = Field(primary_key=True, max_length=40)
    order_id: str = Field(foreign_key="order.id", index=True, max_length=40)
    merchant_id: str = Field(max_length=40)
    event_id: str | None = Field(default=None, max_length=100)
    dedupe_key: str = Field(max_length=120)
    """`id:<event_id>` when the merchant sent one, else a hash of what the event says."""
    fingerprint: str = Field(max_length=64)
    """A hash of carrier, tracking number, status and time: the same `event_id` must say the same."""
    carrier: str = Field(max_length=64)
    tracking_number: str = Field(max_length=64)
    status: str = Field(max_length=24)
    at: datetime = _ts()
    """When the carrier saw it (the merchant's `at`, or when it was received)."""
    received_at: datetime = _ts()
    changed: bool = False
    """Whether this event moved the order (and so sent the household a notice)."""
