"""freshtap on Stripe, end to end against the local fake: the server on uvicorn, webhooks over
real HTTP, signed and verified; the authentication-required flow; capture, void and refund.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import func, select

from freshtap.contract import Channel
from freshtap.server.payments.stripe_webhooks import sign
from freshtap.server.store.payments_models import WebhookEvent
from tests.payments.conftest import WEBHOOK_SECRET, PayStack, live_server, pay_stack, payment_settings
from tests.payments.fake_stripe import AUTH_REQUIRED, FakeStripe

WEBHOOK = "/api/v1/webhooks/stripe"


@contextmanager
def stripe_stack(database_url: str, fake: FakeStripe, **payments: Any) -> Iterator[tuple[PayStack, str]]:
    """The app configured for Stripe (through the settings and the provider factory) on uvicorn,
    with the fake delivering its webhooks to it."""
    settings = payment_settings("stripe", stripe_api_base=fake.url, **payments)
    with pay_stack(database_url, settings, stripe=fake) as stack, live_server(stack.services) as base:
        fake.webhook_url = base + WEBHOOK
        yield stack, base


def _tap(base: str, password: str, proposal_id: str, key: str) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/api/v1/proposals/{proposal_id}/accept",
        headers={"Authorization": f"Bearer {password}", "Idempotency-Key": key},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _settle_webhooks(fake: FakeStripe) -> None:
    """Wait until every event the fake has emitted so far has been delivered and answered."""
    deliveries = fake.wait_delivered(len(fake.events))
    assert all(status == 200 for _, status in deliveries), deliveries


def test_authentication_required_end_to_end(database_url: str, stripe_fake: FakeStripe) -> None:
    with stripe_stack(database_url, stripe_fake, cancel_window_seconds=600) as (stack, base):
        home = stack.household(AUTH_REQUIRED)
        order = _tap(base, home.password, stack.proposal(home), "tap-1")
        assert order["status"] == "requires_action"
        url = order["payment"]["next_action_url"]
        assert url.startswith(f"{stripe_fake.url}/3ds/pi_")
        _settle_webhooks(stripe_fake)  # includes the off-session attempt's payment_failed
        assert stack.order(home, order["order_id"])["status"] == "requires_action"

        # The owner scans the QR code and authenticates on the phone, at the bank's page.
        with httpx.Client(timeout=10) as phone:
            assert phone.get(url).status_code == 200
            back = phone.post(url, data={"action": "approve"})
        assert back.status_code == 303 and back.headers["location"].endswith("/pay/return")
        _settle_webhooks(stripe_fake)
        held = stack.order(home, order["order_id"])
        assert held["status"] == "paid" and held["payment"]["state"] == "authorized"
        assert held["payment"]["next_action_url"] is None
        notices = [json.loads(p)["body"] for f, c, p, _ in stack.publisher.sent if c == Channel.NOTICES]
        assert [n["status"] for n in notices] == ["requires_action", "paid"]

        # The window closes; recovery captures; Stripe's succeeded event then changes nothing more.
        stack.clock.advance(timedelta(seconds=601))
        stack.services.orders.reconcile_pending(stack.clock.now())
        _settle_webhooks(stripe_fake)
        captured = stack.order(home, order["order_id"])
        assert captured["status"] == "paid" and captured["payment"]["state"] == "succeeded"
        assert len(stripe_fake.intents) == 1
        assert next(iter(stripe_fake.intents.values()))["amount_received"] == 1290


def test_a_cancel_in_the_window_voids_the_authorisation(sqlite_url: str, stripe_fake: FakeStripe) -> None:
    with stripe_stack(sqlite_url, stripe_fake) as (stack, base):
        home = stack.household()
        order = _tap(base, home.password, stack.proposal(home), "tap-1")
        assert order["status"] == "paid" and order["payment"]["state"] == "authorized"
        cancel = httpx.post(
            f"{base}/api/v1/orders/{order['order_id']}/cancel", headers={"Authorization": f"Bearer {home.password}"}
        )
        assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
        assert stripe_fake.intents[order["payment"]["reference"]]["status"] == "canceled"
        _settle_webhooks(stripe_fake)
        # Past the window, nothing is captured.
        stack.clock.advance(timedelta(hours=1))
        stack.services.orders.reconcile_pending(stack.clock.now())
        assert stripe_fake.charges_taken() == 0
        assert stack.order(home, order["order_id"])["status"] == "cancelled"


def test_with_automatic_capture_a_cancel_refunds(sqlite_url: str, stripe_fake: FakeStripe) -> None:
    with stripe_stack(sqlite_url, stripe_fake, stripe_capture="automatic") as (stack, base):
        home = stack.household()
        order = _tap(base, home.password, stack.proposal(home), "tap-1")
        assert order["payment"]["state"] == "succeeded"
        cancel = httpx.post(
            f"{base}/api/v1/orders/{order['order_id']}/cancel", headers={"Authorization": f"Bearer {home.password}"}
        )
        assert cancel.json()["status"] == "refunded"
        _settle_webhooks(stripe_fake)  # charge.refunded arrives after the fact and changes nothing
        assert stack.order(home, order["order_id"])["status"] == "refunded"
        assert len(stripe_fake.refunds) == 1


def _sca_order_and_its_event(stack: PayStack, fake: FakeStripe) -> tuple[Any, dict[str, Any], bytes]:
    """An order waiting for authentication, and the (undelivered) event saying it was authorised."""
    home = stack.household(AUTH_REQUIRED)
    order = stack.tap(home, stack.proposal(home), "tap-1").json()
    assert order["status"] == "requires_action"
    fake.authenticate(order["payment"]["reference"])
    event = fake.events[-1]
    assert event["type"] == "payment_intent.amount_capturable_updated"
    return home, order, json.dumps(event).encode()


def _post(stack: PayStack, body: bytes, signature: str | None) -> Any:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return stack.client.post(WEBHOOK, content=body, headers=headers)


def test_forged_webhooks_are_refused_and_change_nothing(sqlite_url: str, stripe_fake: FakeStripe) -> None:
    settings = payment_settings("stripe", stripe_api_base=stripe_fake.url)
    with pay_stack(sqlite_url, settings, stripe=stripe_fake) as stack:
        home, order, body = _sca_order_and_its_event(stack, stripe_fake)
        now = int(time.time())
        tampered = body.replace(b'"amount": 1290', b'"amount": 1')
        assert tampered != body
        forged = {
            "tampered body": (tampered, sign(body, WEBHOOK_SECRET, now)),
            "wrong secret": (body, sign(body, "whsec_attacker", now)),
            "stale timestamp": (body, sign(body, WEBHOOK_SECRET, now - 301)),
            "no signature": (body, None),
            "garbage signature": (body, "t=abc,v1=xyz"),
        }
        for name, (payload, signature) in forged.items():
            response = _post(stack, payload, signature)
            assert response.status_code == 400, name
            assert response.headers["content-type"].startswith("application/problem+json"), name
        assert stack.order(home, order["order_id"])["status"] == "requires_action"
        with stack.services.sessions() as session:
            assert session.exec(select(func.count()).select_from(WebhookEvent)).one() == 0


def test_an_event_delivered_twice_changes_the_order_once(database_url: str, stripe_fake: FakeStripe) -> None:
    settings = payment_settings("stripe", stripe_api_base=stripe_fake.url)
    with pay_stack(database_url, settings, stripe=stripe_fake) as stack:
        home, order, body = _sca_order_and_its_event(stack, stripe_fake)
        first = _post(stack, body, sign(body, WEBHOOK_SECRET, int(time.time())))
        assert first.status_code == 200 and first.json()["outcome"] == "applied"
        after_first = stack.order(home, order["order_id"])
        assert after_first["status"] == "paid"
        notices = len(stack.publisher.sent)
        for _ in range(3):
            again = _post(stack, body, sign(body, WEBHOOK_SECRET, int(time.time())))
            assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
        assert stack.order(home, order["order_id"]) == after_first
        assert len(stack.publisher.sent) == notices
        with stack.services.sessions() as session:
            assert session.exec(select(func.count()).select_from(WebhookEvent)).one() == 1


def test_events_for_unknown_orders_and_other_types_are_acknowledged_once(
    sqlite_url: str, stripe_fake: FakeStripe
) -> None:
    settings = payment_settings("stripe", stripe_api_base=stripe_fake.url)
    with pay_stack(sqlite_url, settings, stripe=stripe_fake) as stack:
        foreign = {
            "id": "evt_foreign",
            "object": "event",
            "type": "payment_intent.succeeded",
            "data": {"object": {"id": "pi_other", "object": "payment_intent", "metadata": {"order_id": "ord_nope"}}},
        }
        other = {"id": "evt_other", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus"}}}
        for event, outcome in ((foreign, "unknown_order"), (other, "ignored")):
            body = json.dumps(event).encode()
            response = _post(stack, body, sign(body, WEBHOOK_SECRET, int(time.time())))
            assert response.json()["outcome"] == outcome
            assert _post(stack, body, sign(body, WEBHOOK_SECRET, int(time.time()))).json()["outcome"] == "duplicate"


def test_webhooks_are_not_found_where_stripe_is_not_configured(sqlite_url: str) -> None:
    from freshtap.settings import Settings

    with pay_stack(sqlite_url, Settings(_env_file=None)) as stack:  # type: ignore[call-arg]
        body = b'{"id": "evt_1", "object": "event"}'
        assert _post(stack, body, sign(body, WEBHOOK_SECRET, int(time.time()))).status_code == 404


@pytest.mark.parametrize("outage", [503, 429])
def test_a_webhook_whose_intent_cannot_be_read_is_retried_by_stripe(
    sqlite_url: str, stripe_fake: FakeStripe, outage: int
) -> None:
    settings = payment_settings("stripe", stripe_api_base=stripe_fake.url, stripe_max_network_retries=0)
    with pay_stack(sqlite_url, settings, stripe=stripe_fake) as stack:
        home, order, body = _sca_order_and_its_event(stack, stripe_fake)
        stripe_fake.fail_next(outage)
        refused = _post(stack, body, sign(body, WEBHOOK_SECRET, int(time.time())))
        assert refused.status_code == 503
        assert stack.order(home, order["order_id"])["status"] == "requires_action"
        # Stripe delivers the same event again later; now it is applied.
        retried = _post(stack, body, sign(body, WEBHOOK_SECRET, int(time.time())))
        assert retried.json()["outcome"] == "applied"
        assert stack.order(home, order["order_id"])["status"] == "paid"
