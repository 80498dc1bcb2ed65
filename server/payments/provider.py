"""The seam to a payment processor.

A provider charges a saved payment method (a provider token, never card data) off-session, and
later captures, voids or refunds that charge, or says where it stands. Every call that moves money
carries an idempotency key the order service derives from the order id (`freshtap-order-<id>`,
`freshtap-capture-<id>`, ...), so a call repeated after a timeout or a crash returns the first
result instead of moving money again.

Errors:

PaymentError
├── ProviderUnavailable  the provider could not be reached or asked us to come back later (429,
│                        5xx, timeouts after the client's own retries): nothing is known, the order
│                        stays as it is and recovery asks again with the same key
└── ProviderRejected     the provider refused the request itself (bad configuration, unknown
                         customer, an idempotency key reused with other parameters)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "ChargeRequest",
    "ChargeResult",
    "PaymentError",
    "PaymentProvider",
    "ProviderOutcome",
    "ProviderRejected",
    "ProviderUnavailable",
]

ProviderOutcome = Literal["pending", "succeeded", "authorized", "requires_action", "declined", "voided", "refunded"]
"""`pending`: the provider has no final answer yet (e.g. still processing); it changes nothing."""


@dataclass(frozen=True)
class ChargeRequest:
    idempotency_key: str
    payment_method: str
    amount_minor: int
    currency: str
    description: str
    order_id: str = ""
    customer: str | None = None
    """The provider's customer the payment method is saved on (Stripe needs one off-session)."""


@dataclass(frozen=True)
class ChargeResult:
    outcome: ProviderOutcome
    reference: str
    failure_reason: str | None = None
    next_action_url: str | None = None
    """Where the owner authenticates (absolute, or a path on this server) when `requires_action`."""


class PaymentError(Exception):
    """A provider call that did not produce a result."""


class ProviderUnavailable(PaymentError):
    """Nothing is known about the call's effect; ask again later with the same idempotency key."""


class ProviderRejected(PaymentError):
    """The provider refused the request itself; retrying it unchanged will not help."""


class PaymentProvider(Protocol):
    name: str

    def charge(self, request: ChargeRequest) -> ChargeResult:
        """Charge (or, with manual capture, authorise) off-session; the same key never charges twice."""
        ...

    def retrieve(self, reference: str) -> ChargeResult:
        """Where a charge stands now, for recovery and for webhooks that only say something changed."""
        ...

    def capture(self, reference: str, idempotency_key: str) -> ChargeResult:
        """Take an authorised charge's money (a no-op for providers that capture at once)."""
        ...

    def void(self, reference: str, idempotency_key: str) -> ChargeResult:
        """Release an authorisation, or abandon a charge still waiting for authentication."""
        ...

    def refund(self, reference: str, amount_minor: int, idempotency_key: str) -> ChargeResult:
        """Give a captured charge's money back."""
        ...
