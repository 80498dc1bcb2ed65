"""The console's routes: its page and assets, and signing a merchant in and out.

    GET    /console                      the single-page app (hash routes: #products, #offers, ...)
    GET    /console/assets/{name}        its CSS, ES modules and the vendored Chart.js
    POST   /console/session              sign in with an API key -> session cookie + CSRF token
    GET    /console/session              who is signed in, and the CSRF token for writes
    DELETE /console/session              sign out
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from freshtap.server.api.deps import ServicesDep
from freshtap.server.console.session import (
    CSRF_HEADER,
    ConsoleSession,
    clear_cookie,
    require_same_origin,
    session_of,
    set_cookie,
    signer_for,
)
from freshtap.server.container import Services
from freshtap.server.domain.errors import Forbidden, NotFound, Unauthorized
from freshtap.server.security.credentials import MerchantCaller
from freshtap.server.store.models import Merchant

__all__ = ["router"]

router = APIRouter(prefix="/console", tags=["console"])

_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".js": "text/javascript; charset=utf-8"}
_ASSETS = (
    "console.css",
    "console.js",
    "api.js",
    "dom.js",
    "strings.js",
    "products.js",
    "offers.js",
    "orders.js",
    "funnel.js",
    "vendor/chart.umd.min.js",
)
_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
_CROSS_ORIGIN = {"description": "Refused: not from the console's own origin, or without the session's CSRF token",
                 "content": _PROBLEM}
# The page and its code change with the server version; never let a browser or proxy keep a stale copy.
_NO_STORE = {"Cache-Control": "no-store"}


@cache
def _asset(name: str) -> bytes:
    folder, _, file = name.rpartition("/")
    package = "freshtap.server.console.assets" + (f".{folder}" if folder else "")
    return resources.files(package).joinpath(file).read_bytes()


def _typed(name: str) -> str:
    return _TYPES[name[name.rfind("."):]]


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: str = Field(min_length=1, max_length=200, description="The merchant's API key")


class SessionPublic(BaseModel):
    merchant_id: str
    merchant_name: str
    expires_at: datetime
    csrf_token: str = Field(description=f"Send it as {CSRF_HEADER} on every write made with the session cookie")
    csrf_header: str = CSRF_HEADER


def _public(services: Services, session: ConsoleSession, merchant: MerchantCaller) -> SessionPublic:
    with services.sessions() as db:
        row = db.get(Merchant, merchant.merchant_id)
    return SessionPublic(
        merchant_id=merchant.merchant_id,
        merchant_name=row.name if row is not None else merchant.merchant_id,
        expires_at=session.expires_at,
        csrf_token=signer_for(services.settings).csrf_token(session),
    )


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def page() -> Response:
    return Response(_asset("index.html"), media_type=_TYPES[".html"], headers=_NO_STORE)


@router.get("/assets/{name:path}", include_in_schema=False)
def asset(name: Annotated[str, Path(max_length=80)]) -> Response:
    if name not in _ASSETS:
        raise NotFound(f"no console asset {name}")
    return Response(_asset(name), media_type=_typed(name), headers=_NO_STORE)


@router.post("/session", responses={401: {"description": "Unknown, wrong or revoked API key"}, 403: _CROSS_ORIGIN})
def sign_in(data: SignIn, request: Request, response: Response, services: ServicesDep) -> SessionPublic:
    """Sign in with a merchant API key: sets the HttpOnly session cookie and returns the CSRF token."""
    # A foreign page must not sign a browser in to an account of its choosing (login CSRF).
    require_same_origin(request, services.settings)
    caller = services.verifier.verify(data.api_key)
    if not isinstance(caller, MerchantCaller):
        raise Unauthorized("unknown, wrong or revoked API key")
    key_id = data.api_key.partition(".")[0]
    session = signer_for(services.settings).issue(key_id, services.clock.now())
    set_cookie(response, request, services.settings, session)
    response.headers.update(_NO_STORE)
    return _public(services, session, caller)


@router.get("/session", responses={401: {"description": "Not signed in, or the session ended"}})
def current_session(request: Request, response: Response, services: ServicesDep) -> SessionPublic:
    """The signed-in merchant and the CSRF token the page sends with its writes."""
    found = session_of(services, request)
    if found is None:
        raise Unauthorized("not signed in to the console")
    response.headers.update(_NO_STORE)
    return _public(services, *found)


@router.delete("/session", status_code=204, responses={403: _CROSS_ORIGIN})
def sign_out(request: Request, services: ServicesDep) -> Response:
    """Sign out: the cookie is cleared. With a live session, the CSRF checks apply as to any write."""
    try:
        found = session_of(services, request)
    except Unauthorized:
        found = None  # an expired or revoked session: clearing its cookie is all there is to do
    if found is not None:
        if not signer_for(services.settings).csrf_valid(found[0], request.headers.get(CSRF_HEADER)):
            raise Forbidden(f"signing out needs the {CSRF_HEADER} header of the session")
        require_same_origin(request, services.settings)
    response = Response(status_code=204)
    clear_cookie(response, request, services.settings)
    return response
