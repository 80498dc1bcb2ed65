"""Rewards for referred orders: granted once the referred order can no longer be cancelled.

`grant_due` (a scheduler job) looks at every eligible referral order still waiting; for each it
asks `domain/referrals.reward_decision`: the order is paid and its cancellation window has passed
(grant a `Reward` of the configured kind and amount, and send a `reward` notice to the referrer's
fridges), it was cancelled, refunded or declined (no reward, reason `order_cancelled`), or not yet.
The reward row is unique per referred order, and the waiting row is claimed by a conditional
update, so two workers or two ticks never grant twice. Nothing here reads the review or a rating.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.server.domain.referrals import reward_decision
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.services.reviews import send_notice
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import Fridge, Order
from freshtap.server.store.payments_models import OrderPayment
from freshtap.server.store.social_models import ReferralOrder, Reward
from freshtap.settings import ReferralSettings

__all__ = ["RewardService"]


class RewardService:
    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Clock,
        config: ReferralSettings,
        publisher: FridgePublisher,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._config = config
        self._publisher = publisher

    def grant_due(self, limit: int = 500) -> int:
        """Decide every waiting referral order that can be decided now; returns how many rewards were granted."""
        now = self._clock.now()
        with self._sessions() as session:
            waiting = session.exec(
                select(ReferralOrder, Order, OrderPayment)
                .join(Order, col(Order.id) == col(ReferralOrder.order_id))
                .join(OrderPayment, col(OrderPayment.order_id) == col(Order.id), isouter=True)
                .where(ReferralOrder.reward_status == "pending", col(ReferralOrder.eligible))
                .order_by(col(ReferralOrder.created_at))
                .limit(limit)
            ).all()
        granted = 0
        for referral, order, payment in waiting:
            until = payment.cancellable_until if payment is not None else None
            decision = reward_decision(order.status, until, now)
            if decision == "wait":
                continue
            reward = self._decide(referral.order_id, referral.referrer_household_id, decision == "grant")
            if reward is not None:
                granted += 1
                self._notify(reward)
        return granted

    def _decide(self, order_id: str, referrer_id: str, grant: bool) -> Reward | None:
        now = self._clock.now()
        with self._sessions() as session:
            claimed = session.execute(
                update(ReferralOrder)
                .execution_options(synchronize_session=False)
                .where(col(ReferralOrder.order_id) == order_id, col(ReferralOrder.reward_status) == "pending")
                .values(
                    reward_status="granted" if grant else "none",
                    reason=None if grant else "order_cancelled",
                    decided_at=now,
                )
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                return None
            reward = None
            if grant:
                reward = Reward(
                    id=new_id("rwd"),
                    order_id=order_id,
                    household_id=referrer_id,
                    kind=self._config.reward_kind,
                    amount_minor=self._config.reward_minor,
                    currency=self._config.reward_currency,
                    granted_at=now,
                )
                session.add(reward)
            session.commit()
            if reward is not None:
                session.refresh(reward)
            return reward

    def _notify(self, reward: Reward) -> None:
        with self._sessions() as session:
            fridges = session.exec(select(Fridge.id).where(Fridge.household_id == reward.household_id)).all()
        for fridge_id in fridges:
            send_notice(
                self._publisher,
                fridge_id,
                self._clock.now(),
                {
                    "kind": "reward",
                    "reward_id": reward.id,
                    "reward_kind": reward.kind,
                    "amount": {"amount_minor": reward.amount_minor, "currency": reward.currency},
                },
            )

    def earnings_of(self, household_id: str) -> list[tuple[ReferralOrder, Reward | None]]:
        """Orders placed through this household's links, newest first, with the reward each earned."""
        with self._sessions() as session:
            rows = session.exec(
                select(ReferralOrder, Reward)
                .join(Reward, col(Reward.order_id) == col(ReferralOrder.order_id), isouter=True)
                .where(ReferralOrder.referrer_household_id == household_id)
                .order_by(col(ReferralOrder.created_at).desc())
            ).all()
            return [(referral, reward) for referral, reward in rows]
