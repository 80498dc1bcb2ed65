"""429 problems that say when to come back: the `Retry-After` header (RFC 9110) with the problem.

The general handler (api/problems.py) knows no headers; errors that carry `retry_after_seconds`
get this more specific one.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from freshtap.server.api.problems import problem
from freshtap.server.domain.purchase_rate import PurchaseRateExceeded

__all__ = ["install_retry_after"]


def install_retry_after(app: FastAPI) -> None:
    @app.exception_handler(PurchaseRateExceeded)
    async def _rate(request: Request, exc: PurchaseRateExceeded) -> JSONResponse:
        response = problem(
            exc.status, exc.title, exc.detail, exc.type_slug, request.url.path, retry_after=exc.retry_after_seconds
        )
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
