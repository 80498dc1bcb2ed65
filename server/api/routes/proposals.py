"""One-tap purchase of a proposal shown on the door screen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path

from freshtap.server.api.deps import CurrentHousehold, ServicesDep
from freshtap.server.api.routes.orders import public
from freshtap.server.api.schemas import OrderPublic

router = APIRouter(prefix="/api/v1/proposals", tags=["household"])


@router.post("/{proposal_id}/accept")
def accept(
    proposal_id: Annotated[str, Path(max_length=40)],
    household: CurrentHousehold,
    services: ServicesDep,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
) -> OrderPublic:
    """Buy what the proposal offers. The same `Idempotency-Key` always returns the same order."""
    order = services.orders.accept(household, proposal_id, idempotency_key)
    return public(order, services.payments.name)
