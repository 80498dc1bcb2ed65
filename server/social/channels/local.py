"""The local sink, the default channel: posts go into a table of this server, shown at `/feed`.

It stands for a social platform on one machine (the demo, tests). The de-duplication key is a
unique column, so a second publish of the same approval returns the first post.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from freshtap.clock import Clock
from freshtap.server.domain.social_posts import PostContent
from freshtap.server.social.channels.base import ChannelLimits, FormattedPost, PublishResult
from freshtap.server.social.channels.compose import compose
from freshtap.server.social.channels.lengths import code_points
from freshtap.server.store.ids import new_id
from freshtap.server.store.social_outbox_models import SocialLocalPost

__all__ = ["LocalSinkChannel"]


class LocalSinkChannel:
    name = "local"
    limits = ChannelLimits(max_length=2000, counting="code points", max_images=4, max_videos=1,
                           waits_for_video=True)

    def __init__(self, sessions: Callable[[], Session], clock: Clock, public_url: str) -> None:
        self._sessions = sessions
        self._clock = clock
        self._public_url = public_url.rstrip("/")

    def format(self, post: PostContent) -> FormattedPost:
        formatted = compose(post, self.name, self.limits, code_points)
        # The feed shows the poster and, once the fridge sent it, the video beside it.
        return replace(formatted, media=post.media[: self.limits.max_images + self.limits.max_videos])

    def publish(self, formatted: FormattedPost, dedup_key: str) -> PublishResult:
        with self._sessions() as session:
            existing = session.exec(select(SocialLocalPost).where(SocialLocalPost.dedup_key == dedup_key)).first()
            if existing is not None:
                return self._result(existing, duplicate=True)
            row = SocialLocalPost(
                id=new_id("lp"),
                dedup_key=dedup_key,
                household_id=formatted.household_id,
                language=formatted.language,
                text=formatted.text,
                link=formatted.link,
                media=[{"kind": m.kind, "media_id": m.media_id, "content_type": m.content_type}
                       for m in formatted.media],
                posted_at=self._clock.now(),
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # another relay posted it a moment ago
                session.rollback()
                again = session.exec(select(SocialLocalPost).where(SocialLocalPost.dedup_key == dedup_key)).one()
                return self._result(again, duplicate=True)
            return self._result(row, duplicate=False)

    def _result(self, row: SocialLocalPost, duplicate: bool) -> PublishResult:
        return PublishResult("posted", remote_id=row.id, url=f"{self._public_url}/feed#{row.id}", duplicate=duplicate)
