"""Posts handed to the owner's phone: a Douyin share intent or a Xiaohongshu package, one per approval.

A handoff is opened at `/share/{token}` (a QR code the owner scans); the token is random and
unguessable and is the only credential, as for the payment confirmation page. Keyed by the
de-duplication key, so a retried publish finds the first handoff.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from freshtap.server.social.channels.base import FormattedPost
from freshtap.server.store.social_outbox_models import SocialHandoff

__all__ = ["find_handoff", "handoff_for", "handoff_url"]


def handoff_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/share/{token}"


def find_handoff(sessions: Callable[[], Session], dedup_key: str) -> SocialHandoff | None:
    with sessions() as session:
        return session.exec(select(SocialHandoff).where(SocialHandoff.dedup_key == dedup_key)).first()


def handoff_for(
    sessions: Callable[[], Session],
    formatted: FormattedPost,
    dedup_key: str,
    now: datetime,
    open_url: str | None = None,
    remote_id: str | None = None,
    token: str | None = None,
) -> tuple[SocialHandoff, bool]:
    """The handoff of `dedup_key`, made now unless it exists; and whether it existed already."""
    existing = find_handoff(sessions, dedup_key)
    if existing is not None:
        return existing, True
    row = SocialHandoff(
        token=token or secrets.token_urlsafe(24),
        dedup_key=dedup_key,
        channel=formatted.channel,
        household_id=formatted.household_id,
        title=formatted.title,
        text=formatted.text,
        media=[{"kind": m.kind, "media_id": m.media_id, "content_type": m.content_type} for m in formatted.media],
        open_url=open_url,
        remote_id=remote_id,
        created_at=now,
    )
    with sessions() as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            again = session.exec(select(SocialHandoff).where(SocialHandoff.dedup_key == dedup_key)).one()
            return again, True
    return row, False
