"""The review's media reach each platform the way it documents: Mastodon's `/api/v2/media` then
`media_ids` (a video alone, or the poster), Weibo's `pic`, WeChat's cover through `add_material`,
Douyin's share schema with `video_path`, the Xiaohongshu package and the local feed with both, and
the webhook's media with their URLs. The bytes each fake receives are the stored files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel import Session, select

from freshtap.clock import ManualClock
from freshtap.server.domain.social_posts import MediaRef, PostContent
from freshtap.server.social.channels.douyin import DouyinChannel
from freshtap.server.social.channels.local import LocalSinkChannel
from freshtap.server.social.channels.mastodon import MastodonChannel
from freshtap.server.social.channels.webhook import WebhookChannel
from freshtap.server.social.channels.wechat_oa import WechatOAChannel
from freshtap.server.social.channels.weibo import WeiboChannel
from freshtap.server.social.channels.xiaohongshu import XiaohongshuChannel
from freshtap.server.social.handoffs import find_handoff
from freshtap.server.social.media import InMemoryMediaStore
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from freshtap.server.store.social_outbox_models import SocialLocalPost
from tests.social.fakes.base import running
from tests.social.fakes.douyin import FakeDouyin
from tests.social.fakes.mastodon import FakeMastodon
from tests.social.fakes.webhook import WebhookReceiver
from tests.social.fakes.wechat import FakeWechat
from tests.social.fakes.weibo import FakeWeibo

PNG = b"\x89PNG\r\n\x1a\n" + b"poster" * 50
WEBM = b"\x1aE\xdf\xa3" + b"webm" * 300
MP4 = b"\0\0\0\x18ftypmp42" + b"mp4!" * 300
POSTER = MediaRef("poster", "rvm_poster", "image/png")
VIDEO = MediaRef("video_webm", "rvm_webm", "video/webm")
VIDEO_MP4 = MediaRef("video_mp4", "rvm_mp4", "video/mp4")
PUBLIC = "https://freshtap.example"


def _post(channel: str, *media: MediaRef) -> PostContent:
    return PostContent("apr-m", "hh-1", channel, "zh", "牛奶放了9天依然新鲜。", f"{PUBLIC}/r/abc", True, "CN", media)


@pytest.fixture
def media() -> InMemoryMediaStore:
    store = InMemoryMediaStore()
    for ref, data in ((POSTER, PNG), (VIDEO, WEBM), (VIDEO_MP4, MP4)):
        store.put(ref.media_id, data)
    return store


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as made:
        yield made


@pytest.fixture
def sessions(tmp_path: Path) -> Callable[[], Session]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'media.db'}")
    migrate(engine)
    return session_factory(engine)


CLOCK = ManualClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))


def test_mastodon_uploads_the_video_alone_or_the_poster(media: InMemoryMediaStore, client: httpx.Client) -> None:
    for fake in running(FakeMastodon()):
        assert isinstance(fake, FakeMastodon)
        channel = MastodonChannel(fake.url, fake.token, client, media)
        with_video = channel.publish(channel.format(_post("mastodon", POSTER, VIDEO, VIDEO_MP4)), "apr-m:mastodon")
        [attachment] = fake.statuses[str(with_video.remote_id)]["media_attachments"]
        assert (attachment["type"], attachment["mime"]) == ("video", "video/mp4")  # MP4 where a platform takes it
        assert fake.media_bytes[attachment["id"]] == MP4
        assert len(fake.requests_to(f"/api/v1/media/{attachment['id']}", "GET")) == 2  # waited for processing
        poster_only = channel.publish(channel.format(_post("mastodon", POSTER)), "apr-n:mastodon")
        [image] = fake.statuses[str(poster_only.remote_id)]["media_attachments"]
        assert (image["type"], fake.media_bytes[image["id"]]) == ("image", PNG)


def test_weibo_and_wechat_carry_the_poster(media: InMemoryMediaStore, client: httpx.Client) -> None:
    for weibo in running(FakeWeibo()):
        assert isinstance(weibo, FakeWeibo)
        channel = WeiboChannel(weibo.url, weibo.token, "203.0.113.9", client, media)
        channel.publish(channel.format(_post("weibo", POSTER, VIDEO)), "apr-m:weibo")
        assert weibo.pics == [PNG] and weibo.statuses[0]["has_pic"]
    for wechat in running(FakeWechat()):
        assert isinstance(wechat, FakeWechat)
        oa = WechatOAChannel(wechat.url, wechat.app_id, wechat.secret, client, media)
        oa.publish(oa.format(_post("wechat_oa", POSTER, VIDEO)), "apr-m:wechat_oa")
        [article] = wechat.published[0]["articles"]
        assert wechat.material_bytes[article["thumb_media_id"]] == PNG


def test_douyin_shares_the_video_and_xiaohongshu_packs_both(
    media: InMemoryMediaStore, client: httpx.Client, sessions: Callable[[], Session]
) -> None:
    for fake in running(FakeDouyin()):
        assert isinstance(fake, FakeDouyin)
        channel = DouyinChannel(fake.url, fake.client_key, fake.client_secret, client, sessions, CLOCK, PUBLIC)
        assert channel.limits.waits_for_video
        shared = channel.publish(channel.format(_post("douyin", POSTER, VIDEO_MP4)), "apr-m:douyin")
        handoff = find_handoff(sessions, "apr-m:douyin")
        assert handoff is not None and shared.state == "pending_owner" and handoff.open_url
        schema = parse_qs(urlsplit(handoff.open_url).query)
        assert schema["video_path"] == [f"{PUBLIC}/share/{handoff.token}/media/{VIDEO_MP4.media_id}"]
        assert [m["media_id"] for m in handoff.media] == [VIDEO_MP4.media_id]
    xhs = XiaohongshuChannel(sessions, CLOCK, PUBLIC)
    xhs.publish(xhs.format(_post("xiaohongshu", POSTER, VIDEO)), "apr-m:xiaohongshu")
    package = find_handoff(sessions, "apr-m:xiaohongshu")
    assert package is not None and [m["kind"] for m in package.media] == ["poster", "video_webm"]


def test_the_local_feed_keeps_both_and_the_webhook_sends_media_urls(
    media: InMemoryMediaStore, client: httpx.Client, sessions: Callable[[], Session]
) -> None:
    local = LocalSinkChannel(sessions, CLOCK, PUBLIC)
    local.publish(local.format(_post("local", POSTER, VIDEO)), "apr-m:local")
    with sessions() as session:
        row = session.exec(select(SocialLocalPost)).one()
    assert [m["media_id"] for m in row.media] == [POSTER.media_id, VIDEO.media_id]
    for fake in running(WebhookReceiver(secret="whsec-m")):
        assert isinstance(fake, WebhookReceiver)
        hook = WebhookChannel(fake.url, "whsec-m", client, public_url=PUBLIC)
        hook.publish(hook.format(_post("webhook", POSTER, VIDEO)), "apr-m:webhook")
        sent = json.loads(json.dumps(fake.events["apr-m:webhook"]["media"]))
        assert [(m["kind"], m["url"]) for m in sent] == [("poster", f"{PUBLIC}/review-media/{POSTER.media_id}"),
                                                         ("video_webm", f"{PUBLIC}/review-media/{VIDEO.media_id}")]
