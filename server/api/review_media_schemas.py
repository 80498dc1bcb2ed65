"""Response models of review media (the poster and the fridge's uploaded video)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

__all__ = ["ReviewMediaPublic"]


class ReviewMediaPublic(BaseModel):
    media_id: str
    draft_id: str
    kind: str
    """"poster", "video_webm" or "video_mp4"."""
    content_type: str
    size_bytes: int
    sha256: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    created_at: datetime
    url: str
    """Where the media can be fetched once the review is approved (`/review-media/{media_id}`)."""
