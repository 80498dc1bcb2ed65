"""What the door screen shows, as one JSON-ready snapshot: a pure function of what is known now.

Freshness per item: the server's assessment (with its explanation) when the server has the item
with the same facts (opened, label date) as the fridge; otherwise the fridge's own, from the shared
shelf-life model — so the map stays right offline and right after a change the server has not yet
seen. `source` says which. An item with no known deadline is `unknown` (grey), never "fresh".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from freshtap.contract import Compartment, FreshnessState, InventoryItem, OfferEntry, format_utc
from freshtap.device.freshness import facts_of
from freshtap.settings import FreshnessSettings
from freshtap.shelflife import assess

from .household_api import ServerInventory, ServerItem
from .purchases import Tap, TapStatus

__all__ = ["ItemFreshness", "Telemetry", "build_snapshot", "item_freshness"]

UNKNOWN = "unknown"
_STATE_ORDER = {
    FreshnessState.EXPIRED.value: 0,
    FreshnessState.EXPIRING.value: 1,
    FreshnessState.USE_SOON.value: 2,
    FreshnessState.FRESH.value: 3,
    UNKNOWN: 4,
}
_COMPARTMENT_ORDER = [c.value for c in (Compartment.FRIDGE, Compartment.DOOR, Compartment.CRISPER, Compartment.FREEZER)]
_SHOWN_ON_CARD = frozenset({TapStatus.PENDING, TapStatus.SENDING, TapStatus.RETRYING})


@dataclass(frozen=True)
class Telemetry:
    compartments: Mapping[str, float]
    door_open: bool
    at: datetime


@dataclass(frozen=True)
class ItemFreshness:
    state: str
    """`fresh` | `use_soon` | `expiring` | `expired` | `unknown`."""
    expires_at: datetime | None
    basis: str | None
    explanation: str | None
    source: str
    """`server` or `device`."""


def item_freshness(
    item: InventoryItem, server_item: ServerItem | None, now: datetime, thresholds: FreshnessSettings
) -> ItemFreshness:
    if (
        server_item is not None
        and server_item.freshness is not None
        and server_item.opened_at == item.opened_at
        and server_item.label_expiry == item.label_expiry
    ):
        f = server_item.freshness
        return ItemFreshness(f.state.value, f.expires_at, f.basis.value, f.explanation, "server")
    facts = facts_of(item)
    assessment = assess(facts, now, thresholds)
    state = UNKNOWN if assessment.expires_at is None else assessment.state.value
    return ItemFreshness(state, assessment.expires_at, assessment.basis.value, assessment.explanation, "device")


def _utc(value: datetime | None) -> str | None:
    return None if value is None else format_utc(value)


def _item_view(item: InventoryItem, freshness: ItemFreshness) -> dict[str, Any]:
    return {
        "item_id": item.item_id,
        "name": item.name,
        "category": item.category,
        "compartment": item.compartment,
        "quantity": item.quantity,
        "unit": item.unit,
        "fill": item.fill,
        "opened": item.opened_at is not None,
        "label_expiry": None if item.label_expiry is None else item.label_expiry.isoformat(),
        "state": freshness.state,
        "expires_at": _utc(freshness.expires_at),
        "basis": freshness.basis,
        "explanation": freshness.explanation,
        "source": freshness.source,
    }


def _compartments(items: Iterable[dict[str, Any]], telemetry: Telemetry | None) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {cid: [] for cid in _COMPARTMENT_ORDER}
    for view in items:
        groups.setdefault(view["compartment"], []).append(view)
    for cid in telemetry.compartments if telemetry else ():
        groups.setdefault(cid, [])
    ordered = _COMPARTMENT_ORDER + sorted(c for c in groups if c not in _COMPARTMENT_ORDER)
    result = []
    for cid in ordered:
        members = sorted(
            groups[cid], key=lambda v: (_STATE_ORDER[v["state"]], v["expires_at"] or "~", v["name"], v["item_id"])
        )
        temp = None if telemetry is None else telemetry.compartments.get(cid)
        result.append({"id": cid, "known": cid in _COMPARTMENT_ORDER, "temp_c": temp, "items": members})
    return result


def _tap_view(tap: Tap, loop_now: float) -> dict[str, Any]:
    order = tap.order
    return {
        "tap_id": tap.tap_id,
        "proposal_id": tap.proposal_id,
        "status": tap.status.value,
        "undo_ms": max(0, round((tap.commit_at - loop_now) * 1000)) if tap.status is TapStatus.PENDING else None,
        "product_name": tap.product_name,
        "merchant_name": tap.merchant_name,
        "price": tap.price.model_dump(),
        "tapped_at": format_utc(tap.tapped_at),
        "attempts": tap.attempts,
        "failure": tap.failure,
        "failure_detail": tap.failure_detail,
        "order": None
        if order is None
        else {
            "order_id": order.order_id,
            "status": order.status,
            "amount": None if order.amount is None else order.amount.model_dump(),
            "payment_state": order.payment_state,
            "failure_reason": order.failure_reason,
            "next_action": order.next_action_url is not None,
        },
    }


def build_snapshot(
    *,
    fridge_id: str,
    now: datetime,
    connection: str,
    items: Sequence[InventoryItem],
    server: ServerInventory | None,
    server_status: str,
    offers: Sequence[OfferEntry],
    taps: Sequence[Tap],
    loop_now: float,
    telemetry: Telemetry | None,
    thresholds: FreshnessSettings,
    can_buy: bool,
    undo_seconds: float,
) -> dict[str, Any]:
    """The whole screen; `server_status` is `none` (not configured), `unknown`, `ok` or `unreachable`."""
    server_items = {} if server is None else server.items
    views = [_item_view(item, item_freshness(item, server_items.get(item.item_id), now, thresholds)) for item in items]
    by_id = {view["item_id"]: view for view in views}
    on_card: dict[str, dict[str, Any]] = {}
    for tap in taps:
        if tap.status in _SHOWN_ON_CARD and tap.proposal_id not in on_card:
            on_card[tap.proposal_id] = _tap_view(tap, loop_now)
    offer_views = []
    listed = set()
    for offer in sorted(offers, key=lambda o: (o.expires_at, o.proposal_id)):
        listed.add(offer.proposal_id)
        item = by_id.get(offer.item_id)
        offer_views.append(
            {
                "proposal_id": offer.proposal_id,
                "offer_id": offer.offer_id,
                "item_id": offer.item_id,
                "item_name": None if item is None else item["name"],
                "item_state": None if item is None else item["state"],
                "item_expires_at": None if item is None else item["expires_at"],
                "product_name": offer.product.name,
                "merchant_name": offer.merchant.name,
                "price": offer.price.model_dump(),
                "reason": {"kind": offer.reason.kind, "text": offer.reason.text},
                "expires_at": format_utc(offer.expires_at),
                "tap": on_card.get(offer.proposal_id),
            }
        )
    orders = [
        _tap_view(tap, loop_now)
        for tap in taps
        if tap.status in (TapStatus.SENDING, TapStatus.RETRYING, TapStatus.PLACED, TapStatus.FAILED)
        or (tap.status is TapStatus.PENDING and tap.proposal_id not in listed)
    ]
    return {
        "fridge_id": fridge_id,
        "now": format_utc(now),
        "connection": connection,
        "server": server_status,
        "can_buy": can_buy,
        "undo_seconds": undo_seconds,
        "telemetry": None
        if telemetry is None
        else {
            "door_open": telemetry.door_open,
            "at": format_utc(telemetry.at),
            "compartments": [{"id": cid, "temp_c": t} for cid, t in telemetry.compartments.items()],
        },
        "compartments": _compartments(views, telemetry),
        "item_count": len(views),
        "offers": offer_views,
        "orders": orders,
    }
