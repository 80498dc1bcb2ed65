"""A fake WeChat Official Account API (developers.weixin.qq.com, 公众号 docs).

`GET /cgi-bin/token` (appid + secret -> access_token, expires_in 7200), `POST
/cgi-bin/material/add_material?type=image` (multipart `media` -> media_id), `POST /cgi-bin/draft/add`
(articles -> media_id; thumb_media_id must be a known material, 40007 otherwise), `POST
/cgi-bin/freepublish/submit` (media_id -> publish_id), `POST /cgi-bin/freepublish/batchget`
(what was published). `add_material` takes the multipart field `media` (type=image: bmp, png,
jpeg, jpg or gif, at most 10 MB; 40005/40009 otherwise) and keeps it in `material_bytes`. Errors as `{"errcode": N, "errmsg": ...}` with HTTP 200: 40001 for an
invalid access_token. `expire_tokens()` makes every token invalid, as WeChat does on a refresh.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from tests.social.fakes.base import Answer, FakePlatform, Request


class FakeWechat(FakePlatform):
    def __init__(self, app_id: str = "wx-app", secret: str = "wx-secret") -> None:
        super().__init__()
        self.app_id, self.secret = app_id, secret
        self.tokens: set[str] = set()
        self.materials: set[str] = set()
        self.material_bytes: dict[str, bytes] = {}
        self.drafts: dict[str, list[dict[str, Any]]] = {}
        self.published: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def handle(self, request: Request) -> Answer:
        if request.path == "/cgi-bin/token":
            if request.query.get("appid") != self.app_id or request.query.get("secret") != self.secret:
                return Answer(200, {"errcode": 40125, "errmsg": "invalid appsecret"})
            token = secrets.token_hex(8)
            self.tokens.add(token)
            return Answer(200, {"access_token": token, "expires_in": 7200})
        if request.query.get("access_token") not in self.tokens:
            return Answer(200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
        if request.path == "/cgi-bin/material/add_material":
            upload = request.parts().get("media")
            if request.query.get("type") != "image" or upload is None:
                return Answer(200, {"errcode": 40004, "errmsg": "invalid media type"})
            if upload.content_type not in ("image/png", "image/jpeg", "image/gif", "image/bmp"):
                return Answer(200, {"errcode": 40005, "errmsg": "invalid file type"})
            if len(upload.data) > 10 * 1024 * 1024:
                return Answer(200, {"errcode": 40009, "errmsg": "invalid image size"})
            media_id = f"thumb-{next(self._ids)}"
            self.materials.add(media_id)
            self.material_bytes[media_id] = upload.data
            return Answer(200, {"media_id": media_id, "url": f"{self.url}/mmbiz/{media_id}"})
        if request.path == "/cgi-bin/draft/add":
            articles = request.json().get("articles", [])
            for article in articles:
                if article.get("thumb_media_id") not in self.materials:
                    return Answer(200, {"errcode": 40007, "errmsg": "invalid media_id"})
                if len(article.get("digest", "")) > 120:
                    return Answer(200, {"errcode": 45004, "errmsg": "description size out of limit"})
            media_id = f"draft-{next(self._ids)}"
            self.drafts[media_id] = articles
            return Answer(200, {"media_id": media_id})
        if request.path == "/cgi-bin/freepublish/submit":
            media_id = request.json().get("media_id")
            if media_id not in self.drafts:
                return Answer(200, {"errcode": 40007, "errmsg": "invalid media_id"})
            articles = self.drafts.pop(media_id)  # a published draft leaves the draft box
            publish_id = str(next(self._ids))
            self.published.append({"publish_id": publish_id, "article_id": f"art-{publish_id}", "articles": articles})
            return Answer(200, {"errcode": 0, "errmsg": "ok", "publish_id": publish_id, "msg_data_id": publish_id})
        if request.path == "/cgi-bin/freepublish/batchget":
            items = [{"article_id": p["article_id"], "content": {"news_item": p["articles"]}, "update_time": 0}
                     for p in reversed(self.published)]
            return Answer(200, {"total_count": len(items), "item_count": len(items), "item": items[:20]})
        return Answer(404, {"errcode": 404, "errmsg": "not found"})
