"""HTTP hardening that applies to every response: security headers and a request-body cap.

Pure ASGI middleware (no BaseHTTPMiddleware), so streaming responses and server-sent events pass
through untouched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit", "RouteBodyLimit", "SecurityHeaders"]

RouteBodyLimit = tuple[str, "re.Pattern[str]", int]
"""(method, path pattern, max bytes): a route allowed a larger body than the default cap, which
then reads it with its own bound (the review video upload)."""

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
# The API docs page (/docs) loads Swagger UI from FastAPI's CDN; every other page is ours only.
_CSP_PAGES = b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
_CSP_DOCS = (
    b"default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
    b"style-src 'self' https://cdn.jsdelivr.net; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"frame-ancestors 'none'"
)
# The merchant console: only its own scripts, styles and API; no plugins, no <base>, forms post home.
_CSP_CONSOLE = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        csp = _CSP_DOCS if path.startswith("/docs") else _CSP_PAGES
        if path == "/console" or path.startswith("/console/"):
            csp = _CSP_CONSOLE

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _HEADERS if k not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", csp))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413 problem+json, before reading them whole.

    `wider` names the few routes allowed more (method, full-match path pattern, their cap)."""

    def __init__(self, app: ASGIApp, max_bytes: int = 256 * 1024, wider: Sequence[RouteBodyLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.wider = tuple(wider)

    def _cap(self, scope: Scope) -> int:
        method, path = scope.get("method", ""), scope.get("path", "")
        for allowed_method, pattern, cap in self.wider:
            if method == allowed_method and pattern.fullmatch(path):
                return cap
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self._cap(scope)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            await self._refuse(scope, send, cap)
            return
        seen = 0

        async def counted() -> Message:
            # A chunked body with no Content-Length: stop reading once it passes the cap; the app
            # then sees the client as gone instead of buffering an unbounded body.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, send: Send, cap: int) -> None:
        body: dict[str, Any] = {
            "type": "https://freshtap.dev/problems/too-large",
            "title": "Request body too large",
            "status": 413,
            "detail": f"bodies are limited to {cap} bytes",
            "instance": scope.get("path", ""),
        }
        data = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})
