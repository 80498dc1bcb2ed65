"""Console sign-in: a signed session cookie, and the CSRF defence that goes with cookie authentication.

A merchant signs in with an API key; the server answers with an HttpOnly, SameSite=Strict cookie
holding `v1.<key_id>.<expires>.<nonce>.<signature>` — an HMAC-SHA256 (key: `console_secret`) over
the rest. Nothing else is stored: the cookie says which credential signed in and until when, and
every request re-reads that credential, so revoking or rotating the API key ends its sessions at
the next request.

A cookie rides along with any request the browser makes, including one a foreign page triggers, so
a cookie-authenticated write must also prove it came from the console itself:

- `X-CSRF-Token` must equal HMAC(`console_secret`, the session cookie), which the console page
  fetches from `GET /console/session` (readable only by same-origin script), and
- `Origin` (or, failing it, `Referer`) must be this server's own origin.

Bearer-token callers are not affected: a token is never sent by a browser on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from fastapi import Request, Response

from freshtap.server.container import Services
from freshtap.server.domain.errors import Forbidden, Unauthorized
from freshtap.server.security.credentials import MerchantCaller
from freshtap.server.store.models import Credential
from freshtap.settings import Settings

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "ConsoleSession",
    "SessionSigner",
    "clear_cookie",
    "console_caller",
    "require_same_origin",
    "session_of",
    "set_cookie",
    "signer_for",
]

COOKIE = "freshtap_console"
CSRF_HEADER = "X-CSRF-Token"
_VERSION = "v1"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class ConsoleSession:
    key_id: str
    expires_at: datetime
    token: str
    """The cookie's value, as signed."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SessionSigner:
    """Issues and reads session tokens and derives their CSRF tokens; pure, with `now` passed in."""

    def __init__(self, secret: bytes, lifetime: timedelta) -> None:
        self._secret = secret
        self.lifetime = lifetime

    def _mac(self, purpose: str, message: str) -> str:
        return _b64(hmac.new(self._secret, f"{purpose}|{message}".encode(), hashlib.sha256).digest())

    def issue(self, key_id: str, now: datetime) -> ConsoleSession:
        expires = int((now + self.lifetime).timestamp())
        body = f"{_VERSION}.{key_id}.{expires}.{secrets.token_urlsafe(12)}"
        token = f"{body}.{self._mac('console-session', body)}"
        return ConsoleSession(key_id, datetime.fromtimestamp(expires, UTC), token)

    def read(self, token: str, now: datetime) -> ConsoleSession | None:
        """The session a token carries, or None if it is malformed, forged or expired."""
        if len(token) > 300:
            return None
        body, dot, signature = token.rpartition(".")
        parts = body.split(".")
        if not dot or len(parts) != 4 or parts[0] != _VERSION or not parts[2].isdigit():
            return None
        if not hmac.compare_digest(signature, self._mac("console-session", body)):
            return None
        expires_at = datetime.fromtimestamp(int(parts[2]), UTC)
        if expires_at <= now:
            return None
        return ConsoleSession(parts[1], expires_at, token)

    def csrf_token(self, session: ConsoleSession) -> str:
        return self._mac("console-csrf", session.token)

    def csrf_valid(self, session: ConsoleSession, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented, self.csrf_token(session))


def signer_for(settings: Settings) -> SessionSigner:
    # The server's clock may run `clock_speed` times faster (the demo); a sign-in lasts wall-clock hours.
    lifetime = timedelta(hours=settings.console_session_hours * settings.clock_speed)
    return SessionSigner(settings.console_secret.get_secret_value().encode(), lifetime)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def require_same_origin(request: Request, settings: Settings) -> None:
    """Refuse a request whose `Origin` (or `Referer`) is not this server: a foreign page's form or script."""
    claimed = request.headers.get("origin")
    if claimed is None or claimed == "null":
        referer = request.headers.get("referer")
        claimed = _origin(referer) if referer else None
    else:
        claimed = _origin(claimed)
    own = {_origin(str(request.base_url))}
    if settings.public_url:
        own.add(_origin(settings.public_url))
    if claimed is None or claimed not in own:
        raise Forbidden("cross-origin request refused: the console only accepts writes from its own pages")


def secure_request(request: Request, settings: Settings) -> bool:
    return request.url.scheme == "https" or (settings.public_url or "").startswith("https://")


def set_cookie(response: Response, request: Request, settings: Settings, session: ConsoleSession) -> None:
    response.set_cookie(
        COOKIE,
        session.token,
        max_age=int(settings.console_session_hours * 3600),
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_request(request, settings),
    )


def clear_cookie(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=secure_request(request, settings)
    )


def session_of(services: Services, request: Request) -> tuple[ConsoleSession, MerchantCaller] | None:
    """The signed-in merchant of this request's cookie, or None when there is no cookie.

    Raises Unauthorized for a cookie that is forged, expired, or whose API key was revoked.
    """
    token = request.cookies.get(COOKIE)
    if token is None:
        return None
    session = signer_for(services.settings).read(token, services.clock.now())
    if session is None:
        raise Unauthorized("the console session has expired or is not valid; sign in again")
    with services.sessions() as db:
        credential = db.get(Credential, session.key_id)
    if credential is None or credential.kind != "merchant" or credential.revoked_at is not None:
        raise Unauthorized("the API key of this console session was revoked; sign in again")
    return session, MerchantCaller(credential.subject_id)


def console_caller(services: Services, request: Request) -> MerchantCaller | None:
    """The merchant a console cookie authenticates, with the CSRF checks for unsafe methods; None without a cookie."""
    found = session_of(services, request)
    if found is None:
        return None
    session, merchant = found
    if request.method not in _SAFE_METHODS:
        if not signer_for(services.settings).csrf_valid(session, request.headers.get(CSRF_HEADER)):
            raise Forbidden(f"a console write needs the {CSRF_HEADER} header of its session")
        require_same_origin(request, services.settings)
    return merchant
