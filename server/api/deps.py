"""Dependencies as `Annotated` aliases: who is calling, and may they touch this object.

Ownership checks are written once here. An object that exists but belongs to someone else is
reported exactly like one that does not exist (404), so IDs cannot be probed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from freshtap.server.container import Services
from freshtap.server.domain.errors import NotFound, Unauthorized
from freshtap.server.security.credentials import Caller, FridgeCaller, MerchantCaller
from freshtap.server.store.models import Fridge

__all__ = ["CurrentCaller", "CurrentHousehold", "CurrentMerchant", "OwnedFridge", "ServicesDep"]

_bearer = HTTPBearer(auto_error=False, description="A merchant API key or a fridge's credential")


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def _caller(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
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
