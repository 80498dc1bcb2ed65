"""Social channels behind one protocol (`Channel`): local sink, signed webhook, Weibo, WeChat Official
Account, Douyin, Xiaohongshu, Mastodon. Each formats under its own rules and posts at most once."""

from freshtap.server.social.channels.base import (
    Channel,
    ChannelError,
    ChannelLimits,
    FormattedPost,
    MediaStore,
    OwnerConfirmed,
    PermanentError,
    PublishResult,
    TransientError,
    dedup_key,
)
from freshtap.server.social.channels.registry import build_channels, channel_http_client

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
    "build_channels",
    "channel_http_client",
    "dedup_key",
]
