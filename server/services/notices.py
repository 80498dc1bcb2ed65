"""`order_status` notices to the buying fridge: what changed, in English and Chinese, and the way forward.

Every notice is `{"kind": "order_status", "order_id", "status", "text": {"en", "zh"}, ...}` on the
fridge's `notices` topic (QoS 1, not retained), sent through the same `FridgePublisher` as offers.
`status` is the combined status people see (domain/fulfilment.py). Problems carry `next_action`:

- `{"kind": "choose_other_offer", "proposal_id", "merchant", "price"}` — the merchant ran out of
  stock and another live offer for the same item exists (the door screen shows it as a button);
- `{"kind": "watching"}` — out of stock and no other offer: the item stays on the watch list;
- `{"kind": "update_payment_method", "url"}` — the payment was declined; `url` is where the owner
  changes the saved method (`FRESHTAP_PAYMENTS__UPDATE_METHOD_URL`; null when not configured).

A notice is a courtesy: the order is already recorded when it is sent, so a publish that fails is
logged and never undoes anything. Texts are built here, from plain values, so the screen can show
them as they are (a screen that knows the status may prefer its own catalog's words).
"""

# Chinese text takes full-width punctuation, which RUF001 would flag as look-alikes of ASCII.
# ruff: noqa: RUF001

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from freshtap.contract import Channel, NoticeBody, NoticeMessage, encode
from freshtap.server.services.publisher import FridgePublisher

__all__ = [
    "declined_fields",
    "out_of_stock_fields",
    "restocked_fields",
    "send_order_notice",
    "shipment_fields",
]

log = logging.getLogger(__name__)

_CARRIER_EN = {
    "label_created": "{product}: {merchant} is packing it ({carrier}, tracking {number}).",
    "in_transit": "{product} is on its way with {carrier} (tracking {number}).",
    "out_for_delivery": "{product} is out for delivery today with {carrier} (tracking {number}).",
    "delivered": "{product} was delivered. Put it in the fridge and it will be recognised.",
    "exception": "{carrier} reports a delivery problem with {product} (tracking {number}); {merchant} is on it.",
}
_CARRIER_ZH = {
    "label_created": "{product}：{merchant}正在备货（{carrier}，运单号 {number}）。",
    "in_transit": "{product}正在由{carrier}运送（运单号 {number}）。",
    "out_for_delivery": "{product}今天派送（{carrier}，运单号 {number}）。",
    "delivered": "{product}已送达。放进冰箱后会自动识别。",
    "exception": "{carrier}报告{product}配送异常（运单号 {number}），{merchant}正在处理。",
}


_MONEY_BACK = {
    "refunded": ("You were refunded.", "款项已退回。"),
    "cancelled": ("Nothing was charged.", "未扣款。"),
    "paid": ("Your money is being returned.", "款项正在退回。"),
}


def _money(amount_minor: int, currency: str) -> dict[str, Any]:
    return {"amount_minor": amount_minor, "currency": currency}


def shipment_fields(
    product: str, merchant: str, carrier: str, tracking_number: str, tracking_status: str
) -> dict[str, Any]:
    """Text and tracking fields of a shipment notice."""
    values = {"product": product, "merchant": merchant, "carrier": carrier, "number": tracking_number}
    return {
        "text": {
            "en": _CARRIER_EN[tracking_status].format(**values),
            "zh": _CARRIER_ZH[tracking_status].format(**values),
        },
        "shipment": {"carrier": carrier, "tracking_number": tracking_number, "status": tracking_status},
    }


def restocked_fields(product: str) -> dict[str, Any]:
    return {
        "text": {
            "en": f"{product} is in your fridge. The order is complete.",
            "zh": f"{product}已放入冰箱，订单完成。",
        }
    }


def out_of_stock_fields(
    product: str,
    merchant: str,
    payment_status: str,
    alternative: tuple[str, str, int, str] | None,
) -> dict[str, Any]:
    """`payment_status`: the order's payment status after the refund or void was asked for;
    `alternative`: (proposal_id, merchant name, amount_minor, currency) of another live offer, if any."""
    money_en, money_zh = _MONEY_BACK.get(payment_status, _MONEY_BACK["paid"])
    if alternative is not None:
        proposal_id, other, amount, currency = alternative
        price = f"{amount / 100:.2f} {currency}"
        return {
            "text": {
                "en": f"{merchant} is out of stock of {product}. {money_en} {other} offers it for {price}.",
                "zh": f"{merchant}的{product}缺货。{money_zh}{other}有售，价格 {price}。",
            },
            "reason": "out_of_stock",
            "next_action": {
                "kind": "choose_other_offer",
                "proposal_id": proposal_id,
                "merchant": other,
                "price": _money(amount, currency),
            },
        }
    return {
        "text": {
            "en": f"{merchant} is out of stock of {product}. {money_en} We keep watching it and will offer it again.",
            "zh": f"{merchant}的{product}缺货。{money_zh}我们会继续关注，有货时再为您推荐。",
        },
        "reason": "out_of_stock",
        "next_action": {"kind": "watching"},
    }


def declined_fields(product: str | None, failure_reason: str | None, update_url: str | None) -> dict[str, Any]:
    """The way forward of a declined payment: change the saved payment method, then tap again."""
    name = product or "your order"
    why = f" ({failure_reason})" if failure_reason else ""
    return {
        "text": {
            "en": f"The payment for {name} was declined{why}. Update your payment method, then tap Buy again.",
            "zh": f"{product or '订单'}付款被拒{why}。请更新付款方式后再次购买。",
        },
        "next_action": {"kind": "update_payment_method", "url": update_url},
    }


def send_order_notice(
    publisher: FridgePublisher, fridge_id: str, order_id: str, status: str, now: datetime, fields: dict[str, Any]
) -> None:
    """Publish one `order_status` notice; a failure is logged, never raised."""
    body = {"kind": "order_status", "order_id": order_id, "status": status, **fields}
    try:
        message = NoticeMessage(
            v=1, type="notice", fridge_id=fridge_id, at=now.replace(microsecond=0), body=NoticeBody.model_validate(body)
        )
        publisher.publish(fridge_id, Channel.NOTICES, encode(message), retain=False)
    except Exception as exc:  # the notice is a courtesy; the order is already recorded
        log.warning("order %s: could not notify fridge %s: %s", order_id, fridge_id, exc)
