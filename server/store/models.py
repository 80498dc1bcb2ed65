"""The database tables.

One family per aggregate, as in the FastAPI template: `*Create` write models are explicit
allow-lists (api/schemas.py), `*Public` read models are what the API returns, and these are the
tables. Identifiers are short random strings with a type prefix, never sequential integers, so an
ID says nothing about how many others exist.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from freshtap.server.store.columns import timestamp

__all__ = [
    "AppliedMessage",
    "Credential",
    "Fridge",
    "FridgeEvent",
    "Household",
    "InventoryRecord",
    "Merchant",
    "Offer",
    "Order",
    "Product",
    "Proposal",
    "Rejection",
    "SandboxCharge",
    "TelemetryReading",
]


_ts = timestamp


class Household(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    payment_method: str | None = Field(default=None, max_length=200)
    """A payment provider's token for the saved method; never card data."""
    timezone: str = Field(default="UTC", max_length=64)
    """IANA zone for quiet hours and the door screen's clock."""
    created_at: datetime = _ts()
    offers_opted_in: bool = True
    """Whether the household sees offers at all (provisioning opts in unless told `--no-offers`)."""
    offers_muted_categories: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """Lower-case categories the household wants no offers for; None or [] mutes none."""


class Merchant(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    created_at: datetime = _ts()


class Fridge(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    household_id: str = Field(foreign_key="household.id", index=True, max_length=40)
    username: str = Field(unique=True, max_length=64)
    created_at: datetime = _ts()
    online: bool = False
    state_at: datetime | None = _ts(nullable=True)
    model: str | None = Field(default=None, max_length=200)
    firmware: str | None = Field(default=None, max_length=200)
    agent: str | None = Field(default=None, max_length=200)
    inventory_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    """The `seq` of the newest inventory snapshot applied; older ones are ignored."""
    inventory_at: datetime | None = _ts(nullable=True)
    door_open: bool | None = None
    compartments: dict[str, float] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    telemetry_at: datetime | None = _ts(nullable=True)


class Credential(SQLModel, table=True):
    """A secret that proves who is calling: a fridge's password or a merchant's API key.

    The secret is `<key_id>.<random>`; only `key_id` is stored in the clear (to find the row) and
    the whole secret is stored as an argon2 hash. Fridges also keep Mosquitto's own hash format so
    that `freshtap admin mosquitto-config` can write a password file without knowing passwords.
    """

    key_id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(max_length=16)  # "fridge" | "merchant"
    subject_id: str = Field(index=True, max_length=64)
    secret_hash: str = Field(max_length=200)
    mosquitto_hash: str | None = Field(default=None, max_length=300)
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)


class Product(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("merchant_id", "gtin", name="uq_product_merchant_gtin"),)
    id: str = Field(primary_key=True, max_length=40)
    merchant_id: str = Field(foreign_key="merchant.id", index=True, max_length=40)
    gtin: str | None = Field(default=None, max_length=14, index=True)
    name: str = Field(max_length=200)
    category: str = Field(max_length=64, index=True)
    price_minor: int
    currency: str = Field(max_length=3)
    foodkeeper_product_id: int | None = None
    """The FoodKeeper product this GTIN is (the merchant's word); the shelf-life model's reference."""
    created_at: datetime = _ts()


class Offer(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=40)
    merchant_id: str = Field(foreign_key="merchant.id", index=True, max_length=40)
    product_id: str = Field(foreign_key="product.id", index=True, max_length=40)
    match_gtin: str | None = Field(default=None, max_length=14, index=True)
    match_category: str | None = Field(default=None, max_length=64, index=True)
    trigger_kind: str = Field(max_length=16)
    trigger_within_hours: float | None = None
    trigger_below: float | None = None
    price_minor: int | None = None
    currency: str | None = Field(default=None, max_length=3)
    max_per_household_per_week: int | None = None
    quiet_start: str | None = Field(default=None, max_length=5)
    quiet_end: str | None = Field(default=None, max_length=5)
    active: bool = True
    created_at: datetime = _ts()
    match_foodkeeper_id: int | None = Field(default=None, index=True)
    """Match items whose GTIN a merchant catalog lists as this FoodKeeper product."""
    discount_percent: float | None = None
    discount_minor: int | None = None
    """Amount off the list price, in the offer's currency (at most one of the two discounts)."""
    valid_from: datetime | None = _ts(nullable=True)
    valid_until: datetime | None = _ts(nullable=True)
    cooldown_hours_after_dismissal: float | None = None
    """None: the settings' default (`offers.cooldown_hours_after_dismissal`)."""
    updated_at: datetime | None = _ts(nullable=True)


class InventoryRecord(SQLModel, table=True):
    """An item as the server knows it, with the server's authoritative freshness."""

    fridge_id: str = Field(foreign_key="fridge.id", primary_key=True, max_length=64)
    item_id: str = Field(primary_key=True, max_length=64)
    gtin: str | None = Field(default=None, max_length=14)
    name: str = Field(max_length=200)
    category: str = Field(max_length=64)
    quantity: float = 1
    unit: str = Field(default="pcs", max_length=16)
    fill: float | None = None
    compartment: str = Field(default="fridge", max_length=32)
    added_at: datetime = _ts()
    opened_at: datetime | None = _ts(nullable=True)
    label_expiry: date | None = None
    expiry_kind: str | None = Field(default=None, max_length=16)
    batch: str | None = Field(default=None, max_length=20)
    present: bool = True
    removed_at: datetime | None = _ts(nullable=True)
    freshness_state: str = Field(default="fresh", max_length=16)
    expires_at: datetime | None = _ts(nullable=True)
    basis: str = Field(default="reference", max_length=16)
    explanation: str = Field(default="", max_length=500)
    next_check_at: datetime | None = _ts(nullable=True, index=True)
    """When the freshness state next changes with no new data; the scheduler wakes for it."""
    runout_at: datetime | None = _ts(nullable=True)
    """When the fill level is forecast to reach zero (services/runout.py); None: no forecast."""
    updated_at: datetime = _ts()


class AppliedMessage(SQLModel, table=True):
    """Every `(fridge_id, seq)` applied, so that a redelivery is recognised and skipped."""

    fridge_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    type: str = Field(max_length=16)
    at: datetime = _ts()
    received_at: datetime = _ts()


class TelemetryReading(SQLModel, table=True):
    # `at` alone: the retention job deletes by age across all fridges (services/retention.py).
    __table_args__ = (Index("ix_telemetry_fridge_at", "fridge_id", "at"), Index("ix_telemetry_at", "at"))
    id: int | None = Field(default=None, primary_key=True)
    fridge_id: str = Field(max_length=64)
    at: datetime = _ts()
    compartment: str = Field(max_length=32)
    temp_c: float


class FridgeEvent(SQLModel, table=True):
    fridge_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = _ts()
    kind: str = Field(max_length=32)
    item_id: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Rejection(SQLModel, table=True):
    """A message that failed validation, kept for inspection."""

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = _ts(index=True)
    topic: str = Field(max_length=300)
    reason: str = Field(max_length=32, index=True)
    detail: str = Field(max_length=500)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    payload_size: int


class Proposal(SQLModel, table=True):
    """One offer proposed for one item of one fridge; live -> accepted | dismissed | expired."""

    __table_args__ = (
        # Never two live proposals for one item, whatever races.
        Index(
            "uq_proposal_live_item",
            "fridge_id",
            "item_id",
            unique=True,
            sqlite_where=text("status = 'live'"),
            postgresql_where=text("status = 'live'"),
        ),
    )
    id: str = Field(primary_key=True, max_length=40)
    offer_id: str = Field(foreign_key="offer.id", index=True, max_length=40)
    fridge_id: str = Field(foreign_key="fridge.id", index=True, max_length=64)
    household_id: str = Field(foreign_key="household.id", index=True, max_length=40)
    item_id: str = Field(max_length=64)
    merchant_id: str = Field(foreign_key="merchant.id", index=True, max_length=40)
    product_id: str = Field(foreign_key="product.id", max_length=40)
    price_minor: int
    currency: str = Field(max_length=3)
    reason_kind: str = Field(max_length=16)
    reason_text: str = Field(max_length=300)
    status: str = Field(default="live", max_length=16, index=True)
    created_at: datetime = _ts()
    expires_at: datetime = _ts()
    closed_at: datetime | None = _ts(nullable=True)
    original_price_minor: int | None = None
    """The list price before the offer's discount (None: no discount, or made before discounts)."""
    explanation: str = Field(default="", max_length=200)
    """Why this offer won among those that matched the item."""
    item_key: str | None = Field(default=None, max_length=80)
    """The item's GTIN (or `category:<name>`), which a dismissal's cooldown applies to."""


class Order(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("household_id", "idempotency_key", name="uq_order_idempotency"),)
    id: str = Field(primary_key=True, max_length=40)
    proposal_id: str = Field(foreign_key="proposal.id", index=True, max_length=40)
    household_id: str = Field(foreign_key="household.id", index=True, max_length=40)
    fridge_id: str = Field(foreign_key="fridge.id", max_length=64)
    merchant_id: str = Field(foreign_key="merchant.id", index=True, max_length=40)
    product_id: str = Field(foreign_key="product.id", max_length=40)
    amount_minor: int
    currency: str = Field(max_length=3)
    idempotency_key: str = Field(max_length=255)
    request_fingerprint: str = Field(max_length=64)
    status: str = Field(max_length=24, index=True)
    payment_state: str = Field(max_length=24)
    payment_reference: str | None = Field(default=None, max_length=100)
    failure_reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class SandboxCharge(SQLModel, table=True):
    """The sandbox payment provider's own ledger; kept in the database so restarts keep it."""

    id: str = Field(primary_key=True, max_length=40)
    idempotency_key: str = Field(unique=True, max_length=255)
    payment_method: str = Field(max_length=200)
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(max_length=24)  # succeeded | declined | requires_action
    created_at: datetime = _ts()
