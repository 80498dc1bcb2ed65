"""Each channel's `format`: its length rule, its hashtag rule, the disclosure per jurisdiction and
language, and the provenance note. Pure: no network, no database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from freshtap.server.domain.social_posts import MediaRef, PostContent
from freshtap.server.social.channels.base import Channel
from freshtap.server.social.channels.douyin import DouyinChannel
from freshtap.server.social.channels.lengths import fit, mastodon_length, weibo_length
from freshtap.server.social.channels.local import LocalSinkChannel
from freshtap.server.social.channels.mastodon import MastodonChannel
from freshtap.server.social.channels.webhook import WebhookChannel
from freshtap.server.social.channels.wechat_oa import WechatOAChannel
from freshtap.server.social.channels.weibo import WeiboChannel
from freshtap.server.social.channels.xiaohongshu import XiaohongshuChannel
from freshtap.server.social.disclosure import disclosure_for
from freshtap.server.social.media import NoMedia

LINK = "https://freshtap.example/r/AbCdEf123"
POSTER = MediaRef("poster", "m1", "image/png")
VIDEO = MediaRef("video_mp4", "m2", "video/mp4")


def _post(text: str = "牛奶放了9天依然新鲜。", language: str = "zh", incentive: bool = True, jurisdiction: str = "CN",
          media: tuple[MediaRef, ...] = (POSTER, VIDEO)) -> PostContent:
    return PostContent("apr-1", "hh-1", "x", language, text, LINK, incentive, jurisdiction, media)


def _channels() -> dict[str, Channel]:
    client = httpx.Client()
    none: Any = None
    return {
        "local": LocalSinkChannel(none, none, "http://x"),
        "webhook": WebhookChannel("http://x", "s", client),
        "mastodon": MastodonChannel("http://x", "t", client, NoMedia()),
        "weibo": WeiboChannel("http://x", "t", "1.2.3.4", client, NoMedia()),
        "wechat_oa": WechatOAChannel("http://x", "a", "s", client, NoMedia()),
        "douyin": DouyinChannel("http://x", "k", "s", client, none, none, "http://x"),
        "xiaohongshu": XiaohongshuChannel(none, none, "http://x"),
    }


@pytest.mark.parametrize("name", sorted(_channels()))
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_channel_carries_label_link_and_note(name: str, language: str) -> None:
    channel = _channels()[name]
    formatted = channel.format(_post(text="Fresh for 9 days. " * 1500, language=language))
    expected = disclosure_for("CN", language, True)
    assert formatted.text.startswith(expected.label)
    assert formatted.text.endswith(expected.note)
    assert LINK in formatted.text
    assert formatted.truncated and "…" in formatted.text
    counter = {"mastodon": mastodon_length, "weibo": weibo_length}.get(name, len)
    assert counter(formatted.text) <= channel.limits.max_length


@pytest.mark.parametrize(
    ("jurisdiction", "language", "label"),
    [("US", "en", "#ad"), ("CN", "zh", "【广告】"), ("EU", "en", "[Advertisement]"), ("XX", "en", "[Advertisement] #ad")],
)
def test_disclosure_follows_jurisdiction(jurisdiction: str, language: str, label: str) -> None:
    text = _channels()["local"].format(_post("Fresh.", language, True, jurisdiction)).text
    assert text.split("\n", 1)[0] == label
    assert ("reward" in text) if language == "en" else ("奖励" in text)


def test_without_incentive_no_label_but_still_the_provenance_note() -> None:
    formatted = _channels()["local"].format(_post("Fresh for 9 days.", "en", incentive=False))
    assert formatted.disclosure_label == ""
    assert formatted.text.startswith("Fresh for 9 days.")
    assert "approved this post" in formatted.text and "reward" not in formatted.text and "#ad" not in formatted.text


def test_mastodon_counts_any_url_as_23() -> None:
    long_url = "https://freshtap.example/r/" + "x" * 200
    assert mastodon_length(f"a {long_url} b") == 4 + 23
    assert mastodon_length("👍🏽 ok") == 4
    channel = MastodonChannel("http://x", "t", httpx.Client(), NoMedia(), max_characters=500)
    formatted = channel.format(PostContent("a", "h", "mastodon", "en", "x" * 600, long_url, False))
    assert mastodon_length(formatted.text) == 500  # used to the last character, the URL counted as 23
    assert long_url in formatted.text


def test_weibo_counts_hanzi_and_refuses_topics() -> None:
    assert weibo_length("新鲜") == 2 and weibo_length("ab") == 1 and weibo_length("abc") == 2
    formatted = _channels()["weibo"].format(_post("#冰箱日记# 牛奶很新鲜 #fresh", jurisdiction="US", language="en"))
    assert "#" not in formatted.text
    assert formatted.text.startswith("ad")
    assert weibo_length(formatted.text) <= 140


def test_media_each_channel_can_carry() -> None:
    channels = _channels()
    assert channels["weibo"].format(_post()).media == (POSTER,)
    assert channels["wechat_oa"].format(_post()).media == (POSTER,)
    assert channels["mastodon"].format(_post()).media == (VIDEO,)
    assert channels["xiaohongshu"].format(_post()).media == (POSTER, VIDEO)
    assert len(channels["wechat_oa"].format(_post("标题" * 40)).title) <= 32
    assert len(channels["xiaohongshu"].format(_post("标题" * 40)).title) <= 20


def test_fit_cuts_only_what_it_must() -> None:
    assert fit("short", 10, len) == ("short", False)
    assert fit("a longer sentence", 8, len) == ("a longe…", True)
    assert fit("abc", 0, len) == ("", True)
