"""Recovery beyond the charge: outages at the tap, lost webhooks, crashes while cancelling, and the
capture job racing a last-second cancel.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from freshtap.server.payments.provider import ChargeResult
from freshtap.server.security.credentials import FridgeCaller
from tests.payments.conftest import (
    CrashAfterCharge,
    SimulatedCrash,
    pay_stack,
    payment_settings,
    stripe_provider,
)
from tests.payments.fake_stripe import AUTH_REQUIRED, FakeStripe


class CrashAfterCancel(CrashAfterCharge):
    """Voids and refunds, then 'crashes' before the caller records it."""

    def void(self, reference: str, idempotency_key: str) -> ChargeResult:
        result = self.inner.void(reference, idempotency_key)
        if self.armed:
            raise SimulatedCrash("crashed after voiding")
        return result


def _stripe(sqlite_url: str, fake: FakeStripe, provider: CrashAfterCharge | None = None, **settings: object):  # type: ignore[no-untyped-def]
    inner = stripe_provider(fake)
    return pay_stack(
        sqlite_url,
        payment_settings("stripe", stripe_api_base=fake.url, **settings),
        payments=provider or inner,
        stripe=fake,
    )


def test_a_provider_outage_at_the_tap_leaves_the_order_pending_until_recovery(
    sqlite_url: str, stripe_fake: FakeStripe
) -> None:
    with _stripe(sqlite_url, stripe_fake) as stack:
        home = stack.household()
        stripe_fake.fail_next(503, count=3)  # the first try and both retries
        tapped = stack.tap(home, stack.proposal(home), "tap-1")
        assert tapped.status_code == 200 and tapped.json()["status"] == "pending"
        assert stripe_fake.intents == {}
        stack.clock.advance(timedelta(minutes=3))
        stack.services.orders.reconcile_pending(stack.clock.now() - timedelta(minutes=2))
        assert stack.order(home, tapped.json()["order_id"])["status"] == "paid"
        assert len(stripe_fake.intents) == 1


def test_a_lost_webhook_is_made_up_for_by_asking_stripe(sqlite_url: str, stripe_fake: FakeStripe) -> None:
    with _stripe(sqlite_url, stripe_fake) as stack:  # the fake has no webhook URL: every event is lost
        home = stack.household(AUTH_REQUIRED)
        order = stack.tap(home, stack.proposal(home), "tap-1").json()
        stripe_fake.authenticate(order["payment"]["reference"])
        assert stack.order(home, order["order_id"])["status"] == "requires_action"
        stack.clock.advance(timedelta(minutes=3))
        stack.services.orders.reconcile_pending(stack.clock.now() - timedelta(minutes=2))
        assert stack.order(home, order["order_id"])["status"] == "paid"


def test_a_crash_after_voiding_is_finished_by_recovery_and_nothing_is_captured(
    sqlite_url: str, stripe_fake: FakeStripe
) -> None:
    crashing = CrashAfterCancel(stripe_provider(stripe_fake))
    crashing.armed = False
    with _stripe(sqlite_url, stripe_fake, crashing, cancel_window_seconds=300) as stack:
        home = stack.household()
        order = stack.tap(home, stack.proposal(home), "tap-1").json()
        crashing.armed = True
        caller = FridgeCaller(home.fridge_id, home.household_id)
        with pytest.raises(SimulatedCrash):
            stack.services.orders.cancel(caller, order["order_id"])
        assert stack.order(home, order["order_id"])["status"] == "paid"  # not recorded yet
        crashing.armed = False
        # The window closes before recovery runs: the claimed cancel still wins over the capture.
        stack.clock.advance(timedelta(minutes=10))
        stack.services.orders.reconcile_pending(stack.clock.now() - timedelta(minutes=2))
        assert stack.order(home, order["order_id"])["status"] == "cancelled"
        assert stripe_fake.charges_taken() == 0
        assert [p for m, p, k in stripe_fake.requests if p.endswith("/capture")] == []


def test_the_capture_job_and_a_last_second_cancel_cannot_both_win(sqlite_url: str, stripe_fake: FakeStripe) -> None:
    with _stripe(sqlite_url, stripe_fake, cancel_window_seconds=300) as stack:
        home = stack.household()
        caller = FridgeCaller(home.fridge_id, home.household_id)
        settlement = stack.services.orders.settlement
        # A cancel claimed first: the capture steps aside.
        first = stack.tap(home, stack.proposal(home), "a").json()
        assert settlement.claim_cancel(first["order_id"])
        assert settlement.capture(first["order_id"]) is None
        # A capture begun first: the cancel is refused, even inside the window.
        second = stack.tap(home, stack.proposal(home), "b").json()
        view = settlement.capture(second["order_id"])
        assert view is not None and view.order.payment_state == "succeeded"
        refused = stack.client.post(f"/api/v1/orders/{second['order_id']}/cancel", headers=stack.as_(home.password))
        assert refused.status_code == 409
        assert (
            stack.services.orders.view_for(second["order_id"], household_id=caller.household_id).order.status == "paid"
        )


def test_capture_waits_for_the_window(sqlite_url: str, stripe_fake: FakeStripe) -> None:
    with _stripe(sqlite_url, stripe_fake, cancel_window_seconds=300) as stack:
        home = stack.household()
        order = stack.tap(home, stack.proposal(home), "tap-1").json()
        stack.clock.advance(timedelta(seconds=299))
        stack.services.orders.reconcile_pending(stack.clock.now())
        assert stack.order(home, order["order_id"])["payment"]["state"] == "authorized"
        stack.clock.advance(timedelta(seconds=1))
        stack.services.orders.reconcile_pending(stack.clock.now())
        assert stack.order(home, order["order_id"])["payment"]["state"] == "succeeded"
        assert stripe_fake.charges_taken() == 1
