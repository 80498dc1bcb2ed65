"""The purchase rate limit per household, counted in the database so that it holds across workers.

Each purchase a household starts is one `purchase_attempt` row, keyed by its `Idempotency-Key`.
`reserve` serialises one household's reservations (its `household` row is locked on PostgreSQL;
SQLite's single writer does the same, taken by the first statement, a delete), counts the rows
inside the window and either adds one or refuses with 429 and `Retry-After`. Two workers
reserving at once for the same household therefore never both take the last slot.

A key that was already counted, or that already made an order, passes without counting again:
replaying a tap returns the same order and is never refused. What counts is the attempt, whether
or not it ends in a paid order (a declined card or a proposal that expired meanwhile still used
a slot), so a misbehaving client cannot hammer the payment provider either.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.server.domain.purchase_rate import PurchaseRate, PurchaseRateExceeded, retry_after_seconds
from freshtap.server.store.models import Household, Order
from freshtap.server.store.security_models import PurchaseAttempt
from freshtap.settings import PurchaseLimitSettings

__all__ = ["PurchaseLimiter"]


class PurchaseLimiter:
    def __init__(self, sessions: Callable[[], Session], clock: Clock, config: PurchaseLimitSettings) -> None:
        self._sessions = sessions
        self._clock = clock
        self.rule = PurchaseRate(config.max_per_window, timedelta(seconds=config.window_seconds))

    def reserve(self, household_id: str, idempotency_key: str) -> bool:
        """Count one purchase: True if counted now, False if the key was already counted or used.

        Raises `PurchaseRateExceeded` (429) when the household's window is full.
        """
        now = self._clock.now()
        start = now - self.rule.window
        with self._sessions() as session:
            # A write first: on SQLite it takes the database's write lock, so what is read next is current.
            session.execute(
                delete(PurchaseAttempt).where(
                    col(PurchaseAttempt.household_id) == household_id, col(PurchaseAttempt.at) <= start
                )
            )
            # On PostgreSQL, one household's reservations queue here.
            session.exec(select(Household.id).where(Household.id == household_id).with_for_update()).first()
            if self._known_key(session, household_id, idempotency_key):
                session.rollback()
                return False
            recent = session.exec(
                select(PurchaseAttempt.at).where(
                    PurchaseAttempt.household_id == household_id, col(PurchaseAttempt.at) > start
                )
            ).all()
            wait = retry_after_seconds(recent, now, self.rule)
            if wait is not None:
                session.rollback()
                raise PurchaseRateExceeded(
                    f"at most {self.rule.max_per_window} purchases per "
                    f"{_duration(self.rule.window)}; try again in {wait} s",
                    wait,
                )
            session.add(PurchaseAttempt(household_id=household_id, idempotency_key=idempotency_key, at=now))
            try:
                session.commit()
            except IntegrityError:
                # The same key, counted by a concurrent request: that one counts for both.
                session.rollback()
                return False
        return True

    @staticmethod
    def _known_key(session: Session, household_id: str, key: str) -> bool:
        counted = session.exec(
            select(PurchaseAttempt.id).where(
                PurchaseAttempt.household_id == household_id, PurchaseAttempt.idempotency_key == key
            )
        ).first()
        if counted is not None:
            return True
        ordered = session.exec(
            select(Order.id).where(Order.household_id == household_id, Order.idempotency_key == key)
        ).first()
        return ordered is not None


def _duration(window: timedelta) -> str:
    seconds = window.total_seconds()
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return "minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} s"
