"""20 taps at once with one Idempotency-Key, over real HTTP (uvicorn on loopback, 20 threads):
one order and one charge, on SQLite and PostgreSQL, with the sandbox and with Stripe's fake.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from freshtap.server.services.settlement import order_key
from tests.payments.conftest import live_server, pay_stack, payment_settings
from tests.payments.fake_stripe import FakeStripe

TAPS = 20


def _tap_together(base: str, password: str, proposal_id: str, key: str) -> list[httpx.Response]:
    barrier = threading.Barrier(TAPS)
    responses: list[httpx.Response] = []
    lock = threading.Lock()

    def tap() -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            barrier.wait()
            response = client.post(
                f"/api/v1/proposals/{proposal_id}/accept",
                headers={"Authorization": f"Bearer {password}", "Idempotency-Key": key},
                json={"expected_amount": {"amount_minor": 1290, "currency": "CNY"}},
            )
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=tap) for _ in range(TAPS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


@pytest.mark.parametrize("provider", ["sandbox", "stripe"])
def test_twenty_concurrent_taps_with_one_key_give_one_order_and_one_charge(
    database_url: str, provider: str, request: pytest.FixtureRequest
) -> None:
    fake: FakeStripe | None = request.getfixturevalue("stripe_fake") if provider == "stripe" else None
    settings = payment_settings(provider, **({"stripe_api_base": fake.url} if fake else {}))
    with pay_stack(database_url, settings, stripe=fake) as stack, live_server(stack.services) as base:
        home = stack.household()
        proposal = stack.proposal(home)
        responses = _tap_together(base, home.password, proposal, "one-tap")
        assert [r.status_code for r in responses] == [200] * TAPS, [r.text for r in responses if r.status_code != 200]
        bodies: list[dict[str, Any]] = [r.json() for r in responses]
        assert len({b["order_id"] for b in bodies}) == 1
        assert {b["status"] for b in bodies} <= {"pending", "paid"}
        (order,) = stack.orders_for(proposal)
        assert order.status == "paid"
        if fake is None:
            assert stack.sandbox_charges() == 1 == stack.sandbox_charges(order_key("charge", order.id))
        else:
            assert len(fake.intents) == 1 and len(fake.intents_for(order.id)) == 1
        # And a later tap with the same key still answers with that one order.
        again = httpx.post(
            f"{base}/api/v1/proposals/{proposal}/accept",
            headers={"Authorization": f"Bearer {home.password}", "Idempotency-Key": "one-tap"},
        )
        assert again.json()["order_id"] == order.id and again.json()["status"] == "paid"
