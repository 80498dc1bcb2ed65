"""The social outbox: posts written in the same transaction as the owner's approval, relayed later.

`enqueue_post` is called by the review part inside the approval's transaction, so an approval and
its posts are committed together or not at all; the relay (`services/social_relay.py`) then
carries each entry out. One entry per (approval, channel), enforced by a unique constraint.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from freshtap.server.domain.social_posts import MediaRef, PostContent
from freshtap.server.store.ids import new_id
from freshtap.server.store.social_outbox_models import SocialOutboxEntry

__all__ = ["enqueue_post", "post_from_payload"]


def enqueue_post(session: Session, post: PostContent, now: datetime) -> str:
    """Add `post` to the outbox inside the caller's transaction (the caller commits); returns the entry id.

    Enqueueing the same (approval_id, channel) twice returns the first entry's id and adds nothing.
    (Two transactions enqueueing the same pair at once: the unique constraint fails the second
    commit, and the caller's own retry then finds the first entry.)
    """
    existing = session.exec(
        select(SocialOutboxEntry).where(
            SocialOutboxEntry.approval_id == post.approval_id, SocialOutboxEntry.channel == post.channel
        )
    ).first()
    if existing is not None:
        return existing.id
    for pending in session.new:  # added earlier in this same transaction, not flushed yet
        if (
            isinstance(pending, SocialOutboxEntry)
            and pending.approval_id == post.approval_id
            and pending.channel == post.channel
        ):
            return pending.id
    entry = SocialOutboxEntry(
        id=new_id("pst"),
        approval_id=post.approval_id,
        channel=post.channel,
        household_id=post.household_id,
        payload=asdict(post),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(entry)
    return entry.id


def post_from_payload(payload: dict[str, Any]) -> PostContent:
    """The `PostContent` an entry was enqueued with."""
    fields = dict(payload)
    fields["media"] = tuple(MediaRef(**m) for m in fields.get("media", ()))
    return PostContent(**fields)
