"""Acceptance: the door screen in Chromium, served by a real agent, against a real server.

The stack is the embedded default (amqtt + SQLite, `tests/stack.py`); the fridge is provisioned in
the server's store, the merchant's product and `expiring` offer are made over HTTP, and a real
`FridgeAgent` holds the inventory. The page must show the items in their freshness colours, show the
server's offer when it arrives without being reloaded, turn a tap on Buy (after the undo window)
into a paid order on the server, and show the offline banner when the broker goes away.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, func, select

from freshtap.clock import SystemClock
from freshtap.contract import InventoryItem
from freshtap.device import AgentConfig, FridgeAgent
from freshtap.device.screen import DoorScreen, ScreenConfig
from freshtap.server.services.accounts import create_merchant, provision_fridge
from freshtap.server.store.models import Order
from tests.stack import Stack, make_stack

pytestmark = pytest.mark.services

MILK_GTIN = "09506000134352"
STATE_COLOURS = {"fresh": "--fresh", "use_soon": "--use-soon", "expiring": "--expiring", "expired": "--expired"}
FAST_UPLINK = {"reconnect_min_delay": 1, "reconnect_max_delay": 2, "reconnect_jitter": 0.2, "stop_timeout": 3.0}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with make_stack("amqtt+sqlite", tmp_path, f"sqlite:///{tmp_path / 'freshtap.db'}") as made:
        made.start()
        yield made


def _item(item_id: str, name: str, category: str, label_in_days: int, gtin: str | None = None) -> InventoryItem:
    now = datetime.now(UTC).replace(microsecond=0)
    return InventoryItem(
        item_id=item_id, gtin=gtin, name=name, category=category, added_at=now - timedelta(days=1),
        label_expiry=(now + timedelta(days=label_in_days)).date(), expiry_kind="expiry", fill=0.5,
    )


def _merchant_offer(stack: Stack) -> str:
    assert stack.runtime is not None
    services = stack.runtime.services
    merchant = create_merchant(services.sessions, services.clock, "Corner Dairy")
    with stack.client(merchant.api_key) as api:
        product = api.post("/api/v1/products", json={"gtin": MILK_GTIN, "name": "Whole milk 1 L", "category": "dairy",
                                                     "price": {"amount_minor": 1290, "currency": "CNY"}})
        assert product.status_code == 201, product.text
        offer = api.post("/api/v1/offers", json={"product_id": product.json()["id"], "match": {"gtin": MILK_GTIN},
                                                 "trigger": {"kind": "expiring", "within_hours": 48}})
        assert offer.status_code == 201, offer.text
    return str(offer.json()["id"])


def test_door_screen_against_a_running_agent_and_server(stack: Stack, chromium: Any, tmp_path: Path) -> None:
    assert stack.runtime is not None
    services = stack.runtime.services
    fridge = provision_fridge(services.sessions, services.clock, household_name="Lin family",
                              payment_method="pm_sandbox_ok")
    _merchant_offer(stack)
    agent = FridgeAgent(
        AgentConfig(fridge.fridge_id, fridge.username, fridge.password, stack.runtime.mqtt_url, tmp_path / "agent",
                    uplink_options=FAST_UPLINK),
        SystemClock(),
    )
    for item in (
        _item("milk", "Whole milk 1 L", "dairy", 1, MILK_GTIN),
        _item("yogurt", "Greek yogurt", "yogurt", 3),
        _item("ham", "Sliced ham", "deli meat", -2),
        _item("cheese", "Cheddar", "hard cheese", 30),
    ):
        agent.add_item(item)
    screen = DoorScreen(agent, SystemClock(), ScreenConfig(
        port=0, server_url=stack.http, password=fridge.password, state_dir=tmp_path / "screen", undo_seconds=2.0,
        poll_seconds=0.25, server_refresh_seconds=1.0, order_poll_seconds=0.5,
    ))
    agent.start()
    screen.start()
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    try:
        assert agent.wait_online(10)
        page.goto(screen.url)
        # Items in their freshness colours (the legend's colour for the state the tile says).
        for item_id, state in {"milk": "expiring", "yogurt": "use_soon", "ham": "expired", "cheese": "fresh"}.items():
            tile = page.locator(f"[data-item-id='{item_id}']")
            tile.wait_for()
            assert tile.get_attribute("data-state") == state, item_id
            colour = page.evaluate(
                "([sel, v]) => { const probe = document.createElement('i'); probe.style.setProperty('color', "
                "getComputedStyle(document.documentElement).getPropertyValue(v)); document.body.append(probe); "
                "const c = getComputedStyle(probe).color; probe.remove(); "
                "return [getComputedStyle(document.querySelector(sel)).borderLeftColor, c]; }",
                [f"[data-item-id='{item_id}']", STATE_COLOURS[state]],
            )
            assert colour[0] == colour[1], (item_id, colour)
        assert len({page.locator(f"[data-item-id='{i}']").evaluate("e => getComputedStyle(e).borderLeftColor")
                    for i in ("milk", "yogurt", "ham", "cheese")}) == 4
        page.locator("#offer-list .hint").wait_for()
        assert page.locator(".offer").count() == 0
        page.evaluate("window.__notReloaded = true")

        # The fridge reports its inventory; the server's offer reaches the open page by itself.
        agent.publish_inventory()
        card = page.locator(".offer").first
        card.wait_for(timeout=20_000)
        assert page.evaluate("window.__notReloaded === true")
        assert "Whole milk 1 L expires in" in card.locator(".reason").inner_text()
        assert "CN¥12.90" in card.locator("button.buy").inner_text()
        # The server's freshness, with its explanation, replaces the fridge's own once fetched.
        page.locator("[data-item-id='milk'][data-source='server']").wait_for(timeout=10_000)
        page.click("[data-item-id='milk']")
        assert "label" in page.locator("#dialog-explanation").inner_text()
        page.click("#dialog-close")

        # One tap: the undo window, then a paid order on the server, shown on the screen.
        card.locator("button.buy").click()
        page.locator(".offer button.undo").wait_for()
        paid = page.locator(".order[data-status='paid']")
        paid.wait_for(timeout=20_000)
        order_id = paid.get_attribute("data-order-id")
        assert order_id
        with stack.client(fridge.password) as household:
            order = household.get(f"/api/v1/orders/{order_id}")
            assert order.status_code == 200 and order.json()["status"] == "paid"
            # The screen's key was used: the same proposal with another key is refused.
            again = household.post(f"/api/v1/proposals/{order.json()['proposal_id']}/accept",
                                   headers={"Idempotency-Key": str(uuid.uuid4())})
            assert again.status_code == 409
        with Session(services.engine) as session:
            assert session.exec(select(func.count()).select_from(Order)).one() == 1
        page.locator("#offer-list .hint").wait_for(timeout=10_000)  # the accepted offer left the list

        # The broker goes away: the banner, and the fridge's own knowledge stays on screen.
        assert page.locator("#offline-banner").is_hidden()
        stack.runtime.broker.stop()  # type: ignore[union-attr]
        page.locator("#offline-banner").wait_for(state="visible", timeout=15_000)
        assert page.locator("[data-item-id]").count() == 4
        assert page.locator("[data-item-id='ham']").get_attribute("data-state") == "expired"
    finally:
        context.close()
        screen.stop()
        agent.stop(3)
