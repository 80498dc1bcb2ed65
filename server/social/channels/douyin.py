"""Douyin (抖音): its H5 share flow, where the owner confirms the post on the phone.

Server-side posting to Douyin is open to few apps; the flow open to a website is "分享到抖音"
(developer.open-douyin.com, 网站应用 > H5 分享, and "H5 发布 Schema 生成示例"):

1. `POST /oauth/client_token/` (client_key, client_secret, grant_type=client_credential) gives a
   `client_token` (about 7200 s, cached);
2. `GET /open/getticket/` with header `access-token: <client_token>` gives the `ticket`;
3. `GET /share-id/?need_callback=true` with the same header gives a `share_id`, which follows the
   share through to the published video;
4. the schema `snssdk1128://openplatform/share?share_type=h5&client_key=...&nonce_str=...&timestamp=...
   &signature=md5("nonce_str=N&ticket=T&timestamp=S")&state=<share_id>&title=...&image_path=...
   &video_path=...` is what the phone opens; freshtap shows it as a QR code at `/share/{token}`;
5. the owner posts (or not) in the app; Douyin reports the share's result for the `share_id`.

So `publish` answers `pending_owner` with the share_id, and the relay `poll`s the result. The fake
answers the poll at `GET /api/douyin/v1/share/result/?share_id=` — check the path against the
console's current documentation before going live; the rest is as documented above. Douyin
answers `{"data": {"error_code": N, "description": ...}, "message": ...}`; error_code 0 is success.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlmodel import Session

from freshtap.clock import Clock
from freshtap.server.domain.social_posts import PostContent
from freshtap.server.social.channels.base import (
    ChannelLimits,
    FormattedPost,
    PermanentError,
    PublishResult,
    TransientError,
)
from freshtap.server.social.channels.compose import compose
from freshtap.server.social.channels.lengths import code_points
from freshtap.server.social.channels.responses import check_status, transport_errors
from freshtap.server.social.handoffs import find_handoff, handoff_for, handoff_url

__all__ = ["DouyinChannel", "share_signature"]

_TRANSIENT_CODES = {2100004, 2190004, 2190015}  # system busy, rate limited, app frequency limit


def share_signature(nonce_str: str, ticket: str, timestamp: str) -> str:
    return hashlib.md5(f"nonce_str={nonce_str}&ticket={ticket}&timestamp={timestamp}".encode(),
                       usedforsecurity=False).hexdigest()


class DouyinChannel:
    name = "douyin"
    limits = ChannelLimits(max_length=1000, counting="code points", max_images=1, max_videos=1,
                           waits_for_video=True)

    def __init__(
        self,
        api_base: str,
        client_key: str,
        client_secret: str,
        client: httpx.Client,
        sessions: Callable[[], Session],
        clock: Clock,
        public_url: str,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self._base = api_base.rstrip("/")
        self._key = client_key
        self._secret = client_secret
        self._client = client
        self._sessions = sessions
        self._clock = clock
        self._public_url = public_url.rstrip("/")
        self._wall_time = wall_time
        self._token: tuple[str, float] | None = None

    def format(self, post: PostContent) -> FormattedPost:
        return compose(post, self.name, self.limits, code_points)

    def publish(self, formatted: FormattedPost, dedup_key: str) -> PublishResult:
        existing = find_handoff(self._sessions, dedup_key)
        if existing is not None:  # the share intent was made before: the owner still holds it
            return PublishResult("pending_owner", remote_id=existing.remote_id,
                                 url=handoff_url(self._public_url, existing.token), duplicate=True)
        token = self._client_token()
        ticket = self._data(self._get("/open/getticket/", token))["ticket"]
        share_id = str(self._data(self._get("/share-id/", token, {"need_callback": "true"}))["share_id"])
        handoff_token = secrets.token_urlsafe(24)
        nonce, stamp = secrets.token_hex(8), str(int(self._wall_time()))
        params = {
            "share_type": "h5",
            "client_key": self._key,
            "nonce_str": nonce,
            "timestamp": stamp,
            "signature": share_signature(nonce, str(ticket), stamp),
            "state": share_id,
            "title": formatted.text,
            "share_to_publish": "0",
        }
        for media in formatted.media:
            path = "video_path" if media.kind.startswith("video") else "image_path"
            params[path] = f"{self._public_url}/share/{handoff_token}/media/{media.media_id}"
        schema = "snssdk1128://openplatform/share?" + urlencode(params)
        handoff, existed = handoff_for(self._sessions, formatted, dedup_key, self._clock.now(), open_url=schema,
                                       remote_id=share_id, token=handoff_token)
        return PublishResult("pending_owner", remote_id=handoff.remote_id,
                             url=handoff_url(self._public_url, handoff.token), duplicate=existed)

    def poll(self, remote_id: str) -> PublishResult:
        data = self._data(self._get("/api/douyin/v1/share/result/", self._client_token(), {"share_id": remote_id}))
        if data.get("status") == "published":
            item = str(data.get("item_id") or remote_id)
            return PublishResult("posted", remote_id=item, url=f"https://www.douyin.com/video/{item}")
        return PublishResult("pending_owner", remote_id=remote_id)

    def _client_token(self) -> str:
        now = self._wall_time()
        if self._token is not None and self._token[1] > now:
            return self._token[0]
        with transport_errors("douyin"):
            response = self._client.post(f"{self._base}/oauth/client_token/", data={
                "client_key": self._key, "client_secret": self._secret, "grant_type": "client_credential"})
        check_status(response, "douyin")
        data = self._data(response)
        self._token = (str(data["access_token"]), now + max(int(data.get("expires_in", 7200)) - 300, 60))
        return self._token[0]

    def _get(self, path: str, token: str, params: dict[str, str] | None = None) -> httpx.Response:
        with transport_errors("douyin"):
            response = self._client.get(f"{self._base}{path}", params=params, headers={"access-token": token})
        check_status(response, "douyin")
        return response

    def _data(self, response: httpx.Response) -> dict[str, Any]:
        body = response.json()
        data = body.get("data") or {}
        code = int(data.get("error_code", 0) or 0)
        if code == 0:
            return dict(data)
        message = f"douyin error_code {code}: {data.get('description', '')}"
        if code in (2190008, 10008):  # token expired: fetch a new one next time
            self._token = None
            raise TransientError(message)
        if code in _TRANSIENT_CODES:
            raise TransientError(message)
        raise PermanentError(message)
