"""The household's own data: export all of it, or delete all of it (docs/security.md, "Privacy")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from freshtap.server.api.deps import CurrentHousehold, ServicesDep
from freshtap.server.api.security_schemas import HouseholdDeleted, HouseholdDeletion
from freshtap.server.services.privacy import PrivacyService

router = APIRouter(prefix="/api/v1/households/me", tags=["household"])

_EXPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "household_id", "exported_at", "redacted", "tables"],
    "properties": {
        "format": {"type": "string"},
        "household_id": {"type": "string"},
        "exported_at": {"type": "string", "format": "date-time"},
        "redacted": {"type": "array", "items": {"type": "string"}},
        "tables": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "object"}}},
    },
}

_EXPORT = {"schema": _EXPORT_SCHEMA}


def _service(services: ServicesDep) -> PrivacyService:
    return PrivacyService(services.sessions, services.clock, services.publisher)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"description": "Every row of the household's data", "content": {"application/json": _EXPORT}}},
)
def export(household: CurrentHousehold, services: ServicesDep) -> StreamingResponse:
    """All the household's data, table by table (JSON, streamed): fridges, inventory and its
    history, telemetry, events, proposals, orders and payments, limits, drafts, ... Hashes of its
    secrets (PIN, fridge passwords) are left out and listed under `redacted`."""
    service = _service(services)
    body = service.export(household.household_id)
    first = next(body)  # reads the household now, so a missing one is a 404 rather than a broken stream
    name = f"freshtap-export-{household.household_id}.json"

    def stream() -> Any:
        yield first
        yield from body

    return StreamingResponse(
        stream(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.delete("")
def delete_household(data: HouseholdDeletion, household: CurrentHousehold, services: ServicesDep) -> HouseholdDeleted:
    """Delete the household and all its data from every table, for good; its fridges' credentials go too.

    Send `{"confirm": "<household id>"}` (another value: 409, nothing deleted). Orders are kept
    only as the law requires, anonymised (merchant, product, amount, status, payment reference,
    dates). 409 while an order's money is still moving.
    """
    report = _service(services).delete_household(household.household_id, data.confirm)
    return HouseholdDeleted(
        household_id=report.household_id,
        deleted_at=report.deleted_at,
        deleted_rows=report.deleted_rows,
        retained_orders=report.retained_orders,
        fridges_revoked=list(report.fridges_revoked),
    )
