"""The layout every channel shares: label first, the owner's text, the link, then the note.

    【广告】                         <- disclosure label (only with an incentive)
    The milk stayed fresh 9 days …   <- the owner's approved text, cut with "…" only if it must be
    https://example.org/r/abc123     <- referral link
    本帖由 freshtap 根据 …            <- provenance note (and "reward received" with an incentive)

Only the owner's text is ever shortened; the label, link and note always go out whole. A channel
that forbids hashtags gets "#ad" as "Ad" and the owner's "#topic#" markers removed.
"""

from __future__ import annotations

import re

from freshtap.server.domain.social_posts import MediaRef, PostContent
from freshtap.server.social.channels.base import ChannelLimits, FormattedPost
from freshtap.server.social.channels.lengths import Counter, fit
from freshtap.server.social.disclosure import disclosure_for

__all__ = ["compose", "pick_media"]

_TOPIC = re.compile(r"#([^#\s]{1,40})#")
_HASHTAG = re.compile(r"#(?=\w)")


def _without_hashtags(text: str) -> str:
    return _HASHTAG.sub("", _TOPIC.sub(r"\1", text))


def pick_media(media: tuple[MediaRef, ...], limits: ChannelLimits) -> tuple[MediaRef, ...]:
    """The post's media this channel can carry: videos first where it takes them, else the poster."""
    videos = [m for m in media if m.kind.startswith("video")]
    images = [m for m in media if m.kind == "poster"]
    if limits.max_videos and videos:
        mp4 = [m for m in videos if m.kind == "video_mp4"]
        return tuple((mp4 or videos)[: limits.max_videos])
    return tuple(images[: limits.max_images])


def compose(post: PostContent, channel: str, limits: ChannelLimits, count: Counter, title: str = "") -> FormattedPost:
    disclosure = disclosure_for(post.jurisdiction, post.language, post.incentive)
    label, body, note = disclosure.label, post.text.strip(), disclosure.note
    if not limits.hashtags:
        label, body = _without_hashtags(label).strip(), _without_hashtags(body)
    head = f"{label}\n" if label else ""
    tail = f"\n{post.referral_url}\n\n{note}"
    budget = limits.max_length - count(head + tail)
    if budget < 1:
        raise ValueError(f"{channel}: the disclosure and link alone exceed {limits.max_length}")
    body, truncated = fit(body, budget, count)
    return FormattedPost(
        channel=channel,
        approval_id=post.approval_id,
        household_id=post.household_id,
        language=post.language,
        text=head + body + tail,
        link=post.referral_url,
        title=title,
        media=pick_media(post.media, limits),
        disclosure_label=label,
        truncated=truncated,
    )
