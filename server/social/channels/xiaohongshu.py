"""Xiaohongshu (小红书): no posting API, so a ready-to-post package the owner opens on the phone.

Xiaohongshu's open platform offers no endpoint for posting notes as a user. The channel makes a
package instead: the note's title (at most 20 字) and body (at most 1000 字: the app's limits for a
note), the poster and video as a zip at `/share/{token}/package.zip`, and a page at
`/share/{token}` with a QR code, where the owner copies the text and saves the media before
posting in the app. "Publishing" it means handing it over; the package is kept per approval, so
a retry hands over the same one.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from freshtap.clock import Clock
from freshtap.server.domain.social_posts import PostContent
from freshtap.server.social.channels.base import ChannelLimits, FormattedPost, PublishResult
from freshtap.server.social.channels.compose import compose
from freshtap.server.social.channels.lengths import code_points, fit
from freshtap.server.social.handoffs import handoff_for, handoff_url

__all__ = ["XiaohongshuChannel"]

_TITLE_MAX = 20


class XiaohongshuChannel:
    name = "xiaohongshu"
    limits = ChannelLimits(max_length=1000, counting="code points", max_images=9, max_videos=1,
                           waits_for_video=True)

    def __init__(self, sessions: Callable[[], Session], clock: Clock, public_url: str) -> None:
        self._sessions = sessions
        self._clock = clock
        self._public_url = public_url

    def format(self, post: PostContent) -> FormattedPost:
        first = post.text.strip().splitlines()[0] if post.text.strip() else ""
        title, _ = fit(first or ("冰箱实测" if post.language == "zh" else "From my fridge"), _TITLE_MAX, code_points)
        formatted = compose(post, self.name, self.limits, code_points, title=title)
        # A note carries pictures and a video together: keep them all.
        return FormattedPost(**{**formatted.__dict__, "media": post.media})

    def publish(self, formatted: FormattedPost, dedup_key: str) -> PublishResult:
        handoff, existed = handoff_for(self._sessions, formatted, dedup_key, self._clock.now())
        return PublishResult(
            "handed_over", remote_id=handoff.token, url=handoff_url(self._public_url, handoff.token), duplicate=existed
        )
