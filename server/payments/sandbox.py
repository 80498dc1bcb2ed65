"""The sandbox payment provider: test payment methods, a ledger kept in the database.

Tokens (CONTRACT.md): `pm_sandbox_ok` succeeds, `pm_sandbox_declined` is declined,
`pm_sandbox_sca` needs the customer to authenticate on their phone. Any other token is declined
as unknown. A charge is recorded once per idempotency key; asking again returns the same record.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from freshtap.clock import Clock
from freshtap.server.payments.provider import ChargeRequest, ChargeResult
from freshtap.server.store.models import SandboxCharge

__all__ = ["SANDBOX_TOKENS", "SandboxProvider"]

SANDBOX_TOKENS = {
    "pm_sandbox_ok": "succeeded",
    "pm_sandbox_declined": "declined",
    "pm_sandbox_sca": "requires_action",
}


class SandboxProvider:
    name = "sandbox"

    def __init__(self, sessions: Callable[[], Session], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def charge(self, request: ChargeRequest) -> ChargeResult:
        with self._sessions() as session:
            existing = session.exec(
                select(SandboxCharge).where(SandboxCharge.idempotency_key == request.idempotency_key)
            ).first()
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
                session.add(existing)
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
                    existing = session.exec(
                        select(SandboxCharge).where(SandboxCharge.idempotency_key == request.idempotency_key)
                    ).one()
        reason = None
        if existing.status == "declined":
            known = existing.payment_method in SANDBOX_TOKENS
            reason = "card_declined" if known else "unknown_payment_method"
        if existing.status == "succeeded":
            return ChargeResult("succeeded", existing.id)
        if existing.status == "requires_action":
            return ChargeResult("requires_action", existing.id)
        return ChargeResult("declined", existing.id, failure_reason=reason)

    def succeeded_charges(self) -> int:
        """How many charges took money (for tests and the demo summary)."""
        with self._sessions() as session:
            count = session.exec(
                select(func.count()).select_from(SandboxCharge).where(SandboxCharge.status == "succeeded")
            ).one()
            return int(count)
