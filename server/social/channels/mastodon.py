"""Mastodon: media through `POST /api/v2/media`, then `POST /api/v1/statuses` with an `Idempotency-Key`.

Follows docs.joinmastodon.org: methods/statuses ("Post a new status": `status`, `media_ids[]`,
`visibility`, `language`; header `Idempotency-Key`, kept by the server for an hour, so a retry with
the same key returns the first status instead of posting again), methods/media (v2 answers 200
when the file is processed, 202 while it is still processing; `GET /api/v1/media/:id` answers 206
until it is ready) and the 500-character default, where every URL counts as 23 characters.
Errors are `{"error": "..."}`; 422 is a refusal (for example, the text is too long), 429 carries
the rate limit's reset.
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
from freshtap.server.social.channels.lengths import mastodon_length
from freshtap.server.social.channels.responses import check_status, transport_errors

__all__ = ["MastodonChannel"]

_MEDIA_READY_POLLS = 10


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text[:300]))
    except ValueError:
        return response.text[:300]


class MastodonChannel:
    name = "mastodon"

    def __init__(
        self,
        base_url: str,
        access_token: str,
        client: httpx.Client,
        media: MediaStore,
        visibility: str = "public",
        max_characters: int = 500,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._client = client
        self._media = media
        self._auth = {"Authorization": f"Bearer {access_token}"}
        self._visibility = visibility
        self.limits = ChannelLimits(
            max_length=max_characters, counting="mastodon (URL = 23)", max_images=4, max_videos=1
        )

    def format(self, post: PostContent) -> FormattedPost:
        return compose(post, self.name, self.limits, mastodon_length)

    def publish(self, formatted: FormattedPost, dedup_key: str) -> PublishResult:
        media_ids = [self._upload(m.media_id, m.content_type, m.kind) for m in formatted.media]
        body: dict[str, object] = {
            "status": formatted.text,
            "visibility": self._visibility,
            "language": formatted.language,
        }
        if media_ids:
            body["media_ids"] = media_ids
        with transport_errors("mastodon"):
            response = self._client.post(
                f"{self._base}/api/v1/statuses", json=body, headers={**self._auth, "Idempotency-Key": dedup_key}
            )
        check_status(response, "mastodon", _error)
        status = response.json()
        return PublishResult("posted", remote_id=str(status["id"]), url=status.get("url") or status.get("uri"))

    def _upload(self, media_id: str, content_type: str, kind: str) -> str:
        try:
            data = self._media.get(media_id)
        except KeyError as exc:
            raise PermanentError(f"media {media_id} is gone") from exc
        suffix = {"poster": "png", "video_webm": "webm", "video_mp4": "mp4"}.get(kind, "bin")
        with transport_errors("mastodon"):
            response = self._client.post(
                f"{self._base}/api/v2/media",
                files={"file": (f"{media_id}.{suffix}", data, content_type)},
                data={"description": "Poster drawn by freshtap from the fridge's measurements"},
                headers=self._auth,
            )
        check_status(response, "mastodon", _error)
        attachment = response.json()
        if response.status_code == 202:
            self._wait_processed(str(attachment["id"]))
        return str(attachment["id"])

    def _wait_processed(self, attachment_id: str) -> None:
        for _ in range(_MEDIA_READY_POLLS):
            with transport_errors("mastodon"):
                response = self._client.get(f"{self._base}/api/v1/media/{attachment_id}", headers=self._auth)
            check_status(response, "mastodon", _error)
            if response.status_code == 200 and response.json().get("url"):
                return
        raise TransientError(f"mastodon is still processing media {attachment_id}")
