"""A webhook receiver that verifies freshtap's signature the way the docs tell integrators to, and
de-duplicates by the post's `id` (its `Idempotency-Key`)."""

from __future__ import annotations

import time
from typing import Any

from freshtap.server.social.channels.webhook import SIGNATURE_HEADER, verify
from tests.social.fakes.base import Answer, FakePlatform, Request


class WebhookReceiver(FakePlatform):
    def __init__(self, secret: str = "whsec-test", tolerance_seconds: float = 300) -> None:
        super().__init__()
        self.secret = secret
        self.tolerance = tolerance_seconds
        self.events: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self.refused = 0

    def handle(self, request: Request) -> Answer:
        header = request.headers.get(SIGNATURE_HEADER.lower(), "")
        if not verify(self.secret, header, request.body, time.time(), self.tolerance):
            self.refused += 1
            return Answer(400, {"error": "bad signature"})
        event = request.json()
        if event["id"] in self.events:
            self.duplicates += 1
            return Answer(200, {"id": event["id"], "duplicate": True})
        self.events[event["id"]] = event
        return Answer(200, {"id": event["id"], "duplicate": False})
