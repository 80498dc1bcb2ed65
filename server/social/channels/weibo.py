"""Weibo: `POST /2/statuses/share.json`, the API Weibo leaves open to third parties for sharing.

Follows open.weibo.com/wiki/2/statuses/share: form fields `access_token`, `status` (at most 140
汉字, must contain a URL of the app's bound secure domain, must not contain "#话题#"), `rip` (the
user's real IP), optional `pic` (JPEG/GIF/PNG under 5 MB, then multipart/form-data). Errors come
as `{"error": ..., "error_code": ..., "request": ...}` (open.weibo.com/wiki/Error_code).

Weibo has no idempotency key; what it has is its rule that the same text cannot be posted twice
in a row (statuses/update: "连续两次发布的微博不可以重复", error 20019). The text of a post is
fixed by its approval, so a retry after an unknown outcome is refused as a repeat, which this
channel reports as a duplicate, already posted.
"""

from __future__ import annotations

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
from freshtap.server.social.channels.lengths import weibo_length
from freshtap.server.social.channels.responses import retry_after_of, transport_errors

__all__ = ["WeiboChannel"]

REPEATED_CONTENT = 20019
_RATE_LIMITED = {10022, 10023, 10024}
_SYSTEM_BUSY = {10001, 10009, 10010}


class WeiboChannel:
    name = "weibo"
    limits = ChannelLimits(max_length=140, counting="weibo 汉字 (2 ASCII = 1)", max_images=1, hashtags=False)

    def __init__(
        self, api_base: str, access_token: str, client_ip: str, client: httpx.Client, media: MediaStore
    ) -> None:
        self._base = api_base.rstrip("/")
        self._token = access_token
        self._ip = client_ip
        self._client = client
        self._media = media

    def format(self, post: PostContent) -> FormattedPost:
        return compose(post, self.name, self.limits, weibo_length)

    def publish(self, formatted: FormattedPost, dedup_key: str) -> PublishResult:
        fields = {"access_token": self._token, "status": formatted.text, "rip": self._ip}
        files = None
        if formatted.media:
            poster = formatted.media[0]
            try:
                files = {"pic": ("poster.png", self._media.get(poster.media_id), poster.content_type)}
            except KeyError as exc:
                raise PermanentError(f"media {poster.media_id} is gone") from exc
        with transport_errors("weibo"):
            response = self._client.post(f"{self._base}/2/statuses/share.json", data=fields, files=files)
        if response.is_success:
            status = response.json()
            idstr = str(status.get("idstr") or status.get("id"))
            return PublishResult("posted", remote_id=idstr, url=f"https://weibo.com/detail/{idstr}")
        try:
            error = response.json()
            code = int(error.get("error_code", 0))
            text = str(error.get("error", ""))
        except (ValueError, TypeError):
            code, text = 0, response.text[:300]
        if code == REPEATED_CONTENT:
            return PublishResult("posted", remote_id=None, duplicate=True)
        message = f"weibo answered {response.status_code} ({code}): {text}"
        if response.status_code >= 500 or response.status_code == 429 or code in _RATE_LIMITED | _SYSTEM_BUSY:
            raise TransientError(message, retry_after_of(response))
        raise PermanentError(message)
