"""OpenAPI `responses` of the payment routes for the statuses the app-wide list does not cover."""

from __future__ import annotations

from typing import Any

__all__ = ["ACCEPT_RESPONSES", "CANCEL_RESPONSES", "LIMITS_RESPONSES", "WEBHOOK_RESPONSES"]

_PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM}


_PIN: dict[int | str, dict[str, Any]] = {
    403: _problem("Above the one-tap limit: `pin-required`, `pin-wrong`, or `over-limit` when no PIN is set"),
}

ACCEPT_RESPONSES: dict[int | str, dict[str, Any]] = {**_PIN}
LIMITS_RESPONSES: dict[int | str, dict[str, Any]] = {403: _problem("A PIN is set: `pin-required` or `pin-wrong`")}
CANCEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"description": "Cancellation recorded; the payment provider will be asked again shortly"},
}
WEBHOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: _problem("The event is genuine but cannot be applied now; Stripe delivers it again"),
}
