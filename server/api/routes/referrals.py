"""Referral links: the public page `/r/{code}` (no sign-in) and ordering through it as a household."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from freshtap.server.api.deps import CurrentHousehold, PurchaseSlot, ServicesDep
from freshtap.server.api.review_schemas import ReferralOrderPublic
from freshtap.server.api.routes.orders import public as order_public
from freshtap.server.domain.errors import NotFound
from freshtap.server.referral_pages.page import ASSETS, asset, render_page

router = APIRouter(tags=["referrals"])

_CODE = r"^[A-Za-z0-9_-]{1,24}$"
CodePath = Annotated[str, Path(max_length=24, pattern=_CODE)]


@router.get("/r/assets/{name}", include_in_schema=False)
def referral_asset(name: Annotated[str, Path(max_length=40)]) -> Response:
    if name not in ASSETS:
        raise NotFound(f"no asset {name}")
    return Response(asset(name), media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=3600"})


@router.get("/r/{code}", response_class=HTMLResponse)
async def referral_page(code: CodePath, services: ServicesDep) -> HTMLResponse:
    """The product page a post's link leads to: the product, the approved review, its disclosure, a buy path."""
    page = await run_in_threadpool(services.referrals.page, code)
    return HTMLResponse(render_page(page), headers={"Cache-Control": "no-store"})


@router.post("/api/v1/referrals/{code}/orders", status_code=201, dependencies=[PurchaseSlot])
def order_through_referral(
    code: CodePath,
    household: CurrentHousehold,
    services: ServicesDep,
    request: Request,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
) -> ReferralOrderPublic:
    """Buy the product of this link with one tap, at its list price, with this household's saved method.

    The order is attributed to the link when placed within the attribution window. The same
    `Idempotency-Key` returns the same order. Refusals are those of `/proposals/{id}/accept`
    (spending limit, PIN, declined method).
    """
    view, referral = services.referrals.order(household, code, idempotency_key)
    return ReferralOrderPublic(
        order=order_public(view, services, request), code=referral.code, attributed=referral.attributed
    )
