"""Orders, seen by the household that bought and the merchant that sells."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from freshtap.contract import Money
from freshtap.server.api.deps import CurrentCaller, ServicesDep
from freshtap.server.api.schemas import OrderPublic, PaymentPublic
from freshtap.server.security.credentials import FridgeCaller
from freshtap.server.store.models import Order

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])


def public(order: Order, provider: str) -> OrderPublic:
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
            provider=provider,
            reference=order.payment_reference,
            failure_reason=order.failure_reason,
        ),
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


@router.get("/{order_id}")
def get_order(
    order_id: Annotated[str, Path(max_length=40)], caller: CurrentCaller, services: ServicesDep
) -> OrderPublic:
    if isinstance(caller, FridgeCaller):
        order = services.orders.get_for(order_id, household_id=caller.household_id)
    else:
        order = services.orders.get_for(order_id, merchant_id=caller.merchant_id)
    return public(order, services.payments.name)
