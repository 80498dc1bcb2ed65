"""A fake Douyin open platform for the H5 share flow (developer.open-douyin.com, 网站应用 > H5 分享).

`POST /oauth/client_token/` (client_key + client_secret -> client_token), `GET /open/getticket/`
and `GET /share-id/` (header `access-token`), and the share result by share_id. `owner_posts(share_id)`
is the owner confirming on the phone; until then the result is pending. Answers are
`{"data": {..., "error_code": 0, "description": ""}, "message": "success"}`.
"""

from __future__ import annotations

import itertools
import secrets

from tests.social.fakes.base import Answer, FakePlatform, Request


class FakeDouyin(FakePlatform):
    def __init__(self, client_key: str = "dy-key", client_secret: str = "dy-secret") -> None:
        super().__init__()
        self.client_key, self.client_secret = client_key, client_secret
        self.tokens: set[str] = set()
        self.ticket = secrets.token_hex(8)
        self.share_ids: list[str] = []
        self.posted: dict[str, str] = {}
        self._ids = itertools.count(7_300_000_000_000_000_000)

    def owner_posts(self, share_id: str) -> str:
        item_id = str(next(self._ids))
        with self._lock:
            self.posted[share_id] = item_id
        return item_id

    def _ok(self, **data: object) -> Answer:
        return Answer(200, {"data": {**data, "error_code": 0, "description": ""}, "message": "success"})

    def handle(self, request: Request) -> Answer:
        if request.path == "/oauth/client_token/" and request.method == "POST":
            form = request.form()
            if (form.get("client_key"), form.get("client_secret")) != (self.client_key, self.client_secret):
                return Answer(200, {"data": {"error_code": 10013, "description": "client_key or secret invalid"},
                                    "message": "error"})
            token = "clt." + secrets.token_hex(8)
            self.tokens.add(token)
            return self._ok(access_token=token, expires_in=7200)
        if request.headers.get("access-token") not in self.tokens:
            return Answer(200, {"data": {"error_code": 2190008, "description": "access_token过期"}, "message": "error"})
        if request.path == "/open/getticket/":
            return self._ok(ticket=self.ticket, expires_in=7200)
        if request.path == "/share-id/":
            share_id = str(next(self._ids))
            self.share_ids.append(share_id)
            return self._ok(share_id=share_id)
        if request.path == "/api/douyin/v1/share/result/":
            share_id = request.query.get("share_id", "")
            if share_id not in self.share_ids:
                return Answer(200, {"data": {"error_code": 2190002, "description": "share_id invalid"},
                                    "message": "error"})
            if share_id in self.posted:
                return self._ok(status="published", item_id=self.posted[share_id])
            return self._ok(status="pending")
        return Answer(404, {"data": {"error_code": 404, "description": "not found"}, "message": "error"})
