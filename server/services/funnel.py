"""A merchant's funnel over a window of days: from offers shown to orders that came through referrals.

    shown       proposals of the merchant's offers put in front of a household
    accepted    orders placed (one-tap accepts)
    paid        of those, orders whose money was taken or is held (not declined, cancelled or refunded)
    delivered   of those, orders the carrier delivered (fulfilment `delivered_at`; restocked ones too)
    restocked   of those, orders the fridge itself saw back on its shelf (fulfilment `restocked`)
    reviewed    orders whose review the owner approved (services/social_funnel.py)
    referrals   orders that came through a referral link (services/social_funnel.py)

Every stage counts objects created in the window (`since` .. now), so a later stage never counts an
order placed before the window. It only reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, or_, select

from freshtap.server.services import social_funnel
from freshtap.server.store.models import Order, Proposal
from freshtap.server.store.shipment_models import OrderFulfilment

__all__ = ["STAGES", "Funnel", "FunnelStage", "merchant_funnel"]

STAGES: tuple[tuple[str, str], ...] = (
    ("shown", "Offers shown"),
    ("accepted", "Accepted"),
    ("paid", "Paid"),
    ("delivered", "Delivered"),
    ("restocked", "Restocked"),
    ("reviewed", "Reviewed"),
    ("referral_orders", "Referral orders"),
)


@dataclass(frozen=True)
class FunnelStage:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Funnel:
    since: datetime
    until: datetime
    stages: tuple[FunnelStage, ...]


_DELIVERED = or_(col(OrderFulfilment.delivered_at).is_not(None), col(OrderFulfilment.status) == "restocked")


def _orders(session: Session, merchant_id: str, since: datetime, *conditions: Any, fulfilled: bool = False) -> int:
    query = select(func.count()).select_from(Order)
    if fulfilled:
        query = query.join(OrderFulfilment, col(OrderFulfilment.order_id) == col(Order.id))
    query = query.where(Order.merchant_id == merchant_id, Order.created_at >= since, *conditions)
    return int(session.exec(query).one())


def merchant_funnel(sessions: Callable[[], Session], merchant_id: str, now: datetime, days: int) -> Funnel:
    since = now - timedelta(days=days)
    with sessions() as session:
        shown = session.exec(
            select(func.count())
            .select_from(Proposal)
            .where(Proposal.merchant_id == merchant_id, Proposal.created_at >= since)
        ).one()
        counts = {
            "shown": int(shown),
            "accepted": _orders(session, merchant_id, since),
            # The order's status is its payment side: `paid` until refunded, whatever was shipped.
            "paid": _orders(session, merchant_id, since, Order.status == "paid"),
            # A fridge that sees the item before the carrier says "delivered" proves the delivery too.
            "delivered": _orders(session, merchant_id, since, _DELIVERED, fulfilled=True),
            "restocked": _orders(session, merchant_id, since, OrderFulfilment.status == "restocked", fulfilled=True),
            "reviewed": social_funnel.reviewed_orders(session, merchant_id, since),
            "referral_orders": social_funnel.referral_orders(session, merchant_id, since),
        }
    return Funnel(since, now, tuple(FunnelStage(key, label, counts[key]) for key, label in STAGES))
