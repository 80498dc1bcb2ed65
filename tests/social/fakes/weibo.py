"""A fake Weibo: `POST /2/statuses/share.json`, as open.weibo.com/wiki/2/statuses/share describes.

Checks the access_token (21332 "expired_token" otherwise), `rip`, the 140 汉字 limit (20012
"Text too long"), the rule that the text must contain a URL and no "#话题#", and Weibo's refusal
of the same text twice in a row (20019 "repeat content!"), which is what makes a retry safe. A
`pic` (multipart) must be JPEG, GIF or PNG under 5 MB (20006/20005 otherwise); it is kept in `pics`.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from freshtap.server.social.channels.lengths import weibo_length
from tests.social.fakes.base import Answer, FakePlatform, Request


class FakeWeibo(FakePlatform):
    def __init__(self, token: str = "weibo-token") -> None:
        super().__init__()
        self.token = token
        self.statuses: list[dict[str, Any]] = []
        self.pics: list[bytes] = []
        self.repeats = 0
        self._ids = itertools.count(4_900_000_000_000_000)

    def _error(self, status: int, code: int, text: str) -> Answer:
        return Answer(status, {"error": text, "error_code": code, "request": "/2/statuses/share.json"})

    def handle(self, request: Request) -> Answer:
        if request.path != "/2/statuses/share.json" or request.method != "POST":
            return self._error(404, 10014, "Request api not found!")
        content_type = request.headers.get("content-type", "")
        pic = None
        if content_type.startswith("multipart/form-data"):
            fields = _multipart_fields(request.body, content_type)
            pic = request.parts().get("pic")
        else:
            fields = request.form()
        if pic is not None:
            if pic.content_type not in ("image/jpeg", "image/gif", "image/png"):
                return self._error(400, 20005, "Unsupported image type, only suport JPG, GIF, PNG!")
            if len(pic.data) >= 5 * 1024 * 1024:
                return self._error(400, 20006, "Image size too large.")
        if fields.get("access_token") != self.token:
            return self._error(401, 21332, "expired_token")
        if not fields.get("rip"):
            return self._error(400, 10016, "miss required parameter (rip)")
        text = fields.get("status", "")
        if weibo_length(text) > 140:
            return self._error(400, 20012, "Text too long, please input text less than 140 characters!")
        if not re.search(r"https?://", text) or re.search(r"#[^#\s]+#", text):
            return self._error(400, 10017, "parameter (status)'s value invalid")
        if self.statuses and self.statuses[-1]["text"] == text:
            self.repeats += 1
            return self._error(400, 20019, "repeat content!")
        idstr = str(next(self._ids))
        status = {"id": int(idstr), "idstr": idstr, "mid": idstr, "text": text,
                  "created_at": "Sat Dec 05 21:00:00 +0800 2026", "has_pic": "pic" in fields}
        self.statuses.append(status)
        if pic is not None:
            self.pics.append(pic.data)
        return Answer(200, status)


def _multipart_fields(body: bytes, content_type: str) -> dict[str, str]:
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields: dict[str, str] = {}
    for part in body.split(b"--" + boundary):
        head, _, value = part.partition(b"\r\n\r\n")
        match = re.search(rb'name="([^"]+)"', head)
        if match is None:
            continue
        name = match.group(1).decode()
        fields[name] = "<file>" if b"filename=" in head else value.rstrip(b"\r\n").decode()
    return fields
