"""One-tap purchase on the sandbox provider, through the HTTP API, on SQLite and PostgreSQL:
the cancellation window, the authentication page, the amount in the idempotency fingerprint.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlmodel import select

from freshtap.contract import Channel
from freshtap.server.store.models import Proposal
from freshtap.server.store.payments_models import SandboxRefund
from tests.payments.conftest import pay_stack, payment_settings


def _notices(stack_publisher: object, fridge_id: str) -> list[dict[str, object]]:
    sent = stack_publisher.sent  # type: ignore[attr-defined]
    return [json.loads(p)["body"] for f, c, p, _ in sent if f == fridge_id and c == Channel.NOTICES]


def test_a_tap_pays_shows_its_window_and_a_cancel_in_it_refunds(database_url: str) -> None:
    with pay_stack(database_url, payment_settings(cancel_window_seconds=300)) as stack:
        home = stack.household()
        proposal = stack.proposal(home)
        order = stack.tap(home, proposal, "tap-1", expected_amount={"amount_minor": 1290, "currency": "CNY"}).json()
        assert order["status"] == "paid" and order["payment"]["state"] == "succeeded"
        assert order["payment"]["authorized_by"] == "one_tap"
        until = datetime.fromisoformat(order["cancellable_until"])
        assert until == stack.clock.now() + timedelta(seconds=300)
        assert _notices(stack.publisher, home.fridge_id)[-1]["status"] == "paid"

        stack.clock.advance(timedelta(seconds=299))
        cancel = stack.client.post(f"/api/v1/orders/{order['order_id']}/cancel", headers=stack.as_(home.password))
        assert cancel.status_code == 200, cancel.text
        assert cancel.json()["status"] == "refunded" and cancel.json()["cancellable_until"] is None
        again = stack.client.post(f"/api/v1/orders/{order['order_id']}/cancel", headers=stack.as_(home.password))
        assert again.status_code == 200 and again.json()["status"] == "refunded"
        with stack.services.sessions() as session:
            assert len(session.exec(select(SandboxRefund)).all()) == 1
        assert stack.sandbox_charges() == 1
        assert _notices(stack.publisher, home.fridge_id)[-1]["status"] == "refunded"


def test_a_cancel_after_the_window_is_refused_and_changes_nothing(sqlite_url: str) -> None:
    with pay_stack(sqlite_url, payment_settings(cancel_window_seconds=60)) as stack:
        home = stack.household()
        order = stack.tap(home, stack.proposal(home), "tap-1").json()
        stack.clock.advance(timedelta(seconds=60))
        late = stack.client.post(f"/api/v1/orders/{order['order_id']}/cancel", headers=stack.as_(home.password))
        assert late.status_code == 409 and "window closed" in late.json()["detail"]
        after = stack.order(home, order["order_id"])
        assert after["status"] == "paid" and after["cancellable_until"] is None


def test_only_the_buying_household_may_cancel(sqlite_url: str) -> None:
    with pay_stack(sqlite_url) as stack:
        home, other = stack.household(), stack.household()
        order = stack.tap(home, stack.proposal(home), "tap-1").json()
        merchant = stack.merchant("M2")
        for token in (other.password, merchant.api_key):
            denied = stack.client.post(f"/api/v1/orders/{order['order_id']}/cancel", headers=stack.as_(token))
            assert denied.status_code == 404
        assert stack.order(home, order["order_id"])["status"] == "paid"


def test_authentication_on_the_phone_completes_the_order(database_url: str) -> None:
    with pay_stack(database_url) as stack:
        home = stack.household("pm_sandbox_sca")
        order = stack.tap(home, stack.proposal(home), "tap-1").json()
        assert order["status"] == "requires_action"
        url = order["payment"]["next_action_url"]
        assert url.startswith("http://testserver/pay/confirm/")
        assert _notices(stack.publisher, home.fridge_id)[-1]["next_action_url"].startswith("/pay/confirm/")
        page = stack.client.get(url)
        assert page.status_code == 200 and "12.90 CNY" in page.text
        assert stack.order(home, order["order_id"])["status"] == "requires_action"  # looking changes nothing

        done = stack.client.post(url, data={"decision": "approve"})
        assert done.status_code == 200 and "confirmed" in done.text
        paid = stack.order(home, order["order_id"])
        assert paid["status"] == "paid" and paid["payment"]["next_action_url"] is None
        # The page is single-use: a second answer changes nothing.
        stack.client.post(url, data={"decision": "refuse"})
        assert stack.order(home, order["order_id"])["status"] == "paid"
        assert "already" in stack.client.get(url).text
        assert stack.sandbox_charges() == 1


def test_refusing_on_the_phone_declines_and_bad_tokens_find_nothing(sqlite_url: str) -> None:
    with pay_stack(sqlite_url) as stack:
        home = stack.household("pm_sandbox_sca")
        order = stack.tap(home, stack.proposal(home), "tap-1").json()
        stack.client.post(order["payment"]["next_action_url"], data={"decision": "refuse"})
        declined = stack.order(home, order["order_id"])
        assert declined["status"] == "declined" and declined["payment"]["failure_reason"] == "authentication_failed"
        assert stack.client.get("/pay/confirm/not-a-real-token").status_code == 404
        assert stack.client.post("/pay/confirm/not-a-real-token", data={"decision": "approve"}).status_code == 404


def test_an_order_waiting_for_authentication_can_be_abandoned(sqlite_url: str) -> None:
    with pay_stack(sqlite_url) as stack:
        home = stack.household("pm_sandbox_sca")
        order = stack.tap(home, stack.proposal(home), "tap-1").json()
        cancel = stack.client.post(f"/api/v1/orders/{order['order_id']}/cancel", headers=stack.as_(home.password))
        assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
        # The phone comes too late: nothing is charged.
        stack.client.post(order["payment"]["next_action_url"], data={"decision": "approve"})
        assert stack.order(home, order["order_id"])["status"] == "cancelled"
        assert stack.services.payments.succeeded_charges() == 0  # type: ignore[attr-defined]


def test_recovery_abandons_authentication_that_never_comes(sqlite_url: str) -> None:
    with pay_stack(sqlite_url, payment_settings(action_timeout_hours=1)) as stack:
        home = stack.household("pm_sandbox_sca")
        order = stack.tap(home, stack.proposal(home), "tap-1").json()
        stack.clock.advance(timedelta(minutes=30))
        stack.services.orders.reconcile_pending(stack.clock.now())
        assert stack.order(home, order["order_id"])["status"] == "requires_action"
        stack.clock.advance(timedelta(minutes=31))
        stack.services.orders.reconcile_pending(stack.clock.now())
        gone = stack.order(home, order["order_id"])
        assert gone["status"] == "cancelled" and gone["payment"]["failure_reason"] == "authentication_timeout"


def test_the_same_key_with_another_amount_is_refused_and_charges_nothing(database_url: str) -> None:
    with pay_stack(database_url) as stack:
        home = stack.household()
        proposal = stack.proposal(home)
        shown = {"amount_minor": 1290, "currency": "CNY"}
        first = stack.tap(home, proposal, "tap-1", expected_amount=shown)
        assert first.status_code == 200
        assert stack.tap(home, proposal, "tap-1").json()["order_id"] == first.json()["order_id"]  # same amount
        for amount in ({"amount_minor": 1, "currency": "CNY"}, {"amount_minor": 1290, "currency": "EUR"}):
            other = stack.tap(home, proposal, "tap-1", expected_amount=amount)
            assert other.status_code == 422, other.text
            assert other.json()["type"].endswith("/idempotency-mismatch")
        assert stack.sandbox_charges() == 1 and len(stack.orders_for(proposal)) == 1


def test_a_stale_price_on_the_screen_is_refused_before_anything_happens(sqlite_url: str) -> None:
    with pay_stack(sqlite_url) as stack:
        home = stack.household()
        proposal = stack.proposal(home)
        stale = stack.tap(home, proposal, "tap-1", expected_amount={"amount_minor": 990, "currency": "CNY"})
        assert stale.status_code == 422 and "nothing was charged" in stale.json()["detail"]
        assert stack.sandbox_charges() == 0 and stack.orders_for(proposal) == []
        with stack.services.sessions() as session:
            live = session.get(Proposal, proposal)
            assert live is not None and live.status == "live"
        # The same key may then be used with the right amount.
        assert (
            stack.tap(home, proposal, "tap-1", expected_amount={"amount_minor": 1290, "currency": "CNY"}).json()[
                "status"
            ]
            == "paid"
        )


def test_accept_refuses_unknown_body_fields(sqlite_url: str) -> None:
    with pay_stack(sqlite_url) as stack:
        home = stack.household()
        proposal = stack.proposal(home)
        sneaky = stack.tap(home, proposal, "tap-1", amount_minor=1)
        assert sneaky.status_code == 422 and sneaky.json()["errors"][0]["loc"][-1] == "amount_minor"
        assert stack.sandbox_charges() == 0
