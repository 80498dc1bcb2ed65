"""The seam to a payment processor.

A provider charges a saved payment method (a provider token, never card data) off-session. The
`idempotency_key` makes a retried charge return the first result instead of charging again; the
order service derives it from the order id, so a crash between the provider call and the database
commit is healed by calling again with the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["ChargeRequest", "ChargeResult", "PaymentProvider"]


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    payment_method: str
    amount_minor: int
    currency: str
    description: str


@dataclass(frozen=True)
class ChargeResult:
    outcome: Literal["succeeded", "declined", "requires_action"]
    reference: str
    failure_reason: str | None = None


class PaymentProvider(Protocol):
    name: str

    def charge(self, request: ChargeRequest) -> ChargeResult: ...
