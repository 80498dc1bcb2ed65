"""Each channel's `publish` against its local fake (real HTTP on loopback), including the retry
after an unknown outcome that must not post twice, and the pages of the channels on this server."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from freshtap.clock import ManualClock
from freshtap.server.app import create_app
from freshtap.server.container import build_services
from freshtap.server.domain.social_posts import MediaRef, PostContent
from freshtap.server.services.publisher import RecordingPublisher
from freshtap.server.social.channels.base import PermanentError, TransientError
from freshtap.server.social.channels.douyin import DouyinChannel, share_signature
from freshtap.server.social.channels.local import LocalSinkChannel
from freshtap.server.social.channels.mastodon import MastodonChannel
from freshtap.server.social.channels.webhook import WebhookChannel
from freshtap.server.social.channels.wechat_oa import WechatOAChannel
from freshtap.server.social.channels.weibo import WeiboChannel
from freshtap.server.social.channels.xiaohongshu import XiaohongshuChannel
from freshtap.server.social.media import InMemoryMediaStore
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from freshtap.settings import Settings
from tests.social.fakes.base import Fault, running
from tests.social.fakes.douyin import FakeDouyin
from tests.social.fakes.mastodon import FakeMastodon
from tests.social.fakes.webhook import WebhookReceiver
from tests.social.fakes.wechat import FakeWechat
from tests.social.fakes.weibo import FakeWeibo

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
KEY = "apr-1:test"


def _post(channel: str, media: tuple[MediaRef, ...] = (), text: str = "牛奶放了9天依然新鲜。") -> PostContent:
    return PostContent("apr-1", "hh-1", channel, "zh", text, "https://freshtap.example/r/abc", True, "CN", media)


@pytest.fixture
def media() -> InMemoryMediaStore:
    store = InMemoryMediaStore()
    store.put("poster-1", PNG)
    return store


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=0.5) as made:
        yield made


@pytest.fixture
def sessions(tmp_path: Path) -> Callable[[], Session]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'channels.db'}")
    migrate(engine)
    return session_factory(engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))


POSTER = (MediaRef("poster", "poster-1", "image/png"),)


def test_mastodon_uploads_media_posts_and_replays_by_idempotency_key(media: InMemoryMediaStore,
                                                                     client: httpx.Client) -> None:
    for fake in running(FakeMastodon(media_async=True)):
        assert isinstance(fake, FakeMastodon)
        channel = MastodonChannel(fake.url, fake.token, client, media)
        formatted = channel.format(_post("mastodon", POSTER))
        first = channel.publish(formatted, KEY)
        again = channel.publish(formatted, KEY)
        assert first.state == "posted" and again.remote_id == first.remote_id
        assert len(fake.statuses) == 1 and fake.duplicates == 1
        status = fake.statuses[str(first.remote_id)]
        assert status["content"] == formatted.text and len(status["media_attachments"]) == 1
        assert len(fake.requests_to("/api/v1/media/" + status["media_attachments"][0]["id"], "GET")) == 2
        fake.fail_next("/api/v1/statuses", Fault(429, retry_after="Sat, 05 Dec 2026 12:00:30 GMT"), Fault(delay=1.0))
        with pytest.raises(TransientError) as limited:
            channel.publish(formatted, "apr-2:mastodon")
        assert limited.value.retry_after_seconds is not None
        with pytest.raises(TransientError, match="timed out"):
            channel.publish(formatted, "apr-2:mastodon")
        with pytest.raises(PermanentError, match="401"):
            MastodonChannel(fake.url, "wrong", client, media).publish(formatted, "apr-3:mastodon")


def test_webhook_is_signed_and_deduplicated(client: httpx.Client) -> None:
    for fake in running(WebhookReceiver(secret="whsec-1")):
        assert isinstance(fake, WebhookReceiver)
        channel = WebhookChannel(fake.url, "whsec-1", client)
        formatted = channel.format(_post("webhook"))
        assert not channel.publish(formatted, KEY).duplicate
        assert channel.publish(formatted, KEY).duplicate
        assert list(fake.events) == [KEY] and fake.events[KEY]["text"] == formatted.text
        with pytest.raises(PermanentError, match="400"):
            WebhookChannel(fake.url, "another-secret", client).publish(formatted, "k2")
        stale = WebhookChannel(fake.url, "whsec-1", client, wall_time=lambda: 1_000_000.0)
        with pytest.raises(PermanentError):
            stale.publish(formatted, "k3")
        assert fake.refused == 2


def test_weibo_share_with_picture_and_repeat_is_a_duplicate(media: InMemoryMediaStore, client: httpx.Client) -> None:
    for fake in running(FakeWeibo()):
        assert isinstance(fake, FakeWeibo)
        channel = WeiboChannel(fake.url, fake.token, "203.0.113.9", client, media)
        formatted = channel.format(_post("weibo", POSTER))
        first = channel.publish(formatted, KEY)
        assert first.state == "posted" and fake.statuses[0]["has_pic"]
        assert channel.publish(formatted, KEY).duplicate  # the platform refused the repeat (20019)
        assert len(fake.statuses) == 1 and fake.repeats == 1
        fake.fail_next("/2/statuses/share.json", Fault(403, body={"error": "User requests out of rate limit!",
                                                                   "error_code": 10023}))
        with pytest.raises(TransientError):
            channel.publish(channel.format(_post("weibo", text="another")), "k2")
        with pytest.raises(PermanentError, match="21332"):
            WeiboChannel(fake.url, "bad", "203.0.113.9", client, media).publish(formatted, "k3")


def test_wechat_drafts_then_publishes_and_finds_its_article_on_retry(media: InMemoryMediaStore,
                                                                       client: httpx.Client) -> None:
    for fake in running(FakeWechat()):
        assert isinstance(fake, FakeWechat)
        channel = WechatOAChannel(fake.url, fake.app_id, fake.secret, client, media)
        formatted = channel.format(_post("wechat_oa", POSTER))
        first = channel.publish(formatted, KEY)
        assert first.state == "posted" and len(fake.published) == 1
        article = fake.published[0]["articles"][0]
        assert article["content_source_url"] == formatted.link and "【广告】" in article["content"]
        fake.expire_tokens()
        with pytest.raises(TransientError, match="40001"):
            channel.publish(formatted, KEY)  # the cached token went stale: the next call takes a new one
        again = channel.publish(formatted, KEY)
        assert again.duplicate and len(fake.published) == 1
        with pytest.raises(PermanentError, match="cover"):
            channel.publish(channel.format(_post("wechat_oa")), "k2")


def test_douyin_share_waits_for_the_owner_then_polls_to_posted(sessions: Callable[[], Session], clock: ManualClock,
                                                               client: httpx.Client) -> None:
    for fake in running(FakeDouyin()):
        assert isinstance(fake, FakeDouyin)
        channel = DouyinChannel(fake.url, fake.client_key, fake.client_secret, client, sessions, clock,
                                "https://freshtap.example")
        formatted = channel.format(_post("douyin"))
        pending = channel.publish(formatted, KEY)
        assert pending.state == "pending_owner" and pending.url and pending.url.startswith("https://freshtap.example/share/")
        assert channel.publish(formatted, KEY).remote_id == pending.remote_id  # no second share intent
        assert len(fake.share_ids) == 1
        assert pending.remote_id is not None
        assert channel.poll(pending.remote_id).state == "pending_owner"
        item = fake.owner_posts(pending.remote_id)
        assert channel.poll(pending.remote_id).remote_id == item
        expected = hashlib.md5(b"nonce_str=n&ticket=t&timestamp=1", usedforsecurity=False).hexdigest()
        assert share_signature("n", "t", "1") == expected


def test_local_sink_xiaohongshu_and_their_pages(tmp_path: Path, media: InMemoryMediaStore) -> None:
    clock = ManualClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    engine = create_db_engine(f"sqlite:///{tmp_path / 'pages.db'}")
    migrate(engine)
    services = build_services(Settings(_env_file=None), clock, engine, RecordingPublisher())  # type: ignore[call-arg]
    services.social_relay.media = media
    local = services.social_relay.channels["local"]
    xhs = services.social_relay.channels["xiaohongshu"]
    assert isinstance(local, LocalSinkChannel) and isinstance(xhs, XiaohongshuChannel)
    posted = local.publish(local.format(_post("local", text="<b>牛奶</b> 新鲜")), KEY)
    assert local.publish(local.format(_post("local")), KEY).duplicate
    handed = xhs.publish(xhs.format(_post("xiaohongshu", POSTER)), "apr-1:xiaohongshu")
    assert handed.state == "handed_over" and handed.url
    token = handed.url.rsplit("/", 1)[1]
    with TestClient(create_app(services)) as http:
        page = http.get("/feed")
        assert page.status_code == 200 and "&lt;b&gt;牛奶&lt;/b&gt;" in page.text and posted.remote_id in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        share = http.get(f"/share/{token}")
        assert share.status_code == 200 and "data:image/svg+xml;base64," in share.text
        package = zipfile.ZipFile(io.BytesIO(http.get(f"/share/{token}/package.zip").content))
        assert sorted(package.namelist()) == ["01-poster.png", "note.txt"]
        assert "【广告】" in package.read("note.txt").decode()
        assert http.get(f"/share/{token}/media/poster-1").content == PNG
        assert http.get(f"/share/{token}/media/other").status_code == 404
        assert http.get("/share/" + "x" * 32).status_code == 404
    engine.dispose()
