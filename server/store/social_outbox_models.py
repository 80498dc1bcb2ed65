"""Tables of the social outbox and of the channels that keep their posts here.

- `social_outbox`: one row per (approval, channel), written in the approval's transaction and then
  carried out by the relay (pending -> in_flight -> sent | awaiting_owner | dead).
- `social_local_post`: what the local sink posted (the `/feed` page shows it).
- `social_handoff`: a post handed to the owner's phone (a Douyin share intent, a Xiaohongshu
  package), opened through its unguessable token at `/share/{token}`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from freshtap.server.store.columns import timestamp as _ts

__all__ = ["OUTBOX_STATUSES", "SocialHandoff", "SocialLocalPost", "SocialOutboxEntry"]

OUTBOX_STATUSES = ("pending", "in_flight", "awaiting_owner", "sent", "dead")


class SocialOutboxEntry(SQLModel, table=True):
    __tablename__ = "social_outbox"
    __table_args__ = (
        UniqueConstraint("approval_id", "channel", name="uq_social_outbox_approval_channel"),
        Index("ix_social_outbox_due", "status", "next_attempt_at"),
    )
    id: str = Field(primary_key=True, max_length=40)
    approval_id: str = Field(max_length=64)
    channel: str = Field(max_length=24)
    household_id: str = Field(max_length=40, index=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    """The `PostContent` as JSON, exactly as approved."""
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    """Attempts started (counted when claimed, so a relay that dies mid-post still counts)."""
    next_attempt_at: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    """While `in_flight`: the claim holds until then; after it another relay may take the entry."""
    claim_token: str | None = Field(default=None, max_length=40)
    """Which claim owns the entry; a relay whose lease was taken over cannot record its result."""
    last_error: str | None = Field(default=None, max_length=1000)
    remote_id: str | None = Field(default=None, max_length=255)
    remote_url: str | None = Field(default=None, max_length=2048)
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)
    dead_at: datetime | None = _ts(nullable=True)
    owner_deadline: datetime | None = _ts(nullable=True)
    """While `awaiting_owner`: when the share is given up if the owner never confirms it."""


class SocialLocalPost(SQLModel, table=True):
    __tablename__ = "social_local_post"
    id: str = Field(primary_key=True, max_length=40)
    dedup_key: str = Field(unique=True, max_length=100)
    household_id: str = Field(max_length=40, index=True)
    language: str = Field(max_length=8)
    text: str = Field(max_length=10_000)
    link: str = Field(max_length=2048)
    media: list[dict[str, str]] = Field(sa_column=Column(JSON, nullable=False))
    posted_at: datetime = _ts(index=True)


class SocialHandoff(SQLModel, table=True):
    __tablename__ = "social_handoff"
    token: str = Field(primary_key=True, max_length=64)
    dedup_key: str = Field(unique=True, max_length=100)
    channel: str = Field(max_length=24)
    household_id: str = Field(max_length=40, index=True)
    title: str = Field(max_length=200)
    text: str = Field(max_length=10_000)
    media: list[dict[str, str]] = Field(sa_column=Column(JSON, nullable=False))
    open_url: str | None = Field(default=None, max_length=4096)
    """What the phone opens: the Douyin share schema; none for a Xiaohongshu package."""
    remote_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = _ts()
