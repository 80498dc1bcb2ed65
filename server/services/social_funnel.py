"""The social end of the merchant's funnel: reviewed orders and orders that came through a referral.

The console's funnel (offers shown -> accepted -> paid -> delivered -> restocked -> reviewed ->
referral orders) asks these two counts of the social part.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, func, select

from freshtap.server.store.models import Order
from freshtap.server.store.social_models import ReferralOrder, ReviewDraft

__all__ = ["referral_orders", "reviewed_orders"]


def reviewed_orders(session: Session, merchant_id: str, since: datetime) -> int:
    """Orders of this merchant's products, placed since `since`, whose review the owner approved."""
    return int(
        session.exec(
            select(func.count())
            .select_from(ReviewDraft)
            .join(Order, col(Order.id) == col(ReviewDraft.order_id))
            .where(
                ReviewDraft.merchant_id == merchant_id,
                ReviewDraft.status == "approved",
                col(Order.created_at) >= since,
            )
        ).one()
    )


def referral_orders(session: Session, merchant_id: str, since: datetime) -> int:
    """Orders of this merchant's products, placed since `since`, attributed to a referral link."""
    return int(
        session.exec(
            select(func.count())
            .select_from(ReferralOrder)
            .join(Order, col(Order.id) == col(ReferralOrder.order_id))
            .where(
                ReferralOrder.merchant_id == merchant_id,
                col(ReferralOrder.attributed),
                col(Order.created_at) >= since,
            )
        ).one()
    )
