"""With an `expiring` offer on milk and yogurt, over a simulated week, 20 households order.

This file is the example in docs/testing-with-the-simulator.md (a test checks they are the same).
"""

from datetime import timedelta

import pytest

MILK = "09506000134352"  # Whole milk 1 L, as the simulated households stock it
YOGURT = "09506000211183"  # Greek yogurt 500 g


@pytest.fixture
def freshtap_clock_speed() -> float:
    return 30_000.0  # a simulated week in about 20 seconds


def test_a_week_of_expiring_offers(freshtap_merchant, freshtap_fleet):
    milk = freshtap_merchant.product(MILK, "Whole milk 1 L", "dairy", price_minor=1290)
    yogurt = freshtap_merchant.product(YOGURT, "Greek yogurt 500 g", "dairy", price_minor=1590)
    for product in (milk, yogurt):
        freshtap_merchant.offer(product, trigger={"kind": "expiring", "within_hours": 36})

    fleet = freshtap_fleet(20, seed=7, accept_probability=0.6)
    result = fleet.run_for(timedelta(days=7))

    assert result.offers_proposed >= 10
    assert result.orders_paid >= 5
    assert result.orders_paid == result.orders_placed  # every tap the server took was charged once
    assert result.taps_failed <= result.orders_placed // 10 + 2  # a tap can lose the race with a lapsing offer
    print(f"{result.orders_paid} orders from {result.households} households in a week; "
          f"{result.items_wasted} items thrown away past their date")
