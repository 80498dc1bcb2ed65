"""Readiness: may a load balancer or orchestrator send this worker traffic now?

`/healthz` says the process is alive; `/readyz` says it can do its job: the database answers and
the MQTT link is connected to the broker (so ingest flows and offers reach fridges). It answers
200 with each check's result, or 503 naming what failed; a failed check is reported, never raised.
A process built without a broker link (HTTP-only tools and tests) depends on no broker: its
`mqtt` check says `absent` and does not hold readiness back. `freshtap server` always has one.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from freshtap.server.api.deps import ServicesDep
from freshtap.server.container import Services

__all__ = ["ReadinessPublic", "router"]

router = APIRouter(tags=["health"])


@runtime_checkable
class _ConnectionState(Protocol):
    @property
    def connected(self) -> bool: ...


class ReadinessPublic(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str]
    """`database`: `ok` or `error: <kind>`; `mqtt`: `connected`, `disconnected` or `absent` (no broker link)."""


def _database(services: Services) -> str:
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The kind only: the message may name hosts and users.
        return f"error: {type(exc).__name__}"
    return "ok"


def _mqtt(services: Services) -> str:
    link = services.publisher
    if not isinstance(link, _ConnectionState):
        return "absent"
    return "connected" if link.connected else "disconnected"


@router.get(
    "/readyz",
    responses={503: {"model": ReadinessPublic, "description": "a dependency is down; the body says which"}},
)
def readyz(services: ServicesDep, response: Response) -> ReadinessPublic:
    checks = {"database": _database(services), "mqtt": _mqtt(services)}
    ready = checks["database"] == "ok" and checks["mqtt"] in ("connected", "absent")
    if not ready:
        response.status_code = 503
    return ReadinessPublic(status="ready" if ready else "not_ready", checks=checks)
