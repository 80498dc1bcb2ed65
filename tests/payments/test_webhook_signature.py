"""Stripe-Signature checking on the raw body (pure), and reading what an event is about."""

from __future__ import annotations

import json

import pytest
import stripe

from freshtap.server.payments.stripe_webhooks import (
    WebhookPayloadError,
    WebhookSignatureError,
    parse_event,
    sign,
    verify_signature,
)

SECRET = "whsec_abc"
NOW = 1_800_000_000
BODY = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_1", "object": "payment_intent", "metadata": {"order_id": "ord_1"}}},
    }
).encode()


def test_a_fresh_valid_signature_passes_and_matches_the_stripe_package() -> None:
    header = sign(BODY, SECRET, NOW)
    verify_signature(BODY, header, SECRET, NOW, 300)
    # The official package computes the same signature (its helper is for tests like this one).
    assert header == stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, NOW)


@pytest.mark.parametrize(
    ("body", "header", "secret", "now", "message"),
    [
        (BODY + b" ", sign(BODY, SECRET, NOW), SECRET, NOW, "no signature matches"),
        (BODY.replace(b"ord_1", b"ord_2"), sign(BODY, SECRET, NOW), SECRET, NOW, "no signature matches"),
        (BODY, sign(BODY, "whsec_other", NOW), SECRET, NOW, "no signature matches"),
        (BODY, sign(BODY, SECRET, NOW - 301), SECRET, NOW, "away from now"),
        (BODY, sign(BODY, SECRET, NOW + 301), SECRET, NOW, "away from now"),
        (BODY, None, SECRET, NOW, "no Stripe-Signature"),
        (BODY, "", SECRET, NOW, "no Stripe-Signature"),
        (BODY, f"t={NOW}", SECRET, NOW, "no v1"),
        (BODY, "v1=abc", SECRET, NOW, "no timestamp"),
        (BODY, "t=soon,v1=abc", SECRET, NOW, "not a number"),
        (BODY, sign(BODY, SECRET, NOW).replace("v1=", "v0="), SECRET, NOW, "no v1"),
    ],
)
def test_bad_signatures_are_refused(body: bytes, header: str | None, secret: str, now: int, message: str) -> None:
    with pytest.raises(WebhookSignatureError, match=message):
        verify_signature(body, header, secret, now, 300)


def test_one_of_several_signatures_may_match_while_a_secret_is_rolled() -> None:
    good = sign(BODY, SECRET, NOW).split(",")[1]
    verify_signature(BODY, f"t={NOW},v1={'0' * 64},{good}", SECRET, NOW, 300)


def test_the_event_names_its_payment_intent_and_order() -> None:
    event = parse_event(BODY)
    assert (event.id, event.type, event.payment_intent, event.order_id) == (
        "evt_1",
        "payment_intent.succeeded",
        "pi_1",
        "ord_1",
    )
    refund = parse_event(
        json.dumps(
            {
                "id": "evt_2",
                "object": "event",
                "type": "charge.refunded",
                "data": {"object": {"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "refunded": True}},
            }
        ).encode()
    )
    assert (refund.payment_intent, refund.refunded, refund.order_id) == ("pi_1", True, None)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"object": "event"}', b'{"id": "e", "object": "x"}'])
def test_bodies_that_are_not_events_are_refused(body: bytes) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_event(body)
