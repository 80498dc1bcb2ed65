"""The one-tap spending limit and PIN, through the HTTP API."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlmodel import select

from freshtap.server.domain.limits import PinLocked, PinWrong
from freshtap.server.store.payments_models import SpendingLimit
from tests.payments.conftest import PayStack, pay_stack, payment_settings

LIMITS = "/api/v1/households/me/limits"


def _put(stack: PayStack, password: str, body: dict[str, Any], pin: str | None = None) -> Any:
    headers = stack.as_(password)
    if pin is not None:
        headers["X-Freshtap-PIN"] = pin
    return stack.client.put(LIMITS, headers=headers, json=body)


def test_above_the_limit_without_a_pin_is_refused_and_nothing_is_charged(sqlite_url: str) -> None:
    with pay_stack(sqlite_url) as stack:
        home = stack.household()
        proposal = stack.proposal(home, price=1290)
        assert _put(stack, home.password, {"per_order": {"amount_minor": 1000, "currency": "CNY"}}).status_code == 200
        refused = stack.tap(home, proposal, "tap-1")
        assert refused.status_code == 403 and refused.json()["type"].endswith("/over-limit")
        assert stack.sandbox_charges() == 0 and stack.orders_for(proposal) == []
        # Raising the limit lets the same tap (same key) through.
        _put(stack, home.password, {"per_order": {"amount_minor": 1290, "currency": "CNY"}})
        assert stack.tap(home, proposal, "tap-1").json()["status"] == "paid"


def test_the_pin_allows_a_tap_above_the_limit_and_wrong_pins_lock_it(sqlite_url: str) -> None:
    with pay_stack(sqlite_url, payment_settings(pin_max_attempts=3, pin_lockout_seconds=600)) as stack:
        home = stack.household()
        proposal = stack.proposal(home)
        limits = {"per_order": {"amount_minor": 500, "currency": "CNY"}, "pin": "4821"}
        set_ = _put(stack, home.password, limits)
        assert set_.status_code == 200 and set_.json()["pin_set"] is True
        with stack.services.sessions() as session:
            row = session.exec(select(SpendingLimit)).one()
            assert row.pin_hash is not None and "4821" not in row.pin_hash  # hashed, never stored

        asked = stack.tap(home, proposal, "tap-1")
        assert asked.status_code == 403 and asked.json()["type"].endswith("/pin-required")
        wrong = stack.tap(home, proposal, "tap-1", pin="0000")
        assert wrong.status_code == 403 and "2 attempts left" in wrong.json()["detail"]
        assert stack.tap(home, proposal, "tap-1", pin="1111").json()["type"].endswith("/pin-wrong")
        locked = stack.tap(home, proposal, "tap-1", pin="2222")
        assert locked.status_code == 429 and locked.json()["type"].endswith("/pin-locked")
        # Locked: even the right PIN is refused, until the lockout ends.
        assert stack.tap(home, proposal, "tap-1", pin="4821").status_code == 429
        assert stack.sandbox_charges() == 0
        stack.clock.advance(timedelta(seconds=601))
        order = stack.client.post(
            f"/api/v1/proposals/{proposal}/accept",
            headers={**stack.as_(home.password), "Idempotency-Key": "tap-1", "X-Freshtap-PIN": "4821"},
        ).json()
        assert order["status"] == "paid" and order["payment"]["authorized_by"] == "pin"


def test_the_weekly_limit_counts_live_orders_of_the_rolling_week(sqlite_url: str) -> None:
    with pay_stack(sqlite_url) as stack:
        home = stack.household()
        _put(stack, home.password, {"per_week": {"amount_minor": 3000, "currency": "CNY"}})
        first, second = stack.tap(home, stack.proposal(home), "a").json(), stack.tap(home, stack.proposal(home), "b")
        assert first["status"] == "paid" and second.json()["status"] == "paid"  # 2 x 12.90 = 25.80
        third = stack.proposal(home)
        assert stack.tap(home, third, "c").json()["type"].endswith("/over-limit")
        view = stack.client.get(LIMITS, headers=stack.as_(home.password)).json()
        assert view["spent_this_week"] == {"amount_minor": 2580, "currency": "CNY"}
        # A refunded order no longer counts...
        stack.client.post(f"/api/v1/orders/{first['order_id']}/cancel", headers=stack.as_(home.password))
        assert stack.tap(home, third, "c").json()["status"] == "paid"
        # ... and a week later the old ones drop out.
        fourth = stack.proposal(home)
        assert stack.tap(home, fourth, "d").status_code == 403
        stack.clock.advance(timedelta(days=7))
        assert stack.tap(home, fourth, "d").json()["status"] == "paid"


def test_changing_limits_needs_the_current_pin(sqlite_url: str) -> None:
    with pay_stack(sqlite_url) as stack:
        home = stack.household()
        _put(stack, home.password, {"per_order": {"amount_minor": 500, "currency": "CNY"}, "pin": "4821"})
        lift = {"per_order": {"amount_minor": 100_000, "currency": "CNY"}}
        assert _put(stack, home.password, lift).json()["type"].endswith("/pin-required")
        assert _put(stack, home.password, lift, pin="9999").json()["type"].endswith("/pin-wrong")
        kept = _put(stack, home.password, lift, pin="4821")
        assert kept.status_code == 200 and kept.json()["pin_set"] is True  # `pin` left out: kept
        assert kept.json()["per_order"] == {"amount_minor": 100_000, "currency": "CNY"}
        removed = _put(stack, home.password, {"pin": None, "current_pin": "4821"})
        assert removed.json() == {
            "per_order": None,
            "per_week": None,
            "spent_this_week": None,
            "pin_set": False,
            "pin_locked_until": None,
        }
        assert _put(stack, home.password, {"pin": "12"}).status_code == 422  # 4-8 digits
        assert _put(stack, home.password, {"per_order": {"amount_minor": -1, "currency": "CNY"}}).status_code == 422


def test_limits_belong_to_households_only(sqlite_url: str) -> None:
    with pay_stack(sqlite_url) as stack:
        merchant = stack.merchant()
        assert stack.client.get(LIMITS, headers=stack.as_(merchant.api_key)).status_code == 404
        assert stack.client.put(LIMITS, headers=stack.as_(merchant.api_key), json={}).status_code == 404
        assert stack.client.get(LIMITS).status_code == 401


def test_parallel_pin_guesses_get_no_more_tries_than_the_limit(database_url: str) -> None:
    with pay_stack(database_url, payment_settings(pin_max_attempts=5)) as stack:
        home = stack.household()
        _put(stack, home.password, {"per_order": {"amount_minor": 1, "currency": "CNY"}, "pin": "4821"})
        limits = stack.services.orders.limits
        barrier = threading.Barrier(20)
        outcomes: list[str] = []
        lock = threading.Lock()

        def guess(n: int) -> None:
            barrier.wait()
            try:
                limits.verify_pin(home.household_id, f"{1000 + n}")
                result = "right"
            except PinWrong:
                result = "wrong"
            except PinLocked as exc:
                # Only the guess that used the last attempt compared a PIN; the rest were refused unseen.
                result = "locked-now" if "the last attempt" in exc.detail else "refused"
            with lock:
                outcomes.append(result)

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        checked = outcomes.count("wrong") + outcomes.count("locked-now")
        assert outcomes.count("right") == 0 and len(outcomes) == 20
        assert checked <= 5, outcomes  # at most five PINs were ever compared
        view = stack.client.get(LIMITS, headers=stack.as_(home.password)).json()
        assert view["pin_locked_until"] is not None
