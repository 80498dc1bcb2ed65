"""The door screen's review panel: drafts waiting for the owner, shown with their facts, poster and disclosure.

The page cannot reach the server itself (its CSP allows only this origin, and the credential
stays on the fridge), so these routes pass its calls on to the server as the fridge's household:

    GET  /api/reviews                         the drafts waiting for a decision, in full (at most 3);
                                              always 200 (`problem` says why there are none)
    GET  /api/reviews/{draft_id}/poster.png   the draft's poster (`?language=zh|en`)
    POST /api/reviews/{draft_id}/approve      {"channels": [...], "language": ..., "shown_text": ...}
    POST /api/reviews/{draft_id}/edit         {"note"?, "rating"?, "text_zh"?, "text_en"?}
    POST /api/reviews/{draft_id}/skip
    GET  /reviews/assets/{reviews.js,reviews.css}

The server's answer to a POST (status and problem+json) is passed back as it is; no server gives 503.
POSTs must be same-origin JSON, as the screen's own are.

Once the server accepted an approval, the fridge's review video of that draft is sent
(`ReviewDecisions.approved`, on a thread of its own: rendering may still be under way); once it
accepted a skip, the video is dropped (`skipped`). Camera frames leave only that way.
"""

from __future__ import annotations

import logging
import re
import threading
from importlib import resources
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .config import ScreenConfig

__all__ = ["MAX_DRAFTS", "ReviewDecisions", "review_routes"]

log = logging.getLogger(__name__)


class ReviewDecisions(Protocol):
    """Who hears the owner's decisions on the fridge (`freshtap.device.review_video.ReviewVideos`)."""

    def approved(self, draft_id: str) -> object: ...

    def skipped(self, draft_id: str) -> None: ...


def _tell(decisions: ReviewDecisions, action: str, draft_id: str) -> None:
    def run() -> None:
        try:
            if action == "approve":
                decisions.approved(draft_id)
            else:
                decisions.skipped(draft_id)
        except Exception:  # the upload has its own retries; the decision itself stands
            log.exception("the review video of draft %s was not handled after %s", draft_id, action)

    threading.Thread(target=run, name=f"review-{action}", daemon=True).start()

MAX_DRAFTS = 3
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_ASSETS = {"reviews.js": "text/javascript; charset=utf-8", "reviews.css": "text/css; charset=utf-8"}
_ACTIONS = frozenset({"approve", "edit", "skip"})


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def _passed_on(response: httpx.Response) -> Response:
    return Response(
        response.content,
        status_code=response.status_code,
        media_type=response.headers.get("content-type", "application/json"),
        headers={"Cache-Control": "no-store"},
    )


def review_routes(config: ScreenConfig, decisions: ReviewDecisions | None = None) -> list[Route]:
    """The panel's routes for `create_app`; they call `config.server_url` with `config.password`, and
    tell `decisions` what the server accepted."""
    assets = {name: resources.files("freshtap.device.screen.assets").joinpath(name).read_bytes() for name in _ASSETS}

    def client() -> httpx.AsyncClient | None:
        if config.server_url is None or config.password is None:
            return None
        return httpx.AsyncClient(
            base_url=config.server_url.rstrip("/"),
            headers={"Authorization": f"Bearer {config.password}", "Accept": "application/json"},
            timeout=config.http_timeout,
            follow_redirects=False,
        )

    def local(draft: dict[str, Any]) -> dict[str, Any]:
        draft["poster_url"] = f"/api/reviews/{draft['draft_id']}/poster.png"
        return draft

    def drafts_answer(drafts: list[dict[str, Any]], problem: str | None = None) -> JSONResponse:
        # Always 200: the panel polls, and a screen without a server (or offline) simply has no drafts.
        return JSONResponse({"drafts": drafts, "problem": problem}, headers={"Cache-Control": "no-store"})

    async def list_drafts(request: Request) -> Response:
        http = client()
        if http is None:
            return drafts_answer([], "this screen has no server")
        async with http:
            try:
                listed = await http.get("/api/v1/households/me/review-drafts", params={"status": "draft"})
                if listed.status_code != 200:
                    return drafts_answer([], f"the server answered {listed.status_code}")
                drafts = []
                for summary in listed.json()[:MAX_DRAFTS]:
                    detail = await http.get(f"/api/v1/review-drafts/{summary['draft_id']}")
                    if detail.status_code == 200:
                        drafts.append(local(detail.json()))
            except httpx.HTTPError as exc:
                return drafts_answer([], f"the server did not answer: {type(exc).__name__}")
        return drafts_answer(drafts)

    async def poster(request: Request) -> Response:
        draft_id = request.path_params["draft_id"]
        language = request.query_params.get("language")
        if not _ID.match(draft_id) or language not in (None, "zh", "en"):
            return _problem(404, "Not Found", "no such draft")
        http = client()
        if http is None:
            return _problem(503, "Service Unavailable", "this screen has no server")
        async with http:
            try:
                answer = await http.get(
                    f"/api/v1/review-drafts/{draft_id}/poster.png", params={"language": language} if language else None
                )
            except httpx.HTTPError as exc:
                return _problem(503, "Service Unavailable", f"the server did not answer: {type(exc).__name__}")
        return _passed_on(answer)

    async def act(request: Request) -> Response:
        draft_id, action = request.path_params["draft_id"], request.path_params["action"]
        if not _ID.match(draft_id) or action not in _ACTIONS:
            return _problem(404, "Not Found", "no such draft or action")
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return _problem(415, "Unsupported Media Type", "send application/json")
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            return _problem(403, "Forbidden", "cross-origin request")
        body = await request.body()
        http = client()
        if http is None:
            return _problem(503, "Service Unavailable", "this screen has no server")
        async with http:
            try:
                answer = await http.post(
                    f"/api/v1/review-drafts/{draft_id}/{action}",
                    content=body or b"{}",
                    headers={"Content-Type": "application/json"},
                )
            except httpx.HTTPError as exc:
                return _problem(503, "Service Unavailable", f"the server did not answer: {type(exc).__name__}")
        if decisions is not None and answer.is_success and action in ("approve", "skip"):
            _tell(decisions, action, draft_id)
        return _passed_on(answer)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets:
            return _problem(404, "Not Found", "no such asset")
        return Response(assets[name], media_type=_ASSETS[name], headers={"Cache-Control": "no-cache"})

    return [
        Route("/api/reviews", list_drafts),
        Route("/api/reviews/{draft_id}/poster.png", poster),
        Route("/api/reviews/{draft_id}/{action}", act, methods=["POST"]),
        Route("/reviews/assets/{name}", asset),
    ]
