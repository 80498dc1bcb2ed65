"""The social outbox: posts written in the same transaction as the owner's approval, relayed later.

(Interface fixed for the review part; the channel part fills in the table and the relay.)
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from freshtap.server.domain.social_posts import PostContent

__all__ = ["enqueue_post"]


def enqueue_post(session: Session, post: PostContent, now: datetime) -> str:
    """Add `post` to the outbox inside the caller's transaction (the caller commits); returns the entry id.

    Enqueueing the same (approval_id, channel) twice returns the first entry's id and adds nothing.
    """
    raise NotImplementedError
