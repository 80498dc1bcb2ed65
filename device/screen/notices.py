"""The door screen's order notices: the newest `order_status` notice of each recent order.

The server sends one on every shipment status change, delivery, restock, payment failure and
out-of-stock (`notices` topic). `NoticeBoard` keeps the newest per order — a notice older than the
one held is ignored — for the last `keep` orders, and gives the page a JSON-ready list, newest
first, each with the server's text in English and Chinese and, for a problem, its way forward
(`next_action`: choose another offer, update the payment method, or "we keep watching").

Thread-safe: the agent's MQTT thread records, the screen's event loop reads.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from freshtap.contract import NoticeMessage, format_utc

__all__ = ["NoticeBoard"]

_TEXT_LANGS = ("en", "zh")


def _text(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {lang: str(value[lang])[:500] for lang in _TEXT_LANGS if isinstance(value.get(lang), str)}


def _shipment(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    fields = ("carrier", "tracking_number", "status")
    return {k: str(value[k])[:64] for k in fields if isinstance(value.get(k), str)} or None


def _next_action(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        return None
    action: dict[str, Any] = {"kind": value["kind"][:40]}
    for key in ("proposal_id", "merchant", "url"):
        if isinstance(value.get(key), str):
            action[key] = value[key][:2048]
    price = value.get("price")
    if (
        isinstance(price, dict)
        and isinstance(price.get("amount_minor"), int)
        and isinstance(price.get("currency"), str)
    ):
        action["price"] = {"amount_minor": price["amount_minor"], "currency": price["currency"][:3]}
    return action


class NoticeBoard:
    def __init__(self, keep: int = 6) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._by_order: dict[str, tuple[datetime, int, dict[str, Any]]] = {}
        self._arrivals = 0

    def record(self, notice: NoticeMessage) -> bool:
        """Keep an `order_status` notice; True when the screen should change."""
        body = notice.body.model_dump()
        order_id = body.get("order_id")
        if body.get("kind") != "order_status" or not isinstance(order_id, str) or not order_id:
            return False
        entry: dict[str, Any] = {
            "order_id": order_id[:64],
            "status": str(body.get("status") or "unknown")[:24],
            "text": _text(body.get("text")),
            "shipment": _shipment(body.get("shipment")),
            "next_action": _next_action(body.get("next_action")),
            "reason": str(body["reason"])[:40] if isinstance(body.get("reason"), str) else None,
            "at": format_utc(notice.at),
        }
        with self._lock:
            held = self._by_order.get(order_id)
            if held is not None and notice.at < held[0]:
                return False
            self._arrivals += 1
            self._by_order[order_id] = (notice.at, self._arrivals, entry)
            if len(self._by_order) > self._keep:
                oldest = min(self._by_order, key=lambda k: self._by_order[k][1])
                del self._by_order[oldest]
        return True

    def entries(self) -> list[dict[str, Any]]:
        """The notices for the page, the newest first."""
        with self._lock:
            held = sorted(self._by_order.values(), key=lambda v: v[1], reverse=True)
        return [dict(entry) for _, _, entry in held]

    def payment_url(self, order_id: str) -> str | None:
        """The `update_payment_method` URL of an order's notice (shown as a QR code), if any."""
        with self._lock:
            held = self._by_order.get(order_id)
        if held is None:
            return None
        action = held[2].get("next_action") or {}
        url = action.get("url") if action.get("kind") == "update_payment_method" else None
        return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None
