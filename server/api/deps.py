"""Dependencies as `Annotated` aliases: who is calling, and may they touch this object.

Ownership checks are written once here. An object that exists but belongs to someone else is
reported exactly like one that does not exist (404), so IDs cannot be probed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from freshtap.server.console.session import console_caller
from freshtap.server.container import Services
from freshtap.server.domain.errors import Forbidden, NotFound, Unauthorized
from freshtap.server.security.admin_token import admin_token_digest, admin_token_matches
from freshtap.server.security.credentials import Caller, FridgeCaller, MerchantCaller
from freshtap.server.services.purchase_limits import PurchaseLimiter
from freshtap.server.store.models import Fridge
from freshtap.server.store.social_models import ReviewDraft

__all__ = [
    "AdminOnly",
    "CurrentCaller",
    "CurrentHousehold",
    "CurrentMerchant",
    "OwnedFridge",
    "OwnedReviewDraft",
    "PurchaseSlot",
    "ServicesDep",
]

_bearer = HTTPBearer(auto_error=False, description="A merchant API key or a fridge's credential")


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def _caller(
    services: ServicesDep,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None:
        # No token: a merchant signed in to the console (cookie), whose writes must pass the CSRF checks.
        merchant = console_caller(services, request)
        if merchant is not None:
            return merchant
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send Authorization: Bearer <token>")
    caller = services.verifier.verify(credentials.credentials)
    if caller is None:
        raise Unauthorized("unknown, wrong or revoked token")
    return caller


CurrentCaller = Annotated[Caller, Depends(_caller)]


def _merchant(caller: CurrentCaller) -> MerchantCaller:
    if not isinstance(caller, MerchantCaller):
        raise NotFound("this resource belongs to merchants")
    return caller


def _household(caller: CurrentCaller) -> FridgeCaller:
    if not isinstance(caller, FridgeCaller):
        raise NotFound("this resource belongs to households")
    return caller


CurrentMerchant = Annotated[MerchantCaller, Depends(_merchant)]
CurrentHousehold = Annotated[FridgeCaller, Depends(_household)]


def _owned_fridge(
    services: ServicesDep,
    caller: CurrentHousehold,
    fridge_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]{1,64}$")],
) -> Fridge:
    with services.sessions() as session:
        fridge = session.get(Fridge, fridge_id)
    if fridge is None or fridge.household_id != caller.household_id:
        raise NotFound(f"no fridge {fridge_id}")
    return fridge


OwnedFridge = Annotated[Fridge, Depends(_owned_fridge)]


def _owned_review_draft(
    services: ServicesDep,
    caller: CurrentHousehold,
    draft_id: Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9_-]{1,40}$")],
) -> ReviewDraft:
    with services.sessions() as session:
        draft = session.get(ReviewDraft, draft_id)
    if draft is None or draft.household_id != caller.household_id:
        raise NotFound(f"no review draft {draft_id}")
    return draft


OwnedReviewDraft = Annotated[ReviewDraft, Depends(_owned_review_draft)]


def _admin(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """The admin token, or nothing: 404 while no admin token is configured, 401 without the
    right token, 403 for a merchant's or fridge's own token. The token is never logged."""
    expected = admin_token_digest(services.settings)
    if expected is None:
        raise NotFound("the admin API is off on this server (set FRESHTAP_ADMIN_TOKEN to turn it on)")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send Authorization: Bearer <admin token>")
    if admin_token_matches(credentials.credentials, expected):
        return
    if services.verifier.verify(credentials.credentials) is not None:
        raise Forbidden("this is a merchant's or a fridge's token, not the admin token")
    raise Unauthorized("wrong admin token")


AdminOnly = Depends(_admin)
"""For `dependencies=[AdminOnly]` on the admin router."""


def _purchase_slot(household: CurrentHousehold, services: ServicesDep, request: Request) -> None:
    """Count this purchase against the household's rate limit (429 with `Retry-After` when full).

    Put it on every route that buys. The request's `Idempotency-Key` names the purchase; the
    route validates that header itself, so a missing or oversized one is left to it (a 422).
    """
    key = request.headers.get("idempotency-key")
    if not key or len(key) > 255:
        return
    limiter = PurchaseLimiter(services.sessions, services.clock, services.settings.purchases)
    limiter.reserve(household.household_id, key)


PurchaseSlot = Depends(_purchase_slot)
"""For `dependencies=[PurchaseSlot]` on a purchase route."""
