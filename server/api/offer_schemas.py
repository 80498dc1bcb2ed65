"""Request and response models of the offer rules: previews, proposals, household preferences.

(`OfferUpdate`, the offer edit, sits beside `OfferCreate` in `api/schemas.py`.)

Write models forbid unknown fields, as in `api/schemas.py`: `merchant_id`, `status` or a field not
on the allow-list is a 422 naming it, never silently applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from freshtap.contract import Money
from freshtap.server.api.schemas import NO_CONTROL

__all__ = [
    "OfferPreferencesPublic",
    "OfferPreferencesUpdate",
    "OfferPreview",
    "PreviewItemPublic",
    "PreviewMatchPublic",
    "PreviewReason",
    "ProposalPublic",
]

BlockedBy = Literal["quiet_hours", "weekly_cap", "cooldown", "muted", "opted_out", "outside_validity", "better_offer"]


Category = Annotated[str, Field(min_length=1, max_length=64, pattern=NO_CONTROL)]


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PreviewItemPublic(BaseModel):
    item_id: str
    name: str
    gtin: str | None
    category: str


class PreviewReason(BaseModel):
    kind: Literal["expiring", "low_fill", "runout"]
    text: str


class PreviewMatchPublic(BaseModel):
    fridge_id: str
    item: PreviewItemPublic
    reason: PreviewReason
    price: Money
    """The effective price this offer would propose at (after its discount)."""
    eligible: bool
    blocked_by: BlockedBy | None
    explanation: str


class OfferPreview(BaseModel):
    """What an offer would do now to every present item it matches and whose trigger holds."""

    evaluated_at: datetime
    eligible: int
    """How many matches would be proposed now (over all matches, not only those listed)."""
    total: int
    """How many matches there are; `matches` lists at most the server's cap, eligible ones first."""
    matches: list[PreviewMatchPublic]


class ProposalPublic(BaseModel):
    proposal_id: str
    offer_id: str
    fridge_id: str
    item_id: str
    status: Literal["live", "accepted", "dismissed", "expired"]
    price: Money
    original_price: Money | None
    """The list price before the discount; null when there is none."""
    reason: PreviewReason
    explanation: str
    """Why this offer was chosen among those that matched the item."""
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None


class OfferPreferencesUpdate(_Write):
    """`PUT /api/v1/households/me/offer-preferences`: the whole set."""

    opted_in: bool
    muted_categories: list[Category] = Field(default_factory=list, max_length=50)
    """Categories (any case) to show no offers for."""


class OfferPreferencesPublic(BaseModel):
    opted_in: bool
    muted_categories: list[str]
