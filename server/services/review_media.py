"""The media of approved reviews: the poster stored at approval, the fridge's video taken once, and
both joined to the posts waiting in the social outbox.

- `store_poster` runs inside the approval's transaction: the poster (drawn with the post's
  referral link) is stored as `review_media` kind "poster", and its `MediaRef` goes into every
  post of the approval.
- `ReviewMediaService.put_video` takes the video the draft's household's fridge made, only once the
  owner approved (409 before), only `video/webm` or `video/mp4` (415), at most
  `reviews.video_max_bytes` (413, checked by the route while it reads), really a 720x1280 video of
  8-15 s (422, `social/video_probe.py`). One per (draft, kind): the same file again is answered
  with the first (idempotent); another file is a 409. In the same transaction it adds the video to
  the posts still pending in the outbox and makes those that were waiting for it due now. A post
  already sent is never posted again with the video.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from freshtap.clock import Clock
from freshtap.server.domain.errors import Conflict, DomainError, NotFound
from freshtap.server.domain.social_posts import MediaRef
from freshtap.server.social.video_probe import VIDEO_TYPES, probe_video
from freshtap.server.store.ids import new_id
from freshtap.server.store.review_media_models import ReviewMedia
from freshtap.server.store.social_models import ReviewDraft
from freshtap.server.store.social_outbox_models import SocialOutboxEntry
from freshtap.settings import Settings

__all__ = [
    "MediaTooLarge",
    "ReviewMediaService",
    "StoredMedia",
    "UnsupportedMediaType",
    "media_ref",
    "store_poster",
]


class UnsupportedMediaType(DomainError):
    status = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


class MediaTooLarge(DomainError):
    status = 413
    title = "Request body too large"
    type_slug = "too-large"


@dataclass(frozen=True)
class StoredMedia:
    media_id: str
    draft_id: str
    kind: str
    content_type: str
    size_bytes: int
    sha256: str
    width: int | None
    height: int | None
    duration_s: float | None
    created_at: datetime


def _stored(row: ReviewMedia) -> StoredMedia:
    return StoredMedia(row.id, row.draft_id, row.kind, row.content_type, row.size_bytes, row.sha256, row.width,
                       row.height, row.duration_s, row.created_at)


def media_ref(row: ReviewMedia) -> MediaRef:
    return MediaRef(kind=row.kind, media_id=row.id, content_type=row.content_type)


def store_poster(session: Session, draft: ReviewDraft, png: bytes, now: datetime) -> MediaRef:
    """Keep the approval's poster (inside the caller's transaction) and return its reference."""
    existing = session.exec(
        select(ReviewMedia).where(ReviewMedia.draft_id == draft.id, ReviewMedia.kind == "poster")
    ).first()
    if existing is not None:
        return media_ref(existing)
    row = ReviewMedia(
        id=new_id("rvm"),
        draft_id=draft.id,
        household_id=draft.household_id,
        kind="poster",
        content_type="image/png",
        data=png,
        size_bytes=len(png),
        sha256=hashlib.sha256(png).hexdigest(),
        created_at=now,
    )
    session.add(row)
    return media_ref(row)


def _join_to_posts(session: Session, draft_id: str, ref: MediaRef, now: datetime) -> int:
    """Add `ref` to the approval's posts not yet taken by a relay; those waiting for it become due."""
    joined = 0
    entries = session.exec(
        select(SocialOutboxEntry).where(
            SocialOutboxEntry.approval_id == draft_id, SocialOutboxEntry.status == "pending"
        )
    ).all()
    for entry in entries:
        media = [dict(m) for m in entry.payload.get("media", [])]
        if any(m.get("media_id") == ref.media_id for m in media):
            continue
        entry.payload = {**entry.payload, "media": [*media, asdict(ref)]}
        if entry.attempts == 0 and entry.next_attempt_at > now:  # never tried: it was waiting for the video
            entry.next_attempt_at = now
        session.add(entry)
        joined += 1
    return joined


class ReviewMediaService:
    def __init__(self, sessions: Callable[[], Session], clock: Clock, settings: Settings) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings

    @property
    def max_video_bytes(self) -> int:
        return self._settings.reviews.video_max_bytes

    def check_upload(self, content_type: str, declared_length: int | None) -> None:
        """What can be refused before a byte of the body is read: its type and declared size."""
        if content_type not in VIDEO_TYPES:
            raise UnsupportedMediaType(f"send the video as video/webm or video/mp4, not {content_type or 'nothing'}")
        if declared_length is not None and declared_length > self.max_video_bytes:
            raise MediaTooLarge(f"review videos are limited to {self.max_video_bytes} bytes")

    def draft_for_upload(self, household_id: str, draft_id: str) -> ReviewDraft:
        with self._sessions() as session:
            draft = session.get(ReviewDraft, draft_id)
        if draft is None or draft.household_id != household_id:
            raise NotFound(f"no review draft {draft_id}")
        if draft.status != "approved":
            state = "skipped" if draft.status == "skipped" else "not approved yet"
            raise Conflict(f"this review is {state}: a video is taken only after the owner approved it")
        return draft

    def put_video(self, household_id: str, draft_id: str, data: bytes, content_type: str) -> tuple[StoredMedia, bool]:
        """Store the approved draft's video; `(media, created)`; the same file again is `(first, False)`."""
        self.check_upload(content_type, len(data))
        draft = self.draft_for_upload(household_id, draft_id)
        digest = hashlib.sha256(data).hexdigest()
        kind = VIDEO_TYPES[content_type][0]
        existing = self._existing(draft.id, kind)
        if existing is not None:
            return self._same_or_conflict(existing, digest), False
        facts = probe_video(data, content_type)
        now = self._clock.now()
        with self._sessions() as session:
            row = ReviewMedia(
                id=new_id("rvm"),
                draft_id=draft.id,
                household_id=draft.household_id,
                kind=kind,
                content_type=content_type,
                data=data,
                size_bytes=len(data),
                sha256=digest,
                width=facts.width,
                height=facts.height,
                duration_s=facts.duration_s,
                created_at=now,
            )
            session.add(row)
            _join_to_posts(session, draft.id, media_ref(row), now)
            try:
                session.commit()
            except IntegrityError:  # the same upload, at the same moment, from a retry
                session.rollback()
                again = self._existing(draft.id, kind)
                if again is None:
                    raise
                return self._same_or_conflict(again, digest), False
            session.refresh(row)
            return _stored(row), True

    def media_of(self, draft_id: str) -> list[StoredMedia]:
        with self._sessions() as session:
            rows = session.exec(select(ReviewMedia).where(ReviewMedia.draft_id == draft_id)).all()
            return [_stored(r) for r in rows]

    def _existing(self, draft_id: str, kind: str) -> StoredMedia | None:
        with self._sessions() as session:
            row = session.exec(
                select(ReviewMedia).where(ReviewMedia.draft_id == draft_id, ReviewMedia.kind == kind)
            ).first()
            return None if row is None else _stored(row)

    @staticmethod
    def _same_or_conflict(existing: StoredMedia, digest: str) -> StoredMedia:
        if existing.sha256 != digest:
            raise Conflict(f"a different {existing.content_type} was already uploaded for this review")
        return existing
