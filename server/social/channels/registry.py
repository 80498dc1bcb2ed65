"""The channels a server posts to, built from `Settings.social_channels`.

The local sink and the Xiaohongshu package are always there (they need no account); the webhook,
Mastodon, Weibo, WeChat Official Account and Douyin join once their credentials are set.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlmodel import Session

from freshtap.clock import Clock
from freshtap.server.social.channels.base import Channel, MediaStore
from freshtap.server.social.channels.douyin import DouyinChannel
from freshtap.server.social.channels.local import LocalSinkChannel
from freshtap.server.social.channels.mastodon import MastodonChannel
from freshtap.server.social.channels.webhook import WebhookChannel
from freshtap.server.social.channels.wechat_oa import WechatOAChannel
from freshtap.server.social.channels.weibo import WeiboChannel
from freshtap.server.social.channels.xiaohongshu import XiaohongshuChannel
from freshtap.settings import Settings

__all__ = ["build_channels", "channel_http_client"]


def channel_http_client(settings: Settings) -> httpx.Client:
    timeout = settings.social_channels.request_timeout_seconds
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), follow_redirects=False)


def build_channels(
    settings: Settings, sessions: Callable[[], Session], clock: Clock, media: MediaStore, client: httpx.Client
) -> dict[str, Channel]:
    config = settings.social_channels
    public = settings.resolved_public_url
    channels: dict[str, Channel] = {
        "local": LocalSinkChannel(sessions, clock, public),
        "xiaohongshu": XiaohongshuChannel(sessions, clock, public),
    }
    if config.webhook.url and config.webhook.secret is not None:
        channels["webhook"] = WebhookChannel(
            config.webhook.url, config.webhook.secret.get_secret_value(), client, public_url=public
        )
    if config.mastodon.base_url and config.mastodon.access_token is not None:
        channels["mastodon"] = MastodonChannel(
            config.mastodon.base_url,
            config.mastodon.access_token.get_secret_value(),
            client,
            media,
            visibility=config.mastodon.visibility,
            max_characters=config.mastodon.max_characters,
        )
    if config.weibo.access_token is not None:
        channels["weibo"] = WeiboChannel(
            config.weibo.api_base, config.weibo.access_token.get_secret_value(), config.weibo.client_ip, client, media
        )
    if config.wechat_oa.app_id and config.wechat_oa.app_secret is not None:
        channels["wechat_oa"] = WechatOAChannel(
            config.wechat_oa.api_base,
            config.wechat_oa.app_id,
            config.wechat_oa.app_secret.get_secret_value(),
            client,
            media,
            author=config.wechat_oa.author,
        )
    if config.douyin.client_key and config.douyin.client_secret is not None:
        channels["douyin"] = DouyinChannel(
            config.douyin.api_base,
            config.douyin.client_key,
            config.douyin.client_secret.get_secret_value(),
            client,
            sessions,
            clock,
            public,
        )
    return channels
