"""Request and response models of reviews and referrals (write models are explicit allow-lists)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from freshtap.contract import Money
from freshtap.server.api.schemas import OrderPublic

__all__ = [
    "ConsentPublic",
    "DisclosurePublic",
    "DraftApprove",
    "DraftEditRequest",
    "FactPublic",
    "ReferralEarning",
    "ReferralOrderPublic",
    "ReviewApproved",
    "ReviewDraftPublic",
    "ReviewDraftSummary",
    "SentencePublic",
]


class _Write(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftEditRequest(_Write):
    """Only the fields sent change; `null` clears a note, a rating or the owner's own wording."""

    note: str | None = Field(default=None, max_length=500)
    """The owner's words, quoted as they are; they become the fact `owner_note`."""
    rating: int | None = Field(default=None, ge=1, le=5)
    """Stars the owner gives (1-5); the fact `owner_rating`. Without it no draft states a rating."""
    text_zh: str | None = Field(default=None, max_length=2000)
    """The owner's own wording of the whole review in Chinese, in place of the drafted text."""
    text_en: str | None = Field(default=None, max_length=2000)


class DraftApprove(_Write):
    channels: list[str] = Field(min_length=1, max_length=10)
    language: Literal["zh", "en"]
    shown_text: str = Field(min_length=1, max_length=5000)
    """Exactly what the owner saw: the draft's `preview` in that language."""


class FactPublic(BaseModel):
    id: str
    kind: str
    source: str
    values: dict[str, Any]


class SentencePublic(BaseModel):
    text: str
    facts: list[str]
    """The ids of the facts this sentence states (empty for the owner's own wording)."""
    source: Literal["facts", "owner"]


class DisclosurePublic(BaseModel):
    label: str
    note: str


class ConsentPublic(BaseModel):
    channel: str
    language: str
    shown_text: str
    given_at: datetime


class ReviewDraftSummary(BaseModel):
    draft_id: str
    order_id: str
    fridge_id: str
    product_name: str
    status: str
    created_at: datetime


class ReviewDraftPublic(ReviewDraftSummary):
    product_id: str
    facts: list[FactPublic]
    text: dict[str, str]
    sentences: dict[str, list[SentencePublic]]
    preview: dict[str, str]
    """Per language, what the screen must show and send back as `shown_text` to approve."""
    poster_url: str
    channels: list[str]
    incentive: bool
    disclosure: dict[str, DisclosurePublic]
    owner_note: str | None
    owner_rating: int | None
    approved_language: str | None
    approved_text: str | None
    referral_url: str | None
    consents: list[ConsentPublic]


class ReviewApproved(BaseModel):
    draft: ReviewDraftPublic
    outbox_ids: list[str]
    """The social outbox entries enqueued by this call (empty when the approval was a repeat)."""


class ReferralOrderPublic(BaseModel):
    """What the buyer sees of an order placed through a link (nothing about the referrer's reward)."""

    order: OrderPublic
    code: str
    attributed: bool


class ReferralEarning(BaseModel):
    """An order placed through one of the household's links, as its referrer sees it."""

    code: str
    order_id: str
    placed_at: datetime
    attributed: bool
    reward_status: str
    """`pending` (the order can still be cancelled), `granted` or `none`."""
    reason: str | None
    """Why no reward: `self_referral`, `same_household`, `outside_window`, `order_cancelled`."""
    reward: Money | None
    reward_kind: str | None
