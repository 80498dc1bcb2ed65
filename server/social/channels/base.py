"""The seam every social channel sits behind, the values that cross it, and how a post can fail.

A channel does two things. `format` is pure: it turns the owner's approved `PostContent` into what
this platform will show (its length rules, its hashtag rules, the disclosure label and note), and
it is tested without any network. `publish` sends a formatted post, carrying the de-duplication
key (`<approval_id>:<channel>`) the way the platform allows, so that a retry after an unknown
outcome never makes a second post.

Failures, as the relay reads them:

    ChannelError
    ├── TransientError   try again later (5xx, timeouts, 429 with its Retry-After)
    └── PermanentError   trying again cannot help (bad credentials, refused content): dead-letter now
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from freshtap.server.domain.social_posts import MediaRef, PostContent

__all__ = [
    "Channel",
    "ChannelError",
    "ChannelLimits",
    "FormattedPost",
    "MediaStore",
    "OwnerConfirmed",
    "PermanentError",
    "PublishResult",
    "TransientError",
    "dedup_key",
]


def dedup_key(approval_id: str, channel: str) -> str:
    """The key a post carries to its channel: one approval, one channel, one post."""
    return f"{approval_id}:{channel}"


@dataclass(frozen=True)
class ChannelLimits:
    max_length: int
    """The platform's limit on the post's text, in its own unit (`counting`)."""
    counting: str
    """How it counts: "code points", "mastodon (URL = 23)", "weibo 汉字 (2 ASCII = 1)"."""
    max_images: int = 1
    max_videos: int = 0
    hashtags: bool = True
    """Whether `#tag` is allowed in the text (Weibo's share API refuses "#话题#")."""
    waits_for_video: bool = False
    """Whether a post here waits (up to `PostContent.video_until`) for the fridge's video: channels
    where the video is the post (Douyin, a Xiaohongshu note, the local feed)."""


@dataclass(frozen=True)
class FormattedPost:
    channel: str
    approval_id: str
    household_id: str
    language: str
    text: str
    """The whole text as posted: disclosure label, the owner's text, link, note."""
    link: str
    title: str = ""
    """A headline, where the platform has one (WeChat article, Xiaohongshu note)."""
    media: tuple[MediaRef, ...] = field(default_factory=tuple)
    disclosure_label: str = ""
    truncated: bool = False
    """Whether the owner's text had to be cut to fit (the label, link and note never are)."""


@dataclass(frozen=True)
class PublishResult:
    state: Literal["posted", "pending_owner", "handed_over"]
    """`posted`: public on the platform. `pending_owner`: waiting for the owner to confirm on the
    phone (Douyin's share flow). `handed_over`: a ready-to-post package the owner posts (Xiaohongshu)."""
    remote_id: str | None = None
    url: str | None = None
    """The public post, or the page the owner opens on the phone."""
    duplicate: bool = False
    """The platform already had this post (the de-duplication key matched): nothing new was posted."""


class ChannelError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransientError(ChannelError):
    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PermanentError(ChannelError):
    pass


class MediaStore(Protocol):
    """Where a post's media bytes come from (the review part's poster and video)."""

    def get(self, media_id: str) -> bytes:
        """The file's bytes; `KeyError` when there is no such media."""
        ...


class Channel(Protocol):
    name: str
    limits: ChannelLimits

    def format(self, post: PostContent) -> FormattedPost: ...

    def publish(self, formatted: FormattedPost, dedup_key: str) -> PublishResult: ...


@runtime_checkable
class OwnerConfirmed(Protocol):
    """A channel whose post waits for the owner's phone; the relay polls it until it is posted."""

    def poll(self, remote_id: str) -> PublishResult:
        """`posted` once the owner posted it, `pending_owner` while not yet."""
        ...
