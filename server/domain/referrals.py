"""Referral attribution and reward eligibility: pure rules, time passed in.

- An order placed through a referral link is **attributed** when it is placed within the
  attribution window after the link was made (the post's approval).
- An attributed order **earns** its referrer a reward unless it was bought from the very fridge
  whose review made the link (`self_referral`) or from another fridge of the same household
  (`same_household`).
- The reward is **granted** only once the referred order's cancellation window has passed and it
  is still paid (not cancelled, refunded or declined); until then it waits; a cancelled, refunded
  or declined order earns nothing (`order_cancelled`).

Nothing here takes a rating or the review's text: a reward cannot depend on sentiment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

__all__ = [
    "Attribution",
    "Buyer",
    "NoRewardReason",
    "RewardDecision",
    "attribute",
    "reward_decision",
]

NoRewardReason = Literal["self_referral", "same_household", "outside_window", "order_cancelled"]
RewardDecision = Literal["grant", "wait", "none"]

_LIVE_STATUSES = frozenset({"paid", "shipped", "delivered", "restocked"})
_DEAD_STATUSES = frozenset({"cancelled", "refunded", "declined"})


@dataclass(frozen=True)
class Buyer:
    """Who placed an order (or whose review made the link): the household and the fridge it used."""

    household_id: str
    fridge_id: str


@dataclass(frozen=True)
class Attribution:
    attributed: bool
    """The order counts as a referral order (placed within the window)."""
    eligible: bool
    """The referrer may earn a reward for it (subject to the cancellation window)."""
    reason: NoRewardReason | None
    """Why it earns nothing; None when eligible."""


def attribute(
    referrer: Buyer,
    buyer: Buyer,
    link_created_at: datetime,
    placed_at: datetime,
    window: timedelta,
) -> Attribution:
    """Whether an order placed through a link counts, and whether it can earn its referrer a reward."""
    if placed_at < link_created_at or placed_at - link_created_at > window:
        return Attribution(attributed=False, eligible=False, reason="outside_window")
    if buyer.fridge_id == referrer.fridge_id:
        return Attribution(attributed=True, eligible=False, reason="self_referral")
    if buyer.household_id == referrer.household_id:
        return Attribution(attributed=True, eligible=False, reason="same_household")
    return Attribution(attributed=True, eligible=True, reason=None)


def reward_decision(order_status: str, cancellable_until: datetime | None, now: datetime) -> RewardDecision:
    """For an eligible referral order: grant the reward now, wait, or give none (the order died)."""
    if order_status in _DEAD_STATUSES:
        return "none"
    if order_status not in _LIVE_STATUSES or cancellable_until is None:
        return "wait"  # still pending, or waiting for the owner to authenticate
    return "grant" if now >= cancellable_until else "wait"
