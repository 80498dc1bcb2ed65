"""Imports every module that defines tables, so `SQLModel.metadata` knows them all.

Alembic's environment and the schema-drift test import this. A new `<area>_models.py` adds its
import here (by class name).
"""

from freshtap.server.store.models import (
    AppliedMessage,
    Credential,
    Fridge,
    FridgeEvent,
    Household,
    InventoryRecord,
    Merchant,
    Offer,
    Order,
    Product,
    Proposal,
    Rejection,
    SandboxCharge,
    TelemetryReading,
)

__all__ = [
    "AppliedMessage",
    "Credential",
    "Fridge",
    "FridgeEvent",
    "Household",
    "InventoryRecord",
    "Merchant",
    "Offer",
    "Order",
    "Product",
    "Proposal",
    "Rejection",
    "SandboxCharge",
    "TelemetryReading",
]
