"""Orders, seen by the household that bought and the merchant that sells; the household's undo;
logistics: the orders list, shipment events and the merchant's out-of-stock (docs/orders.md)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urljoin

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from freshtap.contract import Money
from freshtap.server.api.deps import CurrentCaller, CurrentHousehold, ServicesDep
from freshtap.server.api.logistics_schemas import (
    FulfilmentPublic,
    OrderDetail,
    OrderPage,
    ShipmentCreate,
    ShipmentPublic,
    UtcInstant,
)
from freshtap.server.api.order_deps import SoldOrder, VisibleOrder
from freshtap.server.api.payment_responses import CANCEL_RESPONSES
from freshtap.server.api.schemas import ID_PATTERN, PaymentPublic
from freshtap.server.container import Services
from freshtap.server.domain.fulfilment import CombinedStatus, combined_status
from freshtap.server.security.credentials import FridgeCaller
from freshtap.server.services.order_list import CURSOR_PATTERN, MAX_PAGE, list_orders
from freshtap.server.services.orders import OrderView
from freshtap.server.services.shipments import ShipmentInput, ShipmentService
from freshtap.server.store.shipment_models import OrderFulfilment, ShipmentEvent

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


def _shipments(services: ServicesDep) -> ShipmentService:
    return ShipmentService(services.sessions, services.clock, services.orders, services.publisher, services.settings)


Shipments = Annotated[ShipmentService, Depends(_shipments)]

_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Out of order, or the order is not paid (problem+json)"}
}


def _fulfilment_public(row: OrderFulfilment | None) -> FulfilmentPublic | None:
    if row is None:
        return None
    return FulfilmentPublic(
        status=row.status,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        tracking_status=row.tracking_status,
        shipped_at=row.shipped_at,
        delivered_at=row.delivered_at,
        restocked_at=row.restocked_at,
        out_of_stock_at=row.out_of_stock_at,
        alternative_proposal_id=row.alternative_proposal_id,
    )


def _shipment_public(event: ShipmentEvent) -> ShipmentPublic:
    return ShipmentPublic(
        id=event.id,
        order_id=event.order_id,
        carrier=event.carrier,
        tracking_number=event.tracking_number,
        status=event.status,
        event_id=event.event_id,
        at=event.at,
        received_at=event.received_at,
        changed=event.changed,
    )


def public(
    view: OrderView, services: Services, request: Request, fulfilment: OrderFulfilment | None = None
) -> OrderDetail:
    order, payment = view.order, view.payment
    next_action_url = None
    if payment is not None and payment.next_action_url and order.status == "requires_action":
        # The sandbox hands out a path on this server; the phone needs an absolute URL.
        base = services.settings.public_url or str(request.base_url)
        next_action_url = urljoin(base, payment.next_action_url)
    cancellable_until = None
    if payment is not None and order.status in ("paid", "requires_action"):
        until = payment.cancellable_until
        # Waiting for authentication can be abandoned at any time; paid orders until the window closes.
        if order.status == "requires_action" or services.clock.now() < until:
            cancellable_until = until
    return OrderDetail(
        order_id=order.id,
        status=combined_status(order.status, fulfilment.status if fulfilment else None),  # type: ignore[arg-type]
        fulfilment=_fulfilment_public(fulfilment),
        proposal_id=order.proposal_id,
        household_id=order.household_id,
        fridge_id=order.fridge_id,
        merchant_id=order.merchant_id,
        product_id=order.product_id,
        amount=Money(amount_minor=order.amount_minor, currency=order.currency),
        payment=PaymentPublic(
            state=order.payment_state,
            provider=payment.provider if payment is not None else services.payments.name,
            reference=order.payment_reference,
            failure_reason=order.failure_reason,
            next_action_url=next_action_url,
            authorized_by=payment.authorized_by if payment is not None else None,
        ),
        cancellable_until=cancellable_until,
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


@router.get("")
def list_orders_route(
    caller: CurrentCaller,
    services: ServicesDep,
    request: Request,
    status: CombinedStatus | None = None,
    since: Annotated[UtcInstant | None, Query(description="Only orders placed at or after this instant")] = None,
    cursor: Annotated[str | None, Query(max_length=60, pattern=CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> OrderPage:
    """A merchant's orders, or the calling household's own, newest first; `next_cursor` pages on.

    `status` filters by the status shown (`paid` means paid and not yet shipped).
    """
    who: dict[str, Any] = (
        {"household_id": caller.household_id}
        if isinstance(caller, FridgeCaller)
        else {"merchant_id": caller.merchant_id}
    )
    rows, next_cursor = list_orders(services.sessions, status=status, since=since, cursor=cursor, limit=limit, **who)
    items = [public(OrderView(r.order, r.payment), services, request, r.fulfilment) for r in rows]
    return OrderPage(items=items, next_cursor=next_cursor)


@router.get("/{order_id}")
def get_order(
    order_id: Annotated[str, Path(max_length=40, pattern=ID_PATTERN)],
    caller: CurrentCaller,
    services: ServicesDep,
    shipments: Shipments,
    request: Request,
) -> OrderDetail:
    if isinstance(caller, FridgeCaller):
        view = services.orders.view_for(order_id, household_id=caller.household_id)
    else:
        view = services.orders.view_for(order_id, merchant_id=caller.merchant_id)
    return public(view, services, request, shipments.fulfilment(order_id))


@router.post("/{order_id}/shipments", status_code=201, responses=_CONFLICT)
def post_shipment(
    order: SoldOrder, body: ShipmentCreate, caller: CurrentCaller, shipments: Shipments, response: Response
) -> ShipmentPublic:
    """The selling merchant posts one carrier status of the order's parcel (201; a replay: 200).

    `label_created`, `in_transit`, `out_for_delivery` and `exception` make the order `shipped`,
    `delivered` makes it `delivered`; the household's fridge is told of every change. An event
    behind one already recorded, or for an order that is not paid, is refused with 409.
    """
    assert not isinstance(caller, FridgeCaller)
    event, created = shipments.record(
        caller.merchant_id,
        order.id,
        ShipmentInput(body.carrier, body.tracking_number, body.status, body.event_id, body.at),
    )
    if not created:
        response.status_code = 200
    return _shipment_public(event)


@router.get("/{order_id}/shipments")
def list_shipments(order: VisibleOrder, shipments: Shipments) -> list[ShipmentPublic]:
    """The order's shipment events, oldest first (the buying household or the selling merchant)."""
    return [_shipment_public(e) for e in shipments.events(order.id)]


@router.post("/{order_id}/out-of-stock", responses=_CONFLICT)
def out_of_stock(
    order: SoldOrder, services: ServicesDep, shipments: Shipments, request: Request, response: Response
) -> OrderDetail:
    """The selling merchant cannot supply: the payment is voided or refunded (never twice) and the
    household is told the way forward (another live offer for the item, or that it stays watched).

    200 when the money is back; 202 while the provider has not answered yet (recovery finishes it).
    Saying it again returns the order as it stands. 409 once the order has shipped.
    """
    view = shipments.out_of_stock(order.merchant_id, order.id)
    if view.order.status not in ("cancelled", "refunded"):
        response.status_code = 202
    return public(view, services, request, shipments.fulfilment(order.id))


@router.post("/{order_id}/cancel", responses=CANCEL_RESPONSES)
def cancel_order(
    order_id: Annotated[str, Path(max_length=40, pattern=ID_PATTERN)],
    household: CurrentHousehold,
    services: ServicesDep,
    request: Request,
    response: Response,
    shipments: Shipments,
) -> OrderDetail:
    """Undo a purchase before `cancellable_until`: a void if nothing was taken yet, else a refund.

    Cancelling a cancelled or refunded order returns it as it is. An order still waiting for
    authentication can be abandoned at any time. 409 when the window has closed or the charge is
    still in flight.
    """
    view = services.orders.cancel(household, order_id)
    if view.order.status not in ("cancelled", "refunded"):
        response.status_code = 202
    return public(view, services, request, shipments.fulfilment(order_id))
