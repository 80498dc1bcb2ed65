"""Write and read models of logistics: shipment events, an order's fulfilment, the orders list.

`OrderDetail` is `OrderPublic` with the combined `status` (payment and fulfilment, see
domain/fulfilment.py) and the `fulfilment` block; every orders endpoint returns it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from freshtap.server.api.schemas import NO_CONTROL, OrderPublic
from freshtap.server.domain.fulfilment import CombinedStatus, TrackingStatus

__all__ = ["FulfilmentPublic", "OrderDetail", "OrderPage", "ShipmentCreate", "ShipmentPublic", "UtcInstant"]


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or 9999: the far past or future, which is all it says
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


UtcInstant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A timestamp with its UTC offset (RFC 3339), kept in UTC."""


class ShipmentCreate(BaseModel):
    """`POST /api/v1/orders/{order_id}/shipments`: one carrier status of the order's parcel."""

    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)
    tracking_number: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)
    status: TrackingStatus
    event_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=NO_CONTROL)
    """The merchant's (or carrier's) id of this event: posting it again returns the first record."""
    at: UtcInstant | None = None
    """When the carrier saw it; defaults to when the server received it."""


class ShipmentPublic(BaseModel):
    id: str
    order_id: str
    carrier: str
    tracking_number: str
    status: TrackingStatus
    event_id: str | None
    at: datetime
    received_at: datetime
    changed: bool
    """Whether this event moved the order (and so notified the household)."""


class FulfilmentPublic(BaseModel):
    status: Literal["shipped", "delivered", "restocked", "out_of_stock"]
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_status: TrackingStatus | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    restocked_at: datetime | None = None
    out_of_stock_at: datetime | None = None
    alternative_proposal_id: str | None = None
    """After out of stock: the live proposal the household was offered instead."""


class OrderDetail(OrderPublic):
    status: CombinedStatus  # type: ignore[assignment]
    fulfilment: FulfilmentPublic | None = None
    """Null until the merchant ships (or reports it out of stock)."""


class OrderPage(BaseModel):
    items: list[OrderDetail]
    next_cursor: str | None = None
    """Pass as `cursor` for the next page; null on the last page."""
