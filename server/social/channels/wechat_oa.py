"""WeChat Official Account: an article drafted with `draft/add`, then published with `freepublish/submit`.

Follows developers.weixin.qq.com (公众号 docs): `GET /cgi-bin/token?grant_type=client_credential`
for the access_token (about 7200 s, cached); `POST /cgi-bin/material/add_material?type=image` for
the cover (an article needs `thumb_media_id`); `POST /cgi-bin/draft/add` with `articles: [{title,
author, digest (at most 120 字), content (HTML), content_source_url, thumb_media_id}]` returning
the draft's `media_id`; `POST /cgi-bin/freepublish/submit` with that `media_id`, returning
`publish_id` (the task is accepted; WeChat finishes it asynchronously). Errors come as
`{"errcode": N, "errmsg": "..."}` with HTTP 200: 40001/42001/40014 (token invalid or expired: a
new token, then retry), -1 (busy) and 45009 (quota) are transient, the rest permanent.

WeChat has no idempotency key. Before drafting, this channel looks at what was published
(`POST /cgi-bin/freepublish/batchget`) for an article with this post's title and source URL, so
a retry after an unknown outcome finds the first article instead of publishing a second.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

import httpx

from freshtap.server.domain.social_posts import PostContent
from freshtap.server.social.channels.base import (
    ChannelLimits,
    FormattedPost,
    MediaStore,
    PermanentError,
    PublishResult,
    TransientError,
)
from freshtap.server.social.channels.compose import compose
from freshtap.server.social.channels.lengths import code_points, fit
from freshtap.server.social.channels.responses import check_status, transport_errors

__all__ = ["WechatOAChannel"]

_TOKEN_ERRORS = {40001, 40014, 42001}
_TRANSIENT = {-1, 45009}
_TITLE_MAX = 32  # 字: the editor's limit on an article title
_DIGEST_MAX = 120


class WechatOAChannel:
    name = "wechat_oa"
    limits = ChannelLimits(max_length=20_000, counting="code points", max_images=1)

    def __init__(
        self,
        api_base: str,
        app_id: str,
        app_secret: str,
        client: httpx.Client,
        media: MediaStore,
        author: str = "freshtap",
        wall_time: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = api_base.rstrip("/")
        self._app_id = app_id
        self._secret = app_secret
        self._client = client
        self._media = media
        self._author = author
        self._wall_time = wall_time
        self._token: tuple[str, float] | None = None

    def format(self, post: PostContent) -> FormattedPost:
        first_line = post.text.strip().splitlines()[0] if post.text.strip() else ""
        title, _ = fit(first_line or ("冰箱里的真实记录" if post.language == "zh" else "From my fridge"), _TITLE_MAX,
                       code_points)
        return compose(post, self.name, self.limits, code_points, title=title)

    def publish(self, formatted: FormattedPost, dedup_key: str) -> PublishResult:
        if not formatted.media:
            raise PermanentError("a WeChat article needs a cover image (the review's poster)")
        found = self._already_published(formatted)
        if found is not None:
            return PublishResult("posted", remote_id=found, duplicate=True)
        thumb = self._call("POST", "/cgi-bin/material/add_material", params={"type": "image"},
                           files={"media": ("poster.png", self._bytes(formatted.media[0].media_id), "image/png")})
        paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in formatted.text.splitlines() if line.strip())
        digest, _ = fit(formatted.text.replace("\n", " "), _DIGEST_MAX, code_points)
        draft = self._call("POST", "/cgi-bin/draft/add", json={"articles": [{
            "title": formatted.title,
            "author": self._author,
            "digest": digest,
            "content": paragraphs,
            "content_source_url": formatted.link,
            "thumb_media_id": thumb["media_id"],
            "need_open_comment": 0,
        }]})
        published = self._call("POST", "/cgi-bin/freepublish/submit", json={"media_id": draft["media_id"]})
        return PublishResult("posted", remote_id=str(published["publish_id"]))

    def _already_published(self, formatted: FormattedPost) -> str | None:
        listing = self._call("POST", "/cgi-bin/freepublish/batchget", json={"offset": 0, "count": 20, "no_content": 1})
        for item in listing.get("item", []):
            for news in item.get("content", {}).get("news_item", []):
                if news.get("title") == formatted.title and news.get("content_source_url") == formatted.link:
                    return str(item.get("article_id"))
        return None

    def _bytes(self, media_id: str) -> bytes:
        try:
            return self._media.get(media_id)
        except KeyError as exc:
            raise PermanentError(f"media {media_id} is gone") from exc

    def _access_token(self) -> str:
        now = self._wall_time()
        if self._token is not None and self._token[1] > now:
            return self._token[0]
        with transport_errors("wechat"):
            response = self._client.get(f"{self._base}/cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self._app_id, "secret": self._secret})
        check_status(response, "wechat")
        data = self._checked(response.json())
        self._token = (str(data["access_token"]), now + max(int(data.get("expires_in", 7200)) - 300, 60))
        return self._token[0]

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        params = {**kwargs.pop("params", {}), "access_token": self._access_token()}
        with transport_errors("wechat"):
            response = self._client.request(method, f"{self._base}{path}", params=params, **kwargs)
        check_status(response, "wechat")
        return self._checked(response.json())

    def _checked(self, data: dict[str, Any]) -> dict[str, Any]:
        code = int(data.get("errcode", 0) or 0)
        if code == 0:
            return data
        message = f"wechat errcode {code}: {data.get('errmsg', '')}"
        if code in _TOKEN_ERRORS:
            self._token = None
            raise TransientError(message)
        if code in _TRANSIENT:
            raise TransientError(message)
        raise PermanentError(message)
