"""Ownership of an order, as dependencies: the selling merchant's (`SoldOrder`), or the buying
household's or selling merchant's (`VisibleOrder`).

Another household's or merchant's order is reported exactly like one that does not exist (404),
as everywhere in `api/deps.py`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from freshtap.server.api.deps import CurrentCaller, CurrentMerchant, ServicesDep
from freshtap.server.api.schemas import ID_PATTERN
from freshtap.server.security.credentials import FridgeCaller
from freshtap.server.store.models import Order

__all__ = ["OrderId", "SoldOrder", "VisibleOrder"]

OrderId = Annotated[str, Path(max_length=40, pattern=ID_PATTERN)]


def _sold_order(order_id: OrderId, merchant: CurrentMerchant, services: ServicesDep) -> Order:
    return services.orders.get_for(order_id, merchant_id=merchant.merchant_id)


def _visible_order(order_id: OrderId, caller: CurrentCaller, services: ServicesDep) -> Order:
    if isinstance(caller, FridgeCaller):
        return services.orders.get_for(order_id, household_id=caller.household_id)
    return services.orders.get_for(order_id, merchant_id=caller.merchant_id)


SoldOrder = Annotated[Order, Depends(_sold_order)]
VisibleOrder = Annotated[Order, Depends(_visible_order)]
