"""The door screen's web app (Starlette): the page, its live event stream and the tap endpoints.

    GET  /                              the page (plain HTML/CSS/JS, committed; no build step, no CDN)
    GET  /assets/{screen.js,screen.css}
    GET  /api/catalog                   every string, in every language
    GET  /api/state                     the current snapshot (see `view.build_snapshot`)
    GET  /api/events                    Server-Sent Events: `snapshot` on every change, `: ping` when idle
    POST /api/offers/{proposal_id}/buy  tap Buy (starts the undo window)
    POST /api/taps/{tap_id}/undo        undo a tap still in its window
    GET  /api/orders/{order_id}/qr.svg  the approval QR code of an order that needs one
    GET  /api/notices/{order_id}/qr.svg the QR code of a notice's way forward (update the payment method)
    GET  /healthz
    ...  /api/reviews...                the review panel (reviews.py)

Every response carries a strict Content-Security-Policy (only this origin; no inline script or
style). The page is meant for the fridge's own display on loopback: requests must name a loopback
Host (so a web page elsewhere cannot reach it by DNS rebinding), and the two POSTs must be JSON
from this origin (so a form on another site cannot tap Buy).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from freshtap.clock import Clock

from .catalog import CATALOG
from .config import ScreenConfig
from .fridge_view import FridgeView
from .household_api import HouseholdApi
from .hub import ScreenHub
from .notices import NoticeBoard
from .purchase_log import PurchaseLog
from .purchases import NoServer, Purchases
from .qr import approval_qr_svg
from .reviews import ReviewDecisions, review_routes

__all__ = ["CONTENT_SECURITY_POLICY", "create_app"]

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
_ASSETS = {"screen.js": "text/javascript; charset=utf-8", "screen.css": "text/css; charset=utf-8"}
_LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


class _SecurityHeaders:
    """Adds the CSP and friends to every response, streaming ones included (pure ASGI, no buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _asset(name: str) -> bytes:
    return resources.files("freshtap.device.screen.assets").joinpath(name).read_bytes()


def _problem(status: int, title: str, detail: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _same_origin_json(request: Request) -> JSONResponse | None:
    """Refuse a POST that is not JSON or that comes from another origin (CSRF)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return _problem(415, "Unsupported Media Type", "send application/json")
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return _problem(403, "Forbidden", "cross-origin request")
    return None


def create_app(
    fridge: FridgeView,
    clock: Clock,
    config: ScreenConfig,
    api: HouseholdApi | None,
    *,
    on_ready: Callable[[ScreenHub, Purchases], None] | None = None,
    notices: NoticeBoard | None = None,
    review_decisions: ReviewDecisions | None = None,
) -> Starlette:
    """The screen's ASGI app; its lifespan starts the hub and the purchases on the serving loop."""
    index = _asset("index.html")
    assets = {name: _asset(name) for name in _ASSETS}
    catalog_body = json.dumps(
        {"default": config.language, "languages": {lang: dict(strings) for lang, strings in CATALOG.items()}},
        ensure_ascii=False,
    ).encode()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hubs: list[ScreenHub] = []
        purchases = Purchases(
            api,
            PurchaseLog(config.state_dir),
            clock,
            undo_seconds=config.undo_seconds,
            retry_min_seconds=config.retry_min_seconds,
            retry_max_seconds=config.retry_max_seconds,
            order_poll_seconds=config.order_poll_seconds,
            keep_final=config.orders_kept,
            on_change=lambda: hubs[0].kick() if hubs else None,
        )
        hub = ScreenHub(fridge, clock, config, api, purchases)
        hubs.append(hub)
        purchases.restore()
        app.state.hub = hub
        app.state.purchases = purchases
        loop = asyncio.get_running_loop()
        tasks = [
            loop.create_task(hub.run(), name="door-screen-hub"),
            loop.create_task(hub.sync_server(), name="door-screen-server-sync"),
        ]
        hub.rebuild()
        if on_ready is not None:
            on_ready(hub, purchases)
        try:
            yield
        finally:
            hub.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await purchases.close()
            if api is not None:
                await api.aclose()

    async def page(request: Request) -> Response:
        return Response(index, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            return _problem(404, "Not Found")
        return Response(assets[name], media_type=_ASSETS[name], headers={"Cache-Control": "no-cache"})

    async def catalog(request: Request) -> Response:
        return Response(catalog_body, media_type="application/json")

    async def state(request: Request) -> Response:
        hub: ScreenHub = request.app.state.hub
        hub.rebuild()
        return JSONResponse(hub.snapshot, headers={"Cache-Control": "no-store"})

    async def events(request: Request) -> Response:
        hub: ScreenHub = request.app.state.hub
        subscription = hub.subscribe()

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 1500\n\n"
                while True:
                    try:
                        async with asyncio.timeout(config.heartbeat_seconds):
                            snapshot = await subscription.next()
                    except TimeoutError:
                        yield ": ping\n\n"
                        continue
                    if snapshot is None:
                        return
                    data = json.dumps(snapshot, ensure_ascii=False, separators=(",", ":"))
                    yield f"event: snapshot\nid: {snapshot['version']}\ndata: {data}\n\n"
            finally:
                hub.unsubscribe(subscription)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def buy(request: Request) -> Response:
        refused = _same_origin_json(request)
        if refused is not None:
            return refused
        hub: ScreenHub = request.app.state.hub
        purchases: Purchases = request.app.state.purchases
        proposal_id = request.path_params["proposal_id"]
        offer = next((o for o in fridge.offers if o.proposal_id == proposal_id), None)
        if offer is None:
            return _problem(404, "Not Found", "no such live offer on this fridge")
        try:
            tap = purchases.tap(offer)
        except NoServer:
            return _problem(503, "Service Unavailable", "this screen has no server to buy from")
        hub.kick()
        return JSONResponse(
            {"tap_id": tap.tap_id, "status": tap.status.value, "undo_seconds": config.undo_seconds}, status_code=202
        )

    async def undo(request: Request) -> Response:
        refused = _same_origin_json(request)
        if refused is not None:
            return refused
        purchases: Purchases = request.app.state.purchases
        if not purchases.undo(request.path_params["tap_id"]):
            return _problem(409, "Conflict", "too late to undo, or no such tap")
        request.app.state.hub.kick()
        return JSONResponse({"undone": True})

    async def qr(request: Request) -> Response:
        purchases: Purchases = request.app.state.purchases
        order_id = request.path_params["order_id"]
        for tap in purchases.taps:
            if tap.order is not None and tap.order.order_id == order_id and tap.order.next_action_url:
                try:
                    svg = approval_qr_svg(tap.order.next_action_url)
                except ValueError:
                    break
                return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
        return _problem(404, "Not Found", "no approval pending for this order")

    async def notice_qr(request: Request) -> Response:
        url = notices.payment_url(request.path_params["order_id"]) if notices is not None else None
        if url is not None:
            with contextlib.suppress(ValueError):
                svg = approval_qr_svg(url)
                return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
        return _problem(404, "Not Found", "no way forward to scan for this order")

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    hosts = ["*"] if config.allow_remote else _LOOPBACK_HOSTS
    return Starlette(
        routes=[
            Route("/", page),
            Route("/assets/{name}", asset),
            Route("/api/catalog", catalog),
            Route("/api/state", state),
            Route("/api/events", events),
            Route("/api/offers/{proposal_id}/buy", buy, methods=["POST"]),
            Route("/api/taps/{tap_id}/undo", undo, methods=["POST"]),
            Route("/api/orders/{order_id}/qr.svg", qr),
            Route("/api/notices/{order_id}/qr.svg", notice_qr),
            Route("/favicon.ico", favicon),
            Route("/healthz", healthz),
            *review_routes(config, review_decisions),
        ],
        middleware=[Middleware(_SecurityHeaders), Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
        lifespan=lifespan,
    )
