"""What a household's fridge holds and offers, as the server knows it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import col, select

from freshtap.contract import Basis, FreshnessInfo, FreshnessState
from freshtap.server.api.deps import OwnedFridge, ServicesDep
from freshtap.server.api.schemas import InventoryItemPublic, InventoryPublic
from freshtap.server.services.proposals import live_offers_message
from freshtap.server.store.models import InventoryRecord

router = APIRouter(prefix="/api/v1/fridges", tags=["household"])




@router.get("/{fridge_id}/inventory")
def inventory(fridge: OwnedFridge, services: ServicesDep) -> InventoryPublic:
    with services.sessions() as session:
        records = session.exec(
            select(InventoryRecord)
            .where(InventoryRecord.fridge_id == fridge.id, col(InventoryRecord.present))
            .order_by(col(InventoryRecord.added_at), col(InventoryRecord.item_id))
        ).all()
    items = [
        InventoryItemPublic(
            item_id=r.item_id,
            gtin=r.gtin,
            name=r.name,
            category=r.category,
            quantity=r.quantity,
            unit=r.unit,
            fill=r.fill,
            compartment=r.compartment,
            added_at=r.added_at,
            opened_at=r.opened_at,
            label_expiry=r.label_expiry,
            expiry_kind=r.expiry_kind,
            batch=r.batch,
            freshness=FreshnessInfo(
                state=FreshnessState(r.freshness_state),
                expires_at=r.expires_at,
                basis=Basis(r.basis),
                explanation=r.explanation,
            ),
        )
        for r in records
    ]
    return InventoryPublic(
        fridge_id=fridge.id, seq=fridge.inventory_seq, updated_at=fridge.inventory_at, items=items
    )


@router.get("/{fridge_id}/offers")
def offers(fridge: OwnedFridge, services: ServicesDep) -> dict[str, Any]:
    """The live offers, exactly as the retained `offers` topic carries them."""
    with services.sessions() as session:
        message = live_offers_message(session, fridge.id, services.clock.now().replace(microsecond=0))
    return message.model_dump(mode="json")
