"""The sandbox payment provider: test payment methods, a ledger kept in the database.

Tokens (CONTRACT.md): `pm_sandbox_ok` succeeds, `pm_sandbox_declined` is declined,
`pm_sandbox_sca` needs the owner to authenticate: the charge waits, and its `next_action_url` is a
page on this server, `/pay/confirm/{token}`, where the owner confirms (or refuses) on the phone, as
a bank's 3-D Secure page would. Any other token is declined as unknown.

A charge is recorded once per idempotency key; asking again returns the same record, and the same
key with another amount, currency or method is refused, as Stripe does. The sandbox captures at
once, so a cancel within the window is a refund; a charge still waiting for authentication is voided.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from freshtap.clock import Clock
from freshtap.server.payments.provider import ChargeRequest, ChargeResult, ProviderRejected
from freshtap.server.store.models import SandboxCharge
from freshtap.server.store.payments_models import SandboxAction, SandboxRefund

__all__ = ["SANDBOX_TOKENS", "SandboxAuthentication", "SandboxProvider"]

SANDBOX_TOKENS = {
    "pm_sandbox_ok": "succeeded",
    "pm_sandbox_declined": "declined",
    "pm_sandbox_sca": "requires_action",
}

CONFIRM_PATH = "/pay/confirm/"


@dataclass(frozen=True)
class SandboxAuthentication:
    """What the confirmation page shows: the charge waiting for the owner, and whether it still does."""

    token: str
    reference: str
    amount_minor: int
    currency: str
    waiting: bool
    outcome: str | None


class SandboxProvider:
    name = "sandbox"

    def __init__(self, sessions: Callable[[], Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def charge(self, request: ChargeRequest) -> ChargeResult:
        with self._sessions() as session:
            existing = self._by_key(session, request.idempotency_key)
            if existing is None:
                status = SANDBOX_TOKENS.get(request.payment_method, "declined")
                existing = SandboxCharge(
                    id="ch_" + secrets.token_hex(10),
                    idempotency_key=request.idempotency_key,
                    payment_method=request.payment_method,
                    amount_minor=request.amount_minor,
                    currency=request.currency,
                    status=status,
                    created_at=self._clock.now(),
                )
                try:
                    session.add(existing)
                    if status == "requires_action":
                        session.flush()
                        token = secrets.token_urlsafe(24)
                        session.add(SandboxAction(token=token, charge_id=existing.id, created_at=self._clock.now()))
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    existing = self._by_key(session, request.idempotency_key)
                    assert existing is not None
            if (existing.payment_method, existing.amount_minor, existing.currency) != (
                request.payment_method,
                request.amount_minor,
                request.currency,
            ):
                raise ProviderRejected("this idempotency key was used for a different charge")
            return self._result(session, existing)

    def retrieve(self, reference: str) -> ChargeResult:
        with self._sessions() as session:
            return self._result(session, self._charge(session, reference))

    def capture(self, reference: str, idempotency_key: str) -> ChargeResult:
        # The sandbox captures when it charges; there is never anything left to capture.
        return self.retrieve(reference)

    def void(self, reference: str, idempotency_key: str) -> ChargeResult:
        with self._sessions() as session:
            charge = self._charge(session, reference, lock=True)
            if charge.status == "requires_action":
                charge.status = "canceled"
                action = session.exec(select(SandboxAction).where(SandboxAction.charge_id == charge.id)).first()
                if action is not None and action.completed_at is None:
                    action.completed_at = self._clock.now()
                    action.outcome = "canceled"
                    session.add(action)
                session.add(charge)
                session.commit()
            elif charge.status != "canceled":
                raise ProviderRejected(f"a {charge.status} sandbox charge cannot be voided")
            return self._result(session, charge)

    def refund(self, reference: str, amount_minor: int, idempotency_key: str) -> ChargeResult:
        with self._sessions() as session:
            charge = self._charge(session, reference)
            if charge.status != "succeeded":
                raise ProviderRejected(f"a {charge.status} sandbox charge cannot be refunded")
            if amount_minor != charge.amount_minor:
                raise ProviderRejected("the sandbox refunds whole charges only")
            done = session.exec(select(SandboxRefund).where(SandboxRefund.charge_id == charge.id)).first()
            if done is None:
                session.add(
                    SandboxRefund(
                        id="re_" + secrets.token_hex(10),
                        charge_id=charge.id,
                        idempotency_key=idempotency_key,
                        amount_minor=amount_minor,
                        created_at=self._clock.now(),
                    )
                )
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
            return self._result(session, charge)

    def authentication(self, token: str) -> SandboxAuthentication | None:
        """The charge behind a confirmation page's token, or None for an unknown token."""
        with self._sessions() as session:
            action = session.get(SandboxAction, token)
            if action is None:
                return None
            charge = self._charge(session, action.charge_id)
            return SandboxAuthentication(
                token=token,
                reference=charge.id,
                amount_minor=charge.amount_minor,
                currency=charge.currency,
                waiting=action.completed_at is None,
                outcome=action.outcome,
            )

    def authenticate(self, token: str, approve: bool) -> ChargeResult | None:
        """The owner confirms (or refuses) on the phone; once only. None for an unknown token."""
        with self._sessions() as session:
            action = session.get(SandboxAction, token, with_for_update=True)
            if action is None:
                return None
            charge = self._charge(session, action.charge_id, lock=True)
            if action.completed_at is None and charge.status == "requires_action":
                charge.status = "succeeded" if approve else "declined"
                action.completed_at = self._clock.now()
                action.outcome = charge.status
                session.add(charge)
                session.add(action)
                session.commit()
            return self._result(session, charge)

    def succeeded_charges(self) -> int:
        """How many charges took money (for tests and the demo summary); refunds do not undo the count."""
        with self._sessions() as session:
            count = session.exec(
                select(func.count()).select_from(SandboxCharge).where(SandboxCharge.status == "succeeded")
            ).one()
            return int(count)

    @staticmethod
    def _by_key(session: Session, key: str) -> SandboxCharge | None:
        return session.exec(select(SandboxCharge).where(SandboxCharge.idempotency_key == key)).first()

    @staticmethod
    def _charge(session: Session, reference: str, lock: bool = False) -> SandboxCharge:
        charge = session.get(SandboxCharge, reference, with_for_update=lock)
        if charge is None:
            raise ProviderRejected(f"no sandbox charge {reference}")
        return charge

    @staticmethod
    def _result(session: Session, charge: SandboxCharge) -> ChargeResult:
        if charge.status == "succeeded":
            refunded = session.exec(select(SandboxRefund.id).where(SandboxRefund.charge_id == charge.id)).first()
            return ChargeResult("refunded" if refunded else "succeeded", charge.id)
        if charge.status == "requires_action":
            action = session.exec(select(SandboxAction).where(SandboxAction.charge_id == charge.id)).one()
            return ChargeResult("requires_action", charge.id, next_action_url=CONFIRM_PATH + action.token)
        if charge.status == "canceled":
            return ChargeResult("voided", charge.id, failure_reason="requested_by_customer")
        attempted = session.exec(select(SandboxAction).where(SandboxAction.charge_id == charge.id)).first()
        if attempted is not None:
            reason = "authentication_failed"
        elif charge.payment_method in SANDBOX_TOKENS:
            reason = "card_declined"
        else:
            reason = "unknown_payment_method"
        return ChargeResult("declined", charge.id, failure_reason=reason)
