"""Payment provider webhooks: `POST /api/v1/webhooks/stripe`.

The signature is checked on the raw body before anything else; a tampered, unsigned, wrongly
signed or stale delivery is a 400 and changes nothing. A genuine event is applied once per event
id (a redelivery answers 200 with `duplicate`). When Stripe itself cannot be read to learn the
PaymentIntent's current state, the answer is 503 and Stripe delivers again later.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel

from freshtap.server.api.deps import ServicesDep
from freshtap.server.api.payment_responses import WEBHOOK_RESPONSES
from freshtap.server.domain.errors import NotFound
from freshtap.server.payments.provider import PaymentError
from freshtap.server.payments.stripe_webhooks import WebhookRetryLater, parse_event, verify_signature

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


class WebhookReceipt(BaseModel):
    received: bool
    outcome: str
    """`applied`, `duplicate`, `ignored` (not an event freshtap acts on) or `unknown_order`."""


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post("/stripe", responses=WEBHOOK_RESPONSES)
def stripe_webhook(
    services: ServicesDep,
    body: Annotated[bytes, Depends(_raw_body)],
    signature: Annotated[str | None, Header(alias="Stripe-Signature", max_length=4096)] = None,
) -> WebhookReceipt:
    """Stripe events about PaymentIntents and refunds, signed with the endpoint's secret."""
    config = services.settings.payments
    if config.stripe_webhook_secret is None:
        raise NotFound("Stripe webhooks are not configured on this server")
    # Wall time, not the service clock: the signature's timestamp is Stripe's real time.
    verify_signature(
        body, signature, config.stripe_webhook_secret.get_secret_value(), time.time(), config.webhook_tolerance_seconds
    )
    event = parse_event(body)
    try:
        outcome = services.orders.handle_stripe_event(event)
    except PaymentError as exc:
        raise WebhookRetryLater(f"the event could not be applied now: {exc}") from None
    return WebhookReceipt(received=True, outcome=outcome)
