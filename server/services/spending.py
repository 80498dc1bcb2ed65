"""A household's one-tap spending limits and PIN: storing them, and checking a tap against them.

The rules are in `domain/limits.py`. The PIN is kept only as an argon2id hash. Wrong PINs are
limited strictly: each attempt first reserves one of `pin_max_attempts` with an atomic update, and
only then is the PIN checked, so parallel guesses cannot get more tries than the limit; the last
wrong one locks the PIN for `pin_lockout_seconds`. A right PIN clears the count.

Changing the limits or the PIN needs the current PIN once one is set: the door screen holds the
fridge's credential, so without that anyone at the fridge could lift the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, func, select

from freshtap.clock import Clock
from freshtap.server.domain.errors import InvalidRequest
from freshtap.server.domain.limits import (
    PIN_PATTERN,
    WEEK,
    Limits,
    OverLimit,
    PinLocked,
    PinRequired,
    PinWrong,
    above_limits,
)
from freshtap.server.store.models import Order
from freshtap.server.store.payments_models import SpendingLimit
from freshtap.settings import PaymentSettings

__all__ = ["LIVE_ORDER_STATUSES", "LimitsView", "PinChange", "SpendingLimits"]

LIVE_ORDER_STATUSES = ("pending", "requires_action", "paid")
"""Orders that count against the weekly limit: money taken, held, or about to be."""

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True)
class LimitsView:
    household_id: str
    limits: Limits
    spent_this_week_minor: int | None
    """In the weekly limit's currency; None without a weekly limit."""
    pin_set: bool
    pin_locked_until: datetime | None


@dataclass(frozen=True)
class PinChange:
    """`keep` leaves the PIN as it is, `set` replaces it with `pin`, `remove` drops it."""

    action: str = "keep"
    pin: str | None = None




class SpendingLimits:
    def __init__(self, sessions: Callable[[], Session], clock: Clock, config: PaymentSettings) -> None:
        self._sessions = sessions
        self._clock = clock
        self._config = config

    def get(self, household_id: str) -> LimitsView:
        with self._sessions() as session:
            return self._view(session, household_id, session.get(SpendingLimit, household_id))

    def put(self, household_id: str, limits: Limits, pin: PinChange, current_pin: str | None) -> LimitsView:
        """Replace the household's limits (and set, keep or remove its PIN)."""
        if pin.action == "set" and (pin.pin is None or not PIN_PATTERN.match(pin.pin)):
            raise InvalidRequest("a PIN is 4 to 8 digits")
        with self._sessions() as session:
            row = session.get(SpendingLimit, household_id)
            pin_set = row is not None and row.pin_hash is not None
        if pin_set:
            if current_pin is None:
                raise PinRequired("this household has a PIN: send it (X-Freshtap-PIN) to change limits or the PIN")
            self.verify_pin(household_id, current_pin)
        new_hash = _HASHER.hash(pin.pin) if pin.action == "set" and pin.pin is not None else None
        with self._sessions() as session:
            row = session.get(SpendingLimit, household_id, with_for_update=True)
            if row is None:
                row = SpendingLimit(household_id=household_id, updated_at=self._clock.now())
            row.per_order_minor = limits.per_order_minor
            row.per_order_currency = limits.per_order_currency
            row.per_week_minor = limits.per_week_minor
            row.per_week_currency = limits.per_week_currency
            if pin.action == "set":
                row.pin_hash, row.pin_failures, row.pin_locked_until = new_hash, 0, None
            elif pin.action == "remove":
                row.pin_hash, row.pin_failures, row.pin_locked_until = None, 0, None
            row.updated_at = self._clock.now()
            session.add(row)
            session.commit()
            return self._view(session, household_id, row)

    def verify_pin(self, household_id: str, pin: str) -> None:
        """Return if `pin` is the household's PIN; otherwise count the attempt and raise."""
        now = self._clock.now()
        limit = self._config.pin_max_attempts
        with self._sessions() as session:
            row = session.get(SpendingLimit, household_id)
            if row is None or row.pin_hash is None:
                raise InvalidRequest("this household has set no PIN")
            reserved = session.execute(
                update(SpendingLimit)
                .execution_options(synchronize_session=False)
                .where(
                    col(SpendingLimit.household_id) == household_id,
                    col(SpendingLimit.pin_hash).is_not(None),
                    col(SpendingLimit.pin_failures) < limit,
                    or_(col(SpendingLimit.pin_locked_until).is_(None), col(SpendingLimit.pin_locked_until) <= now),
                )
                .values(pin_failures=col(SpendingLimit.pin_failures) + 1)
            )
            session.commit()
            if reserved.rowcount != 1:  # type: ignore[attr-defined]
                session.refresh(row)
                raise PinLocked(self._locked_detail(row, now))
            session.refresh(row)
            if self._matches(row.pin_hash, pin):
                session.execute(
                    update(SpendingLimit)
                    .execution_options(synchronize_session=False)
                    .where(col(SpendingLimit.household_id) == household_id)
                    .values(pin_failures=0, pin_locked_until=None)
                )
                session.commit()
                return
            if row.pin_failures >= limit:
                until = now + timedelta(seconds=self._config.pin_lockout_seconds)
                session.execute(
                    update(SpendingLimit)
                    .execution_options(synchronize_session=False)
                    .where(col(SpendingLimit.household_id) == household_id)
                    .values(pin_failures=0, pin_locked_until=until)
                )
                session.commit()
                raise PinLocked(f"wrong PIN, the last attempt: the PIN is now locked until {until.isoformat()}")
            left = limit - row.pin_failures
            raise PinWrong(f"wrong PIN; {left} attempt{'s' if left != 1 else ''} left before the PIN locks")

    def check(self, session: Session, household_id: str, amount_minor: int, currency: str, now: datetime) -> list[str]:
        """The limits this tap would exceed, read inside the caller's (locked) transaction."""
        row = session.get(SpendingLimit, household_id)
        if row is None:
            return []
        limits = _limits(row)
        spent = self._spent(session, household_id, limits.per_week_currency, now) if limits.per_week_minor else 0
        return above_limits(limits, amount_minor, currency, spent)

    @staticmethod
    def refusal(session: Session, household_id: str, exceeded: list[str]) -> Exception:
        row = session.get(SpendingLimit, household_id)
        names = " and ".join("the per-order limit" if e == "per_order" else "the weekly limit" for e in exceeded)
        if row is not None and row.pin_hash is not None:
            return PinRequired(f"this purchase is above {names}: confirm it with your PIN")
        return OverLimit(f"this purchase is above {names}, and no PIN is set to allow it")

    def _view(self, session: Session, household_id: str, row: SpendingLimit | None) -> LimitsView:
        if row is None:
            return LimitsView(household_id, Limits(), None, False, None)
        limits = _limits(row)
        spent = (
            self._spent(session, household_id, limits.per_week_currency, self._clock.now())
            if limits.per_week_minor is not None
            else None
        )
        locked = row.pin_locked_until
        if locked is not None and locked <= self._clock.now():
            locked = None
        return LimitsView(household_id, limits, spent, row.pin_hash is not None, locked)

    @staticmethod
    def _spent(session: Session, household_id: str, currency: str | None, now: datetime) -> int:
        total = session.exec(
            select(func.coalesce(func.sum(Order.amount_minor), 0)).where(
                and_(
                    col(Order.household_id) == household_id,
                    col(Order.currency) == (currency or ""),
                    col(Order.created_at) > now - WEEK,
                    col(Order.status).in_(LIVE_ORDER_STATUSES),
                )
            )
        ).one()
        return int(total)

    @staticmethod
    def _matches(pin_hash: str | None, pin: str) -> bool:
        if pin_hash is None or not PIN_PATTERN.match(pin):
            return False
        try:
            return _HASHER.verify(pin_hash, pin)
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    def _locked_detail(row: SpendingLimit, now: datetime) -> str:
        until = row.pin_locked_until
        if until is not None and until > now:
            return f"too many wrong PINs; the PIN is locked until {until.isoformat()}"
        return "too many PIN attempts at once; try again in a moment"


def _limits(row: SpendingLimit) -> Limits:
    return Limits(
        per_order_minor=row.per_order_minor,
        per_order_currency=row.per_order_currency,
        per_week_minor=row.per_week_minor,
        per_week_currency=row.per_week_currency,
    )
