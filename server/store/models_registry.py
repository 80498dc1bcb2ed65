"""Imports every module that defines tables, so `SQLModel.metadata` knows them all.

Alembic's environment and the schema-drift test import this. A new `<area>_models.py` adds its
import here (by class name).
"""

from freshtap.server.store.history_models import DueSoonWindow, FillReading, ItemHistory
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
from freshtap.server.store.payments_models import (
    OrderPayment,
    PaymentCustomer,
    SandboxAction,
    SandboxRefund,
    SpendingLimit,
    WebhookEvent,
)
from freshtap.server.store.review_media_models import ReviewMedia
from freshtap.server.store.security_models import PurchaseAttempt, RetainedOrder
from freshtap.server.store.shipment_models import OrderFulfilment, ShipmentEvent
from freshtap.server.store.social_models import ReferralLink, ReferralOrder, ReviewConsent, ReviewDraft, Reward
from freshtap.server.store.social_outbox_models import SocialHandoff, SocialLocalPost, SocialOutboxEntry

__all__ = [
    "AppliedMessage",
    "Credential",
    "DueSoonWindow",
    "FillReading",
    "Fridge",
    "FridgeEvent",
    "Household",
    "InventoryRecord",
    "ItemHistory",
    "Merchant",
    "Offer",
    "Order",
    "OrderFulfilment",
    "OrderPayment",
    "PaymentCustomer",
    "Product",
    "Proposal",
    "PurchaseAttempt",
    "ReferralLink",
    "ReferralOrder",
    "Rejection",
    "RetainedOrder",
    "ReviewConsent",
    "ReviewDraft",
    "ReviewMedia",
    "Reward",
    "SandboxAction",
    "SandboxCharge",
    "SandboxRefund",
    "ShipmentEvent",
    "SocialHandoff",
    "SocialLocalPost",
    "SocialOutboxEntry",
    "SpendingLimit",
    "TelemetryReading",
    "WebhookEvent",
]
