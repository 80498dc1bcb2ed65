"""Request and response models of the HTTP API.

Write models forbid unknown fields: a client cannot slip `merchant_id`, `status` or a price it
may not set into a write (mass assignment); it gets a 422 naming the field instead.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from freshtap.contract import FreshnessInfo, Gtin14, Money

__all__ = [
    "ID_PATTERN",
    "NO_CONTROL",
    "AcceptRequest",
    "Discount",
    "InstantIn",
    "InventoryItemPublic",
    "InventoryPublic",
    "LimitsPublic",
    "LimitsUpdate",
    "MatchFoodKeeper",
    "OfferCreate",
    "OfferPublic",
    "OfferUpdate",
    "OrderPublic",
    "PaymentPublic",
    "ProductCreate",
    "ProductPublic",
]

# Text fields refuse control characters (PostgreSQL cannot store NUL; none belongs in a name).
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
# Identifiers the server issued: prefix, underscore, hex (e.g. `ord_5d4447f833c5efd2`).
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(_Write):
    amount_minor: int = Field(ge=0, le=100_000_000)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class ProductCreate(_Write):
    gtin: Gtin14 | None = None
    name: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL)
    category: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)
    price: MoneyIn
    foodkeeper_product_id: int | None = Field(
        default=None, ge=1, le=100_000, description="The USDA FoodKeeper product this is, for shelf-life reference"
    )


class ProductPublic(BaseModel):
    id: str
    merchant_id: str
    gtin: str | None
    name: str
    category: str
    price: Money
    foodkeeper_product_id: int | None = None
    created_at: datetime


class MatchGtin(_Write):
    gtin: Gtin14
    category: None = None


class MatchCategory(_Write):
    category: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)
    gtin: None = None


class MatchFoodKeeper(_Write):
    """Items whose GTIN a merchant catalog lists as this USDA FoodKeeper product."""

    foodkeeper_product_id: int = Field(ge=1, le=100_000)
    gtin: None = None
    category: None = None


class PercentDiscount(_Write):
    kind: Literal["percent"]
    percent: float = Field(gt=0, le=100, description="Off the list price; rounds half up to a minor unit")


class AmountOffDiscount(_Write):
    kind: Literal["amount_off"]
    amount_minor: int = Field(gt=0, le=100_000_000, description="Off the list price, in the offer's currency")


Discount = Annotated[PercentDiscount | AmountOffDiscount, Field(discriminator="kind")]


def _utc_instant(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2999:
        raise ValueError("timestamp must fall in the years 2000-2999")
    return value.astimezone(UTC)  # within those years, never out of datetime's range


InstantIn = Annotated[
    AwareDatetime,
    AfterValidator(_utc_instant),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": "^2[0-9]{3}-"}),
]
"""A timestamp with its UTC offset (RFC 3339) in the years 2000-2999, kept in UTC."""


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
    """Household wall-clock hours (HH:MM, 24-hour) in which no new proposal is shown."""

    start: str = Field(pattern=_HHMM.pattern)
    end: str = Field(pattern=_HHMM.pattern)


class OfferCreate(_Write):
    # Exactly one of product_id and gtin, said in the schema too (validated below).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["product_id"], "properties": {"product_id": {"type": "string"}}},
                {"required": ["gtin"], "properties": {"gtin": {"type": "string"}}},
            ]
        },
    )

    product_id: str | None = Field(default=None, max_length=40, pattern=ID_PATTERN)
    gtin: Gtin14 | None = None
    match: MatchGtin | MatchCategory | MatchFoodKeeper
    trigger: Trigger
    price: MoneyIn | None = None
    max_per_household_per_week: int | None = Field(default=None, ge=1, le=100)
    quiet_hours: QuietHours | None = None
    active: bool = True
    discount: Discount | None = None
    valid_from: InstantIn | None = None
    valid_until: InstantIn | None = None
    """The offer proposes only in [valid_from, valid_until); a window that ends before it starts is empty."""
    cooldown_hours_after_dismissal: float | None = Field(default=None, ge=0, le=24 * 366)

    @model_validator(mode="after")
    def _one_product(self) -> OfferCreate:
        if (self.product_id is None) == (self.gtin is None):
            raise ValueError("give exactly one of product_id or gtin")
        return self


class OfferPublic(BaseModel):
    id: str
    merchant_id: str
    product_id: str
    match: dict[str, str | int]
    trigger: dict[str, str | float]
    price: Money | None
    max_per_household_per_week: int | None
    quiet_hours: dict[str, str] | None
    active: bool
    created_at: datetime
    discount: Discount | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    cooldown_hours_after_dismissal: float | None = None
    """The cooldown in force: the offer's own, else the server's default."""
    updated_at: datetime | None = None


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
    next_action_url: str | None = None
    """While `requires_action`: the page where the owner authenticates (the door screen shows it as a QR code)."""
    authorized_by: str | None = None
    """`one_tap` within the household's limit, or `pin` above it."""


class OrderPublic(BaseModel):
    order_id: str
    status: Literal["pending", "requires_action", "paid", "declined", "cancelled", "refunded"]
    proposal_id: str
    household_id: str
    fridge_id: str
    merchant_id: str
    product_id: str
    amount: Money
    payment: PaymentPublic
    cancellable_until: datetime | None = None
    """Until when `POST /api/v1/orders/{id}/cancel` undoes the purchase; null when it cannot."""
    created_at: datetime
    updated_at: datetime


class AcceptRequest(_Write):
    """The optional body of a one-tap accept: what the door screen showed, and the PIN when asked."""

    expected_amount: MoneyIn | None = None
    """The price the screen showed; part of the Idempotency-Key's fingerprint, and refused when stale."""
    pin: str | None = Field(default=None, min_length=1, max_length=16, pattern=NO_CONTROL)
    """The household's PIN, for a purchase above its one-tap limit (or send `X-Freshtap-PIN`)."""


class LimitsUpdate(_Write):
    """`PUT /api/v1/households/me/limits`: the whole set; a limit left out or null is no limit.

    `pin`: a new PIN of 4-8 digits, `null` to remove it, left out to keep it. Once a PIN is set,
    changing anything here needs the current one (`X-Freshtap-PIN` or `current_pin`).
    """

    per_order: MoneyIn | None = None
    per_week: MoneyIn | None = None
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,8}$")
    current_pin: str | None = Field(default=None, min_length=1, max_length=16, pattern=NO_CONTROL)


class LimitsPublic(BaseModel):
    per_order: Money | None
    per_week: Money | None
    """Over the rolling last seven days, counting orders not declined, cancelled or refunded."""
    spent_this_week: Money | None
    pin_set: bool
    pin_locked_until: datetime | None


class OfferUpdate(_Write):
    """`PATCH /api/v1/offers/{id}`: only the fields sent change; `null` clears an optional one.

    What an offer matches, its trigger and its product are fixed: make a new offer to change them.
    A new price or discount applies to proposals made from now on; live ones keep the price shown.
    """

    active: bool = True
    price: MoneyIn | None = None
    discount: Discount | None = None
    valid_from: InstantIn | None = None
    valid_until: InstantIn | None = None
    max_per_household_per_week: int | None = Field(default=None, ge=1, le=100)
    quiet_hours: QuietHours | None = None
    cooldown_hours_after_dismissal: float | None = Field(default=None, ge=0, le=24 * 366)
    """`null`: the server's default cooldown."""
