"""Tables of one-tap payment: each order's payment record, households' limits and PINs, provider
customers, received webhook events, and the sandbox provider's actions and refunds.

No table holds card data: a payment method or customer is a provider's token (`pm_...`, `cus_...`).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from freshtap.server.store.columns import timestamp as _ts

__all__ = [
    "OrderPayment",
    "PaymentCustomer",
    "SandboxAction",
    "SandboxRefund",
    "SpendingLimit",
    "WebhookEvent",
]


class OrderPayment(SQLModel, table=True):
    """The payment side of one order, written in the same transaction as the order itself."""

    __tablename__ = "order_payment"
    order_id: str = Field(foreign_key="order.id", primary_key=True, max_length=40)
    provider: str = Field(max_length=16)
    """The provider that charged; recovery asks the same one even if settings changed since."""
    payment_method: str = Field(max_length=200)
    """The provider token charged, fixed at the tap: recovery repeats exactly the same charge."""
    customer: str | None = Field(default=None, max_length=255)
    authorized_by: str = Field(max_length=16)
    """`one_tap` (within the household's limit) or `pin` (above it, with the PIN)."""
    next_action_url: str | None = Field(default=None, max_length=2048)
    """Where the owner finishes authentication on their phone (a QR code on the door screen)."""
    cancellable_until: datetime = _ts(index=True)
    cancel_requested_at: datetime | None = _ts(nullable=True)
    """Set, atomically, before the provider is asked to void or refund; recovery finishes it."""
    capture_started_at: datetime | None = _ts(nullable=True)
    """Set, atomically, before a held authorisation is captured; a cancel can no longer win."""
    settled_at: datetime | None = _ts(nullable=True)
    """When the money moved for good: captured, voided or refunded."""


class SpendingLimit(SQLModel, table=True):
    """A household's one-tap limits and the optional PIN that allows a tap above them."""

    __tablename__ = "spending_limit"
    household_id: str = Field(foreign_key="household.id", primary_key=True, max_length=40)
    per_order_minor: int | None = None
    per_order_currency: str | None = Field(default=None, max_length=3)
    per_week_minor: int | None = None
    """Rolling seven days: the sum of the household's live orders (not declined, cancelled, refunded)."""
    per_week_currency: str | None = Field(default=None, max_length=3)
    pin_hash: str | None = Field(default=None, max_length=200)
    """argon2id of the PIN; the PIN itself is never stored."""
    pin_failures: int = 0
    pin_locked_until: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts()


class PaymentCustomer(SQLModel, table=True):
    """A household's customer at a provider (Stripe's `cus_...`), whose saved method is charged."""

    __tablename__ = "payment_customer"
    household_id: str = Field(foreign_key="household.id", primary_key=True, max_length=40)
    provider: str = Field(primary_key=True, max_length=16)
    customer: str = Field(max_length=255)
    created_at: datetime = _ts()


class WebhookEvent(SQLModel, table=True):
    """Every provider event applied, by its id, so a redelivered event changes nothing."""

    __tablename__ = "webhook_event"
    provider: str = Field(primary_key=True, max_length=16)
    event_id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=100)
    order_id: str | None = Field(default=None, max_length=40, index=True)
    outcome: str = Field(max_length=24)
    """`applied`, `unchanged`, `ignored` or `unknown_order`."""
    received_at: datetime = _ts()


class SandboxAction(SQLModel, table=True):
    """A sandbox charge waiting for the owner to authenticate at `/pay/confirm/{token}`."""

    __tablename__ = "sandbox_action"
    token: str = Field(primary_key=True, max_length=64)
    charge_id: str = Field(foreign_key="sandboxcharge.id", unique=True, max_length=40)
    created_at: datetime = _ts()
    completed_at: datetime | None = _ts(nullable=True)
    outcome: str | None = Field(default=None, max_length=24)


class SandboxRefund(SQLModel, table=True):
    """A refund in the sandbox ledger."""

    __tablename__ = "sandbox_refund"
    id: str = Field(primary_key=True, max_length=40)
    charge_id: str = Field(foreign_key="sandboxcharge.id", unique=True, max_length=40)
    """The sandbox refunds whole charges, so at most once each."""
    idempotency_key: str = Field(unique=True, max_length=255)
    amount_minor: int
    created_at: datetime = _ts()
