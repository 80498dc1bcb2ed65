"""Orders, seen by the household that bought and the merchant that sells; the household's undo."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urljoin

from fastapi import APIRouter, Path, Request, Response

from freshtap.contract import Money
from freshtap.server.api.deps import CurrentCaller, CurrentHousehold, ServicesDep
from freshtap.server.api.payment_responses import CANCEL_RESPONSES
from freshtap.server.api.schemas import ID_PATTERN, OrderPublic, PaymentPublic
from freshtap.server.container import Services
from freshtap.server.security.credentials import FridgeCaller
from freshtap.server.services.orders import OrderView

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])




def public(view: OrderView, services: Services, request: Request) -> OrderPublic:
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
    return OrderPublic(
        order_id=order.id,
        status=order.status,
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


@router.get("/{order_id}")
def get_order(
    order_id: Annotated[str, Path(max_length=40, pattern=ID_PATTERN)],
    caller: CurrentCaller,
    services: ServicesDep,
    request: Request,
) -> OrderPublic:
    if isinstance(caller, FridgeCaller):
        view = services.orders.view_for(order_id, household_id=caller.household_id)
    else:
        view = services.orders.view_for(order_id, merchant_id=caller.merchant_id)
    return public(view, services, request)


@router.post("/{order_id}/cancel", responses=CANCEL_RESPONSES)
def cancel_order(
    order_id: Annotated[str, Path(max_length=40, pattern=ID_PATTERN)],
    household: CurrentHousehold,
    services: ServicesDep,
    request: Request,
    response: Response,
) -> OrderPublic:
    """Undo a purchase before `cancellable_until`: a void if nothing was taken yet, else a refund.

    Cancelling a cancelled or refunded order returns it as it is. An order still waiting for
    authentication can be abandoned at any time. 409 when the window has closed or the charge is
    still in flight.
    """
    view = services.orders.cancel(household, order_id)
    if view.order.status not in ("cancelled", "refunded"):
        response.status_code = 202
    return public(view, services, request)
