"""Stripe webhooks: the signature check on the raw body, and what an event is about.

Stripe signs `"{t}.{raw body}"` with HMAC-SHA256 under the endpoint's signing secret and sends
`Stripe-Signature: t=<unix time>,v1=<hex>[,v1=<hex>...]` (several `v1` while a secret is rolled).
The check runs on the bytes as received, before any parsing: a body re-serialised by a framework
would not match. A timestamp further than `tolerance` seconds from now, either way, is refused, so
a captured delivery cannot be replayed later.

Errors (400, change nothing): `WebhookSignatureError`, `WebhookPayloadError`; 503
`WebhookRetryLater` when the event is genuine but cannot be applied now (Stripe redelivers).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from freshtap.server.domain.errors import DomainError

__all__ = [
    "StripeEvent",
    "WebhookPayloadError",
    "WebhookRetryLater",
    "WebhookSignatureError",
    "parse_event",
    "sign",
    "verify_signature",
]


class WebhookSignatureError(DomainError):
    status = 400
    title = "Webhook signature refused"
    type_slug = "webhook-signature"


class WebhookPayloadError(DomainError):
    status = 400
    title = "Webhook payload refused"
    type_slug = "webhook-payload"


class WebhookRetryLater(DomainError):
    status = 503
    title = "Try again later"
    type_slug = "retry-later"


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header Stripe would send (for tests and the local fake)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(payload: bytes, header: str | None, secret: str, now: float, tolerance: int) -> None:
    """Raise `WebhookSignatureError` unless `header` is a fresh, valid signature of `payload`."""
    if not header:
        raise WebhookSignatureError("no Stripe-Signature header")
    if not secret:
        raise WebhookSignatureError("no webhook secret is configured")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookSignatureError("the signature's timestamp is not a number") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError("the Stripe-Signature header has no timestamp or no v1 signature")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookSignatureError("no signature matches the body")
    if abs(now - timestamp) > tolerance:
        raise WebhookSignatureError(f"the signature's timestamp is more than {tolerance} s away from now")


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    object_type: str | None
    payment_intent: str | None
    """The PaymentIntent the event is about (the object itself, or a charge's `payment_intent`)."""
    order_id: str | None
    """From the PaymentIntent's metadata, when the event carries it."""
    refunded: bool
    """For `charge.refunded`: the charge is refunded in full."""


def parse_event(payload: bytes) -> StripeEvent:
    """What a verified event is about; `WebhookPayloadError` for a body that is not an event."""
    try:
        data: Any = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookPayloadError("the body is not JSON") from None
    if not isinstance(data, dict) or data.get("object") != "event":
        raise WebhookPayloadError("the body is not a Stripe event")
    event_id, event_type = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str) or not event_id or len(event_id) > 255:
        raise WebhookPayloadError("the event has no id or type")
    obj = (data.get("data") or {}).get("object")
    if not isinstance(obj, dict):
        raise WebhookPayloadError("the event has no data.object")
    object_type = obj.get("object") if isinstance(obj.get("object"), str) else None
    intent: str | None = None
    if object_type == "payment_intent" and isinstance(obj.get("id"), str):
        intent = obj["id"]
    elif object_type == "charge" and isinstance(obj.get("payment_intent"), str):
        intent = obj["payment_intent"]
    raw_metadata = obj.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    order_id = metadata.get("order_id") if isinstance(metadata.get("order_id"), str) else None
    return StripeEvent(
        id=event_id,
        type=event_type[:100],
        object_type=object_type,
        payment_intent=intent,
        order_id=order_id or None,
        refunded=object_type == "charge" and obj.get("refunded") is True,
    )
