"""Request and response models of the HTTP API.

Write models forbid unknown fields: a client cannot slip `merchant_id`, `status` or a price it
may not set into a write (mass assignment); it gets a 422 naming the field instead.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from freshtap.contract import FreshnessInfo, Gtin14, Money

__all__ = [
    "InventoryItemPublic",
    "InventoryPublic",
    "OfferCreate",
    "OfferPublic",
    "OrderPublic",
    "PaymentPublic",
    "ProductCreate",
    "ProductPublic",
]

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(_Write):
    amount_minor: int = Field(ge=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class ProductCreate(_Write):
    gtin: Gtin14 | None = None
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=64)
    price: MoneyIn


class ProductPublic(BaseModel):
    id: str
    merchant_id: str
    gtin: str | None
    name: str
    category: str
    price: Money
    created_at: datetime


class MatchGtin(_Write):
    gtin: Gtin14
    category: None = None


class MatchCategory(_Write):
    category: str = Field(min_length=1, max_length=64)
    gtin: None = None


class ExpiringTrigger(_Write):
    kind: Literal["expiring"]
    within_hours: float = Field(gt=0, le=24 * 60)


class LowFillTrigger(_Write):
    kind: Literal["low_fill"]
    below: float = Field(gt=0, le=1)


class RunoutTrigger(_Write):
    kind: Literal["runout"]
    within_hours: float = Field(gt=0, le=24 * 60)


Trigger = Annotated[ExpiringTrigger | LowFillTrigger | RunoutTrigger, Field(discriminator="kind")]


class QuietHours(_Write):
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("use HH:MM, 24-hour")
        return value


class OfferCreate(_Write):
    product_id: str | None = Field(default=None, max_length=40)
    gtin: Gtin14 | None = None
    match: MatchGtin | MatchCategory
    trigger: Trigger
    price: MoneyIn | None = None
    max_per_household_per_week: int | None = Field(default=None, ge=1, le=100)
    quiet_hours: QuietHours | None = None
    active: bool = True

    @model_validator(mode="after")
    def _one_product(self) -> OfferCreate:
        if (self.product_id is None) == (self.gtin is None):
            raise ValueError("give exactly one of product_id or gtin")
        return self


class OfferPublic(BaseModel):
    id: str
    merchant_id: str
    product_id: str
    match: dict[str, str]
    trigger: dict[str, str | float]
    price: Money | None
    max_per_household_per_week: int | None
    quiet_hours: dict[str, str] | None
    active: bool
    created_at: datetime


class InventoryItemPublic(BaseModel):
    item_id: str
    gtin: str | None
    name: str
    category: str
    quantity: float
    unit: str
    fill: float | None
    compartment: str
    added_at: datetime
    opened_at: datetime | None
    label_expiry: date | None
    expiry_kind: str | None
    batch: str | None
    freshness: FreshnessInfo


class InventoryPublic(BaseModel):
    fridge_id: str
    seq: int | None
    updated_at: datetime | None
    items: list[InventoryItemPublic]


class PaymentPublic(BaseModel):
    state: str
    provider: str
    reference: str | None
    failure_reason: str | None


class OrderPublic(BaseModel):
    order_id: str
    status: Literal["pending", "requires_action", "paid", "declined"]
    proposal_id: str
    household_id: str
    fridge_id: str
    merchant_id: str
    product_id: str
    amount: Money
    payment: PaymentPublic
    created_at: datetime
    updated_at: datetime
