"""A signed webhook: each post is POSTed as JSON to a URL the operator set, for any system to pick up.

Signing follows Stripe's scheme (docs.stripe.com/webhooks, "Verify signatures manually"):

    Freshtap-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

The receiver recomputes the HMAC over the exact bytes it received, compares in constant time and
refuses a timestamp older than its tolerance (a replay). The de-duplication key travels as
`Idempotency-Key` and as the body's `id`; a receiver that saw it before answers 2xx again and must
not act twice (`{"duplicate": true}` in its answer is reported as such). Each of `media` (the
poster, and the video when the fridge sent it before the post went out) carries the `url` it can be
fetched from (`<public url>/review-media/<media_id>`, served once the review is approved).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import replace

import httpx

from freshtap.server.domain.social_posts import PostContent
from freshtap.server.social.channels.base import ChannelLimits, FormattedPost, PublishResult
from freshtap.server.social.channels.compose import compose
from freshtap.server.social.channels.lengths import code_points
from freshtap.server.social.channels.responses import check_status, transport_errors

__all__ = ["SIGNATURE_HEADER", "WebhookChannel", "sign", "verify"]

SIGNATURE_HEADER = "Freshtap-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_seconds: float = 300) -> bool:
    """Whether `header` signs `body` with `secret`, within `tolerance_seconds` of `now`."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))


class WebhookChannel:
    name = "webhook"
    limits = ChannelLimits(max_length=10_000, counting="code points", max_images=4, max_videos=1)

    def __init__(
        self,
        url: str,
        secret: str,
        client: httpx.Client,
        wall_time: Callable[[], float] = time.time,
        public_url: str = "",
    ) -> None:
        self._public_url = public_url.rstrip("/")
        self._url = url
        self._secret = secret
        self._client = client
        self._wall_time = wall_time

    def format(self, post: PostContent) -> FormattedPost:
        formatted = compose(post, self.name, self.limits, code_points)
        # The receiver gets every file of the post (the poster and the video), each with its URL.
        return replace(formatted, media=post.media[: self.limits.max_images + self.limits.max_videos])

    def publish(self, formatted: FormattedPost, dedup_key: str) -> PublishResult:
        body = json.dumps(
            {
                "id": dedup_key,
                "type": "post.approved",
                "channel": self.name,
                "approval_id": formatted.approval_id,
                "household_id": formatted.household_id,
                "language": formatted.language,
                "text": formatted.text,
                "link": formatted.link,
                "disclosure_label": formatted.disclosure_label,
                "media": [{"kind": m.kind, "media_id": m.media_id, "content_type": m.content_type,
                           "url": f"{self._public_url}/review-media/{m.media_id}"}
                          for m in formatted.media],
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        # The signature's time is wall time: the receiver checks it against its own clock.
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": dedup_key,
            SIGNATURE_HEADER: sign(self._secret, int(self._wall_time()), body),
        }
        with transport_errors("webhook"):
            response = self._client.post(self._url, content=body, headers=headers)
        check_status(response, "webhook")
        answer = _json(response)
        return PublishResult(
            "posted", remote_id=str(answer.get("id") or dedup_key), duplicate=bool(answer.get("duplicate"))
        )


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
