"""What an approved review becomes on a channel: the content handed to the social outbox.

The review part (drafts, approval, consent, referrals) builds a `PostContent` per approved channel
and enqueues it with `freshtap.server.services.social_outbox.enqueue_post` in the same
transaction as the approval. The channel part formats it under its own rules and limits, adds the
disclosure its channel and jurisdiction require, and posts it exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MediaRef", "PostContent"]


@dataclass(frozen=True)
class MediaRef:
    """A stored media file of the review: `kind` is "poster" (PNG), "video_webm" or "video_mp4"."""

    kind: str
    media_id: str
    content_type: str


@dataclass(frozen=True)
class PostContent:
    approval_id: str
    """The approval this post carries out; with the channel it is the de-duplication key."""
    household_id: str
    channel: str
    """The channel's name: "local", "webhook", "weibo", "wechat_oa", "douyin", "xiaohongshu", "mastodon"."""
    language: str
    """"zh" or "en"."""
    text: str
    """The text the owner approved (edited or as drafted), without disclosure or link."""
    referral_url: str
    """The post's referral link, `<public base>/r/<code>`."""
    incentive: bool
    """Whether the owner gets a reward for sharing: the post must then carry an ad disclosure."""
    jurisdiction: str = "CN"
    """Where the owner is ("CN", "US", "EU"), for the disclosure wording."""
    media: tuple[MediaRef, ...] = field(default_factory=tuple)
    video_until: str | None = None
    """While the fridge's video of the review is still expected: until when (RFC 3339, UTC). A channel
    that carries video (`ChannelLimits.waits_for_video`) holds the post until the video is in
    `media` or this time has passed; the others post with the poster at once."""
