"""A fake Mastodon server: `POST /api/v2/media`, `GET /api/v1/media/:id`, `POST /api/v1/statuses`.

As docs.joinmastodon.org describes: Bearer token auth (401 `{"error": "The access token is
invalid"}`), the 500-character limit with URLs counted as 23 (422 `{"error": "Validation failed:
Text character limit of 500 exceeded"}`), and `Idempotency-Key`: the same key returns the first
status (`duplicates` counts such replays, so a test sees a second attempt that posted nothing).
Media (methods/media): multipart `file` (image or video, 422 otherwise) and `description`; a
video is processed asynchronously (202, then `GET /api/v1/media/:id` is 206 until it is ready), and
a status takes either up to 4 images or 1 video (422 when mixed).
"""

from __future__ import annotations

import itertools
from typing import Any

from freshtap.server.social.channels.lengths import mastodon_length
from tests.social.fakes.base import Answer, FakePlatform, Request


class FakeMastodon(FakePlatform):
    def __init__(self, token: str = "mastodon-token", max_characters: int = 500, media_async: bool = False) -> None:
        super().__init__()
        self.token = token
        self.max_characters = max_characters
        self.media_async = media_async
        self.statuses: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.duplicates = 0
        self.media: dict[str, dict[str, Any]] = {}
        self.media_bytes: dict[str, bytes] = {}
        self._ids = itertools.count(1000)
        self._media_polls: dict[str, int] = {}

    def handle(self, request: Request) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Answer(401, {"error": "The access token is invalid"})
        if request.method == "POST" and request.path == "/api/v2/media":
            upload = request.parts().get("file")
            if upload is None or not (upload.content_type or "").startswith(("image/", "video/")):
                return Answer(422, {"error": "Validation failed: File content type is invalid"})
            media_id = str(next(self._ids))
            kind = "video" if upload.content_type and upload.content_type.startswith("video/") else "image"
            ready = not self.media_async and kind == "image"
            self.media[media_id] = {"id": media_id, "type": kind, "size": len(upload.data),
                                    "mime": upload.content_type,
                                    "description": request.parts().get("description", upload).data.decode(),
                                    "url": f"{self.url}/media/{media_id}" if ready else None}
            self.media_bytes[media_id] = upload.data
            self._media_polls[media_id] = 0
            return Answer(200 if ready else 202, self.media[media_id])
        if request.method == "GET" and request.path.startswith("/api/v1/media/"):
            media_id = request.path.rsplit("/", 1)[1]
            if media_id not in self.media:
                return Answer(404, {"error": "Record not found"})
            self._media_polls[media_id] += 1
            if self._media_polls[media_id] >= 2:
                self.media[media_id]["url"] = f"{self.url}/media/{media_id}"
                return Answer(200, self.media[media_id])
            return Answer(206, self.media[media_id])
        if request.method == "POST" and request.path == "/api/v1/statuses":
            key = request.headers.get("idempotency-key")
            if key and key in self.by_key:
                self.duplicates += 1
                return Answer(200, self.statuses[self.by_key[key]])
            body = request.json()
            text = str(body.get("status", ""))
            if mastodon_length(text) > self.max_characters:
                return Answer(422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"})
            for media_id in body.get("media_ids", []):
                if media_id not in self.media:
                    return Answer(422, {"error": "Validation failed: media not found"})
            kinds = [self.media[m]["type"] for m in body.get("media_ids", [])]
            if "video" in kinds and len(kinds) > 1:
                return Answer(422, {"error": "Validation failed: Cannot attach a video to a post that already "
                                             "contains images"})
            status_id = str(next(self._ids))
            status = {"id": status_id, "content": text, "url": f"{self.url}/@freshtap/{status_id}",
                      "visibility": body.get("visibility"), "language": body.get("language"),
                      "media_attachments": [self.media[m] for m in body.get("media_ids", [])]}
            self.statuses[status_id] = status
            if key:
                self.by_key[key] = status_id
            return Answer(200, status)
        return Answer(404, {"error": "Record not found"})
