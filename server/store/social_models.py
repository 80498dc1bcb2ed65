"""Tables of reviews and referrals: drafts with their facts, consents, referral links, referred orders, rewards.

- `ReviewDraft`: one per order (unique), made when the order was restocked (or delivered long
  enough ago); the facts it was drafted from and its sentences, each citing fact ids, in zh and
  en; the owner's edits; `status` draft -> approved | skipped; on approval, the language and the
  exact text approved.
- `ReviewConsent`: one per (draft, channel): when the owner consented, to which channel, and the
  exact text the screen showed.
- `ReferralLink`: the code of an approved review's post (`/r/{code}`).
- `ReferralOrder`: an order placed through a link, whether it was attributed (inside the window),
  whether it can earn a reward (and if not, why), and what became of the reward.
- `Reward`: a reward granted to a referrer, once per referred order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from freshtap.server.store.columns import timestamp as _ts

__all__ = ["ReferralLink", "ReferralOrder", "ReviewConsent", "ReviewDraft", "Reward"]


class ReviewDraft(SQLModel, table=True):
    __tablename__ = "review_draft"
    id: str = Field(primary_key=True, max_length=40)
    order_id: str = Field(foreign_key="order.id", unique=True, max_length=40)
    household_id: str = Field(foreign_key="household.id", index=True, max_length=40)
    fridge_id: str = Field(foreign_key="fridge.id", max_length=64)
    merchant_id: str = Field(foreign_key="merchant.id", index=True, max_length=40)
    product_id: str = Field(foreign_key="product.id", max_length=40)
    status: str = Field(default="draft", max_length=16, index=True)
    """`draft` (waiting for the owner), `approved` or `skipped`."""
    referral_code: str = Field(unique=True, max_length=24)
    """The code the post's link will carry (`/r/{code}`), fixed at drafting so the poster shows it;
    the link works only once the owner approved (`ReferralLink`)."""
    facts: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sentences: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """Per language ("zh", "en"), the drafted sentences: `[{"text": ..., "facts": [fact ids]}]`."""
    owner_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    owner_rating: int | None = None
    edited_zh: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The owner's own wording of the whole review in Chinese, replacing the drafted text."""
    edited_en: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    approved_language: str | None = Field(default=None, max_length=2)
    approved_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    decided_at: datetime | None = _ts(nullable=True)


class ReviewConsent(SQLModel, table=True):
    __tablename__ = "review_consent"
    __table_args__ = (UniqueConstraint("draft_id", "channel", name="uq_review_consent_channel"),)
    id: str = Field(primary_key=True, max_length=40)
    draft_id: str = Field(foreign_key="review_draft.id", index=True, max_length=40)
    household_id: str = Field(foreign_key="household.id", index=True, max_length=40)
    channel: str = Field(max_length=32)
    language: str = Field(max_length=2)
    shown_text: str = Field(sa_column=Column(Text, nullable=False))
    """Exactly what the owner saw when consenting (the review text and the disclosure line)."""
    given_at: datetime = _ts()


class ReferralLink(SQLModel, table=True):
    __tablename__ = "referral_link"
    code: str = Field(primary_key=True, max_length=24)
    draft_id: str = Field(foreign_key="review_draft.id", unique=True, max_length=40)
    household_id: str = Field(foreign_key="household.id", index=True, max_length=40)
    merchant_id: str = Field(foreign_key="merchant.id", index=True, max_length=40)
    product_id: str = Field(foreign_key="product.id", max_length=40)
    created_at: datetime = _ts()
    clicks: int = 0


class ReferralOrder(SQLModel, table=True):
    __tablename__ = "referral_order"
    order_id: str = Field(foreign_key="order.id", primary_key=True, max_length=40)
    code: str = Field(foreign_key="referral_link.code", index=True, max_length=24)
    referrer_household_id: str = Field(foreign_key="household.id", index=True, max_length=40)
    household_id: str = Field(foreign_key="household.id", max_length=40)
    merchant_id: str = Field(foreign_key="merchant.id", index=True, max_length=40)
    attributed: bool
    eligible: bool
    reason: str | None = Field(default=None, max_length=32)
    """Why no reward: `self_referral`, `same_household`, `outside_window` or `order_cancelled`."""
    reward_status: str = Field(default="pending", max_length=16, index=True)
    """`pending` (waiting for the cancellation window), `granted` or `none`."""
    created_at: datetime = _ts()
    decided_at: datetime | None = _ts(nullable=True)


class Reward(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=40)
    order_id: str = Field(foreign_key="referral_order.order_id", unique=True, max_length=40)
    """The referred order that earned it: one reward per referred order."""
    household_id: str = Field(foreign_key="household.id", index=True, max_length=40)
    kind: str = Field(max_length=24)
    """`cashback_credit` or `red_envelope`."""
    amount_minor: int
    currency: str = Field(max_length=3)
    granted_at: datetime = _ts()
