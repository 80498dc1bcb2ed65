"""The media of an approved review: its poster (PNG, drawn by the server at approval) and the short
video the fridge made and uploaded after the owner approved (WebM and/or MP4).

- `ReviewMedia`: one row per (draft, kind), `kind` being "poster", "video_webm" or "video_mp4";
  the bytes themselves (a poster is ~100-300 KB, a video at most `reviews.video_max_bytes`), their
  SHA-256 (a repeated upload of the same file is recognised), and what the probe measured. The id
  is the `media_id` posts carry (`MediaRef`) and the channels read through `MediaStore`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from freshtap.server.store.columns import timestamp as _ts

__all__ = ["MEDIA_KINDS", "ReviewMedia"]

MEDIA_KINDS = ("poster", "video_webm", "video_mp4")


class ReviewMedia(SQLModel, table=True):
    __tablename__ = "review_media"
    __table_args__ = (UniqueConstraint("draft_id", "kind", name="uq_review_media_draft_kind"),)
    id: str = Field(primary_key=True, max_length=40)
    draft_id: str = Field(foreign_key="review_draft.id", index=True, max_length=40)
    household_id: str = Field(foreign_key="household.id", index=True, max_length=40)
    kind: str = Field(max_length=16)
    content_type: str = Field(max_length=40)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size_bytes: int
    sha256: str = Field(max_length=64)
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    created_at: datetime = _ts()
