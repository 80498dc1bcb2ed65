"""A household's own due-soon windows for one of its fridges.

`PUT /api/v1/fridges/{fridge_id}/due-soon` with `{"gtin": {GTIN: hours}, "category": {category: hours}}`
replaces the whole set: an item becomes `use_soon` that many hours before it expires, instead of
the server-wide `use_soon_hours`. A GTIN's window beats its category's. The fridge is reassessed
at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from freshtap.contract import Gtin14
from freshtap.server.api.deps import OwnedFridge, ServicesDep
from freshtap.server.services.due_soon import DueSoonService
from freshtap.server.services.freshness import DueSoonWindows

router = APIRouter(prefix="/api/v1/fridges", tags=["household"])

MAX_WINDOWS = 200
Hours = Annotated[float, Field(gt=0, le=24 * 365, strict=True)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)]


class DueSoonPublic(BaseModel):
    """Hours before expiry at which an item counts as `use_soon`, per GTIN and per category."""

    model_config = ConfigDict(extra="forbid")

    gtin: dict[Gtin14, Hours] = Field(default_factory=dict, max_length=MAX_WINDOWS)
    category: dict[Category, Hours] = Field(default_factory=dict, max_length=MAX_WINDOWS)

    @field_validator("category", mode="before")
    @classmethod
    def _distinct_categories(cls, value: object) -> object:
        # Keys are lower-cased; "Dairy" and "dairy" in one body would silently lose one of them.
        if isinstance(value, dict):
            keys = [key.strip().lower() for key in value if isinstance(key, str)]
            if len(set(keys)) != len(keys):
                raise ValueError("category names must differ in more than case and surrounding spaces")
        return value


def _service(services: ServicesDep) -> DueSoonService:
    return DueSoonService(services.sessions, services.clock, services.settings, services.publisher, services.metrics)


def _public(windows: DueSoonWindows) -> DueSoonPublic:
    return DueSoonPublic(gtin=dict(windows.gtin), category=dict(windows.category))


@router.get("/{fridge_id}/due-soon")
def get_due_soon(fridge: OwnedFridge, services: ServicesDep) -> DueSoonPublic:
    """The household's due-soon windows for this fridge (empty: the server-wide threshold applies)."""
    return _public(_service(services).get(fridge.id))


@router.put("/{fridge_id}/due-soon")
def put_due_soon(data: DueSoonPublic, fridge: OwnedFridge, services: ServicesDep) -> DueSoonPublic:
    """Replace this fridge's due-soon windows and reassess its items."""
    windows = DueSoonWindows(gtin=dict(data.gtin), category=dict(data.category))
    return _public(_service(services).replace(fridge.id, windows))
