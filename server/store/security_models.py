"""Tables of the abuse limits and of privacy.

- `PurchaseAttempt`: one row per purchase a household started (per `Idempotency-Key`), for the
  purchase rate limit (services/purchase_limits.py). Rows older than the window are deleted.
- `RetainedOrder`: what is kept of an order after its household deleted its data, for tax and
  accounting law (services/privacy.py; docs/security.md, "Privacy"): the merchant, the product,
  the amount, the status and the provider's payment reference, and no link to the household,
  its fridge or what the fridge saw.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from freshtap.server.store.columns import timestamp as _ts

__all__ = ["PurchaseAttempt", "RetainedOrder"]


class PurchaseAttempt(SQLModel, table=True):
    """A purchase counted against its household's rate limit."""

    __tablename__ = "purchase_attempt"
    __table_args__ = (
        UniqueConstraint("household_id", "idempotency_key", name="uq_purchase_attempt_key"),
        Index("ix_purchase_attempt_household_at", "household_id", "at"),
        Index("ix_purchase_attempt_at", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    household_id: str = Field(foreign_key="household.id", max_length=40)
    idempotency_key: str = Field(max_length=255)
    at: datetime = _ts()


class RetainedOrder(SQLModel, table=True):
    """An order of a deleted household, anonymised: only what the law requires the seller to keep."""

    __tablename__ = "retained_order"
    id: str = Field(primary_key=True, max_length=40)
    """The order's id, so the merchant's and the payment provider's records still match it."""
    merchant_id: str = Field(foreign_key="merchant.id", index=True, max_length=40)
    product_id: str = Field(max_length=40)
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(max_length=24)
    payment_state: str = Field(max_length=24)
    payment_provider: str | None = Field(default=None, max_length=16)
    payment_reference: str | None = Field(default=None, max_length=100)
    ordered_at: datetime = _ts(index=True)
    updated_at: datetime = _ts()
    retained_at: datetime = _ts()
    """When the household's data was deleted and this was all that stayed."""
