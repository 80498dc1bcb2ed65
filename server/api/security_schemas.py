"""Request and response models of the admin API and of the household's privacy calls.

Write models forbid unknown fields, like every write model of the API (api/schemas.py).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from freshtap.server.api.schemas import ID_PATTERN, NO_CONTROL

__all__ = [
    "CredentialIssued",
    "CredentialsRevoked",
    "FridgeProvision",
    "FridgeProvisioned",
    "HouseholdDeleted",
    "HouseholdDeletion",
    "MerchantCreate",
    "MerchantCreatedPublic",
]

_FRIDGE_ID = r"^[A-Za-z0-9_-]{1,64}$"


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MerchantCreate(_Write):
    name: str = Field(min_length=1, max_length=200, pattern=NO_CONTROL)


class MerchantCreatedPublic(BaseModel):
    merchant_id: str
    api_key: str
    """Shown once; only its argon2 hash is stored."""


class FridgeProvision(_Write):
    """Exactly one of `household` (a new household's name) or `household_id` (an existing one)."""

    household: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_CONTROL)
    household_id: str | None = Field(default=None, max_length=40, pattern=ID_PATTERN)
    payment_method: str | None = Field(default=None, min_length=1, max_length=200)
    """A payment provider's token (`pm_...`), never card data."""
    fridge_id: str | None = Field(default=None, pattern=_FRIDGE_ID)

    @model_validator(mode="after")
    def _one_household(self) -> FridgeProvision:
        if (self.household is None) == (self.household_id is None):
            raise ValueError("give exactly one of household or household_id")
        return self


class FridgeProvisioned(BaseModel):
    fridge_id: str
    household_id: str
    username: str
    password: str
    """Shown once; only its hashes are stored."""
    mqtt_url: str


class CredentialIssued(BaseModel):
    subject_id: str
    secret: str
    """The new secret, shown once; every older one of this subject is revoked."""


class CredentialsRevoked(BaseModel):
    subject_id: str
    revoked: int
    """How many live credentials were revoked (0: there were none left)."""


class HouseholdDeletion(_Write):
    confirm: str = Field(max_length=40, description="Your household id, to confirm the deletion")


class HouseholdDeleted(BaseModel):
    household_id: str
    deleted_at: datetime
    deleted_rows: dict[str, int]
    """Rows deleted, per table."""
    retained_orders: int
    """Orders kept, anonymised, in `retained_order` for tax and accounting law."""
    fridges_revoked: list[str]
    """Fridges whose credentials are gone: they can no longer connect or call the API."""
