"""The Stripe adapter against the local fake of Stripe's API: outcomes, idempotency and faults."""

from __future__ import annotations

import pytest

from freshtap.server.payments.provider import ChargeRequest, ProviderRejected, ProviderUnavailable
from freshtap.server.payments.stripe_provider import StripeProvider
from tests.payments.conftest import stripe_provider
from tests.payments.fake_stripe import AUTH_REQUIRED, DECLINED, VISA, FakeStripe


def _request(key: str = "freshtap-order-ord_1", method: str = VISA, amount: int = 1290) -> ChargeRequest:
    return ChargeRequest(
        idempotency_key=key,
        payment_method=method,
        amount_minor=amount,
        currency="CNY",
        description="freshtap order ord_1",
        order_id="ord_1",
        customer="cus_1",
    )


@pytest.fixture
def fake(stripe_fake: FakeStripe) -> FakeStripe:
    stripe_fake.add_customer("cus_1", VISA, DECLINED, AUTH_REQUIRED)
    return stripe_fake


def test_manual_capture_holds_then_captures_once(fake: FakeStripe) -> None:
    provider = stripe_provider(fake, capture="manual")
    held = provider.charge(_request())
    assert held.outcome == "authorized" and held.reference.startswith("pi_")
    sent = dict(fake.params)["/v1/payment_intents"]
    assert sent["confirm"] == "true" and sent["off_session"] == "true" and sent["capture_method"] == "manual"
    assert sent["customer"] == "cus_1" and sent["payment_method"] == VISA
    assert sent["metadata"]["order_id"] == "ord_1"
    assert provider.capture(held.reference, "freshtap-capture-ord_1").outcome == "succeeded"
    assert provider.capture(held.reference, "freshtap-capture-ord_1").outcome == "succeeded"  # replayed
    assert provider.capture(held.reference, "another-key").outcome == "succeeded"  # already captured: read
    assert fake.intents[held.reference]["amount_received"] == 1290


def test_automatic_capture_takes_the_money_and_refunds_it(fake: FakeStripe) -> None:
    provider = stripe_provider(fake, capture="automatic")
    paid = provider.charge(_request())
    assert paid.outcome == "succeeded"
    assert provider.refund(paid.reference, 1290, "freshtap-refund-ord_1").outcome == "refunded"
    assert provider.refund(paid.reference, 1290, "freshtap-refund-ord_1").outcome == "refunded"
    assert len(fake.refunds) == 1


def test_a_void_releases_a_held_authorisation(fake: FakeStripe) -> None:
    provider = stripe_provider(fake)
    held = provider.charge(_request())
    assert provider.void(held.reference, "freshtap-void-ord_1").outcome == "voided"
    assert provider.void(held.reference, "other").outcome == "voided"  # already cancelled: read
    assert fake.intents[held.reference]["cancellation_reason"] == "requested_by_customer"


def test_a_declined_card_is_declined_with_its_reason(fake: FakeStripe) -> None:
    result = stripe_provider(fake).charge(_request(method=DECLINED))
    assert result.outcome == "declined" and result.failure_reason == "generic_decline"
    assert fake.charges_taken() == 0


def test_authentication_required_gives_a_page_for_the_phone(fake: FakeStripe) -> None:
    provider = stripe_provider(fake)
    result = provider.charge(_request(method=AUTH_REQUIRED))
    assert result.outcome == "requires_action"
    assert result.next_action_url == f"{fake.url}/3ds/{result.reference}"
    # The off-session attempt, then the on-session confirmation with a return URL.
    calls = [(m, p) for m, p, _ in fake.requests]
    assert calls == [("POST", "/v1/payment_intents"), ("POST", f"/v1/payment_intents/{result.reference}/confirm")]
    # Asked again (recovery after a crash): the same PaymentIntent, still waiting, the same page.
    again = provider.charge(_request(method=AUTH_REQUIRED))
    assert (again.reference, again.outcome, again.next_action_url) == (
        result.reference,
        "requires_action",
        result.next_action_url,
    )
    fake.authenticate(result.reference)
    assert provider.retrieve(result.reference).outcome == "authorized"
    assert len(fake.intents) == 1


def test_failed_authentication_reads_as_declined(fake: FakeStripe) -> None:
    provider = stripe_provider(fake)
    result = provider.charge(_request(method=AUTH_REQUIRED))
    fake.authenticate(result.reference, approve=False)
    after = provider.retrieve(result.reference)
    assert after.outcome == "declined" and after.failure_reason == "payment_intent_authentication_failure"


def test_the_same_key_never_charges_twice(fake: FakeStripe) -> None:
    provider = stripe_provider(fake, capture="automatic")
    first, second = provider.charge(_request()), provider.charge(_request())
    assert first.reference == second.reference and len(fake.intents) == 1


def test_the_same_key_with_other_parameters_concludes_nothing(fake: FakeStripe) -> None:
    provider = stripe_provider(fake)
    provider.charge(_request())
    with pytest.raises(ProviderUnavailable, match="idempotency"):
        provider.charge(_request(amount=1))
    assert len(fake.intents) == 1


def test_a_5xx_before_execution_is_retried_with_the_same_key(fake: FakeStripe) -> None:
    fake.fail_next(503)
    result = stripe_provider(fake).charge(_request())
    assert result.outcome == "authorized" and len(fake.intents) == 1
    keys = [k for m, p, k in fake.requests if p == "/v1/payment_intents"]
    assert keys == ["freshtap-order-ord_1", "freshtap-order-ord_1"]


def test_a_timeout_after_the_charge_is_retried_and_replayed_not_charged_again(fake: FakeStripe) -> None:
    fake.delay_next(1.0)
    result = stripe_provider(fake, timeout_seconds=0.3).charge(_request())
    assert result.outcome == "authorized" and len(fake.intents) == 1
    assert len([p for _, p, _ in fake.requests if p == "/v1/payment_intents"]) >= 2


def test_rate_limits_and_outages_leave_the_outcome_unknown(fake: FakeStripe) -> None:
    fake.fail_next(429)
    with pytest.raises(ProviderUnavailable):
        stripe_provider(fake).charge(_request())
    fake.fail_next(500, count=3)
    with pytest.raises(ProviderUnavailable):
        stripe_provider(fake, max_network_retries=2).charge(_request())
    assert fake.intents == {}
    # Once Stripe answers again, the same key charges exactly once.
    assert stripe_provider(fake).charge(_request()).outcome == "authorized" and len(fake.intents) == 1


def test_a_wrong_api_key_is_unavailable_not_declined(fake: FakeStripe) -> None:
    broken = StripeProvider("sk_test_wrong", return_url="http://x/pay/return", api_base=fake.url)
    with pytest.raises(ProviderUnavailable):
        broken.charge(_request())
    assert fake.intents == {}


def test_a_missing_customer_is_refused(fake: FakeStripe) -> None:
    with pytest.raises(ProviderRejected):
        stripe_provider(fake).charge(ChargeRequest("k", VISA, 100, "CNY", "d", order_id="o", customer="cus_unknown"))
    with pytest.raises(ProviderRejected):
        stripe_provider(fake).charge(ChargeRequest("k2", VISA, 100, "CNY", "d", order_id="o", customer=None))
