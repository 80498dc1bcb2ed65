"""The pytest plugin's fixtures, as an integrator uses them: server, broker, merchant, fleet, result."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from freshtap.contract import InventoryMessage
from freshtap.simulator.catalog import CATALOG
from freshtap.simulator.pytest_plugin import FleetFactory, FreshtapBroker, FreshtapMerchant, FreshtapServer


def offer_everything(merchant: FreshtapMerchant) -> None:
    for entry in CATALOG:
        product = merchant.product(entry.gtin, entry.name, entry.category, price_minor=990)
        merchant.offer(product, trigger={"kind": "expiring", "within_hours": 48})


def test_the_plugin_is_registered_and_imports_nothing_heavy(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.hasplugin("freshtap")
    probe = (
        "import sys, freshtap.simulator.pytest_plugin\n"
        "heavy = [m for m in ('freshtap.server', 'fastapi', 'sqlalchemy', 'sqlmodel', 'uvicorn', 'amqtt')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_merchant_helpers_create_and_refuse(freshtap_merchant: FreshtapMerchant, freshtap_server: FreshtapServer) -> None:
    milk = CATALOG[0]
    product = freshtap_merchant.product(milk.gtin, milk.name, milk.category, price_minor=1290)
    offer = freshtap_merchant.offer(product, trigger={"kind": "low_fill", "below": 0.25}, max_per_household_per_week=2)
    assert offer["product_id"] == product["id"] and offer["match"] == {"gtin": milk.gtin}
    assert offer["max_per_household_per_week"] == 2
    by_category = freshtap_merchant.offer(product["id"], trigger={"kind": "expiring", "within_hours": 24},
                                          match={"category": "dairy"})
    assert by_category["match"] == {"category": "dairy"}
    with pytest.raises(ValueError, match="match="):
        freshtap_merchant.offer(product["id"], trigger={"kind": "expiring", "within_hours": 24})
    with pytest.raises(AssertionError, match="409"):  # one product per GTIN
        freshtap_merchant.product(milk.gtin, milk.name, milk.category, price_minor=1290)
    listed = freshtap_merchant.client.get("/api/v1/offers").json()
    assert {o["id"] for o in listed} == {offer["id"], by_category["id"]}
    with freshtap_server.client() as anonymous:
        assert anonymous.get("/api/v1/offers").status_code == 401


def test_households_buy_and_a_declined_card_is_counted(
    freshtap_merchant: FreshtapMerchant, freshtap_fleet: FleetFactory, freshtap_broker: FreshtapBroker
) -> None:
    offer_everything(freshtap_merchant)
    buyers = freshtap_fleet(3, seed=1, accept_probability=1.0)
    with freshtap_broker.observer(buyers.fridge_ids[0]) as bus:
        declined = freshtap_fleet(2, seed=2, accept_probability=1.0, payment_method="pm_sandbox_declined")
        seen = bus.wait_for(lambda s: any(isinstance(o.message, InventoryMessage) for o in s), 15)
    assert all(o.violation is None for o in seen)
    assert {o.message.fridge_id for o in seen if o.message is not None} == {buyers.fridge_ids[0]}

    bought = buyers.wait_until(lambda r: r.orders_paid >= 3, timeout=60)
    refused = declined.wait_until(lambda r: r.orders_declined >= 2, timeout=60)
    assert bought.orders_declined == 0 and refused.orders_paid == 0
    assert bought.offers_proposed >= bought.orders_paid and bought.offers_seen >= bought.orders_placed
    assert bought.messages_ingested > 0 and bought.messages_published >= bought.households

    final = buyers.run_for(buyers.result().simulated)  # already past: stops at once
    assert final.orders_paid == final.orders_placed >= 3  # each tap charged once, and only these households'
    assert final.households == 3 and final.orders_per_household == final.orders_paid / 3
    assert not buyers.fleet.stats.fridges_online


def test_an_outside_project_gets_the_fixtures_from_the_entry_point(tmp_path: Path) -> None:
    (tmp_path / "test_outside.py").write_text(textwrap.dedent('''
        from freshtap.simulator.catalog import CATALOG

        def test_one_household(freshtap_merchant, freshtap_fleet, freshtap_clock):
            for entry in CATALOG:  # every product the simulated households stock
                product = freshtap_merchant.product(entry.gtin, entry.name, entry.category, price_minor=990)
                freshtap_merchant.offer(product, trigger={"kind": "expiring", "within_hours": 72})
            fleet = freshtap_fleet(1, seed=3, accept_probability=1.0)
            result = fleet.wait_until(lambda r: r.orders_paid >= 1, timeout=60)
            assert result.households == 1 and result.offers_proposed >= 1
            assert freshtap_clock.speed == 7200.0
    '''))
    (tmp_path / "pytest.ini").write_text("[pytest]\nfreshtap_clock_speed = 7200\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
