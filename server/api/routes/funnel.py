"""A merchant's funnel, from offers shown to referral orders, for the console's chart."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from freshtap.server.api.deps import CurrentMerchant, ServicesDep
from freshtap.server.services.funnel import merchant_funnel

router = APIRouter(prefix="/api/v1/merchant", tags=["merchant"])


class FunnelStagePublic(BaseModel):
    key: str
    label: str
    count: int


class FunnelPublic(BaseModel):
    days: int
    since: datetime
    until: datetime
    stages: list[FunnelStagePublic]


@router.get("/funnel")
def get_funnel(
    merchant: CurrentMerchant,
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=365, description="The window, in days up to now")] = 30,
) -> FunnelPublic:
    """Offers shown -> accepted -> paid -> delivered -> restocked -> reviewed -> referral orders."""
    funnel = merchant_funnel(services.sessions, merchant.merchant_id, services.clock.now(), days)
    return FunnelPublic(
        days=days,
        since=funnel.since,
        until=funnel.until,
        stages=[FunnelStagePublic(key=s.key, label=s.label, count=s.count) for s in funnel.stages],
    )
