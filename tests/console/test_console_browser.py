"""Acceptance: the merchant console in Chromium, against a real server, broker and database.

The stack is the embedded default (amqtt + SQLite, `tests/stack.py`) with the server on loopback.
A provisioned fridge reports its inventory over MQTT; the merchant signs in with an API key,
creates a product and an offer while the live preview lists the fridge's item, watches the
household's tap arrive as an order without reloading, marks it shipped, and sees the funnel drawn
by Chart.js. The page's CSP (no inline code, no other origin) holds throughout: any violation or
script error fails the test.

Set FRESHTAP_SCREENSHOTS=1 to refresh docs/screenshots/console-*.png from this run.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from freshtap.contract import Channel, InventoryBody, InventoryItem, InventoryMessage, encode, topic
from freshtap.server.services.accounts import ProvisionedFridge, create_merchant, provision_fridge
from freshtap.server.store.models import Fridge
from tests.stack import Stack, make_stack, wait_until

pytestmark = pytest.mark.services

MILK_GTIN = "09506000134352"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with make_stack("amqtt+sqlite", tmp_path, f"sqlite:///{tmp_path / 'freshtap.db'}") as made:
        made.start()
        yield made


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1360, "height": 900}, locale="en-US")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(msg: Any) -> None:
        # CSP violations and script errors count; an HTTP error answer (the console shows those) does not.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            problems.append(f"console {msg.type}: {msg.text}")

    page.on("console", on_console)
    page.problems = problems
    try:
        yield page
    finally:
        context.close()


def _screenshot(page: Any, name: str) -> None:
    if os.environ.get("FRESHTAP_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


def _publish_inventory(stack: Stack, fridge: ProvisionedFridge, seq: int) -> None:
    """The fridge reports a bottle of milk that expires tomorrow, through the real broker (QoS 1)."""
    now = datetime.now(UTC).replace(microsecond=0)
    milk = InventoryItem(
        item_id="milk-1", gtin=MILK_GTIN, name="Whole milk 1 L", category="dairy", fill=0.4,
        added_at=now - timedelta(days=2), label_expiry=(now + timedelta(days=1)).date(), expiry_kind="expiry",
    )
    message = InventoryMessage(type="inventory", fridge_id=fridge.fridge_id, seq=seq, at=now,
                               body=InventoryBody(items=[milk]))
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=fridge.fridge_id, protocol=mqtt.MQTTv311)
    client.username_pw_set(fridge.username, fridge.password)
    client.on_connect = lambda *_args: connected.set()
    client.connect("127.0.0.1", stack.mqtt_port)
    client.loop_start()
    try:
        assert connected.wait(10)
        info = client.publish(topic(fridge.fridge_id, Channel.INVENTORY), encode(message), qos=1)
        info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
    with stack.client(fridge.password) as household:
        wait_until(lambda: household.get(f"/api/v1/fridges/{fridge.fridge_id}/inventory").json().get("items"))
        # Applied (and its offers planned) once it is the newest snapshot the server holds.
        wait_until(lambda: stack_seq(stack, fridge.fridge_id) == seq)


def stack_seq(stack: Stack, fridge_id: str) -> int | None:
    assert stack.runtime is not None
    with stack.runtime.services.sessions() as session:
        found = session.get(Fridge, fridge_id)
        return found.inventory_seq if found is not None else None


def _sign_in(page: Any, stack: Stack, api_key: str) -> None:
    page.goto(f"{stack.http}/console")
    page.locator("#signin-form").wait_for()
    page.fill("#api-key", api_key)
    page.click("#sign-in")
    page.locator("#topbar").wait_for(state="visible")


def test_create_an_offer_see_its_preview_see_the_order_arrive_and_ship_it(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    assert stack.runtime is not None
    services = stack.runtime.services
    merchant = create_merchant(services.sessions, services.clock, "Corner Dairy")
    fridge = provision_fridge(services.sessions, services.clock, household_name="Lin family",
                              payment_method="pm_sandbox_ok")
    _publish_inventory(stack, fridge, seq=1)
    # A second household has the same milk but muted dairy offers: the preview says it is held back.
    muted = provision_fridge(services.sessions, services.clock, household_name="Wang family",
                             payment_method="pm_sandbox_ok")
    _publish_inventory(stack, muted, seq=1)
    with stack.client(muted.password) as household:
        preferences = household.put("/api/v1/households/me/offer-preferences",
                                    json={"opted_in": True, "muted_categories": ["dairy"]})
        assert preferences.status_code == 200, preferences.text

    _sign_in(page, stack, merchant.api_key)
    expect(page.locator("#merchant-name")).to_contain_text("Corner Dairy")
    cookie = next(c for c in page.context.cookies() if c["name"] == "freshtap_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    loaded_at = page.locator("body").get_attribute("data-loaded-at")

    # Products: create one through the form.
    page.click("a[href='#products']")
    page.fill("#product-gtin", MILK_GTIN)
    page.fill("#product-name", "Whole milk 1 L")
    page.fill("#product-category", "dairy")
    page.fill("#product-price", "12.90")
    page.click("#product-form button[type=submit]")
    row = page.locator("#product-table tr[data-product-id]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("CN¥12.90")
    product_id = row.get_attribute("data-product-id")

    # Offers: the live preview follows the form as it changes.
    page.click("a[href='#offers']")
    page.select_option("#offer-product", product_id)
    expect(page.locator("#offer-match-value")).to_have_value(MILK_GTIN)
    match = page.locator(f"#preview-list li[data-fridge-id='{fridge.fridge_id}'][data-item-id='milk-1']")
    expect(match).to_have_attribute("data-eligible", "true", timeout=10_000)
    expect(match).to_contain_text("Whole milk 1 L")
    expect(match.locator(".reason")).to_contain_text("expires in")
    held_back = page.locator(f"#preview-list li[data-fridge-id='{muted.fridge_id}']")
    expect(held_back).to_have_attribute("data-eligible", "false")
    expect(held_back).to_have_attribute("data-blocked-by", "muted")
    expect(held_back.locator(".verdict")).to_contain_text("category muted by the household")
    expect(page.locator("#preview-summary")).to_have_attribute("data-eligible", "1")
    _screenshot(page, "offers")
    page.fill("#offer-trigger-value", "2")  # milk expiring within 2 h: tomorrow's bottle no longer matches
    expect(page.locator("#preview-list li")).to_have_count(0)
    expect(page.locator("#preview-summary")).to_have_attribute("data-eligible", "0")
    page.fill("#offer-trigger-value", "48")
    expect(match).to_have_attribute("data-eligible", "true")
    page.click("#offer-form button[type=submit]")
    expect(page.locator("#offer-message")).to_contain_text("created")
    expect(page.locator("#offer-table tr[data-offer-id]")).to_have_count(1)

    # Orders: empty, until the household taps Buy on its door (over HTTP, as the screen does). The
    # fridge's next report meets the new offer (a new offer's wake-up otherwise waits for the next tick).
    page.click("a[href='#orders']")
    expect(page.locator("#orders-empty")).to_be_visible()
    _publish_inventory(stack, fridge, seq=2)
    with stack.client(fridge.password) as household:
        def live_offer() -> Any:
            offers = household.get(f"/api/v1/fridges/{fridge.fridge_id}/offers").json()["body"]["offers"]
            return offers[0]["proposal_id"] if offers else None

        proposal_id = wait_until(live_offer, timeout=15)
        tap = household.post(f"/api/v1/proposals/{proposal_id}/accept",
                             headers={"Idempotency-Key": str(uuid.uuid4())})
        assert tap.status_code == 200, tap.text
        order_id = tap.json()["order_id"]
    order_row = page.locator(f"#order-table tr[data-order-id='{order_id}']")
    expect(order_row).to_have_attribute("data-status", "paid", timeout=15_000)
    expect(order_row).to_contain_text("Whole milk 1 L")
    assert page.locator("body").get_attribute("data-loaded-at") == loaded_at  # arrived without a reload

    # Mark it shipped.
    order_row.click()
    expect(page.locator("#order-detail")).to_have_attribute("data-order-id", order_id)
    page.fill("#shipment-carrier", "SF Express")
    page.fill("#shipment-tracking", "SF1234567890")
    page.select_option("#shipment-status", "in_transit")
    page.click("#mark-shipped")
    expect(order_row).to_have_attribute("data-status", "shipped", timeout=10_000)
    expect(page.locator("#shipment-list li[data-status='in_transit']")).to_contain_text("SF1234567890")
    _screenshot(page, "orders")
    with stack.client(merchant.api_key) as api:
        assert api.get(f"/api/v1/orders/{order_id}").json()["status"] == "shipped"

    # The funnel: drawn by Chart.js from the merchant's numbers.
    page.click("a[href='#funnel']")
    canvas = page.locator("#funnel-chart")
    expect(canvas).to_have_attribute("data-chart-ready", "true")
    expect(canvas).to_have_attribute("data-bars", "7")
    expect(canvas).to_have_attribute("data-values", "1,1,1,0,0,0,0")
    expect(page.locator("#funnel-table tr[data-stage='accepted']")).to_contain_text("1")
    _screenshot(page, "funnel")
    assert page.locator("body").get_attribute("data-loaded-at") == loaded_at
    assert page.problems == []  # no CSP violation, no script error, on any view


def test_a_wrong_key_cannot_sign_in(stack: Stack, page: Any) -> None:
    from playwright.sync_api import expect

    assert stack.runtime is not None
    services = stack.runtime.services
    merchant = create_merchant(services.sessions, services.clock, "Corner Dairy")
    response = page.goto(f"{stack.http}/console")
    assert response is not None and response.ok
    assert response.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
    page.fill("#api-key", merchant.api_key + "-wrong")
    page.click("#sign-in")
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    expect(page.locator("#topbar")).to_be_hidden()
    expect(page.locator("#app")).to_be_hidden()
    assert not [c for c in page.context.cookies() if c["name"] == "freshtap_console"]
    _screenshot(page, "sign-in")
    # The right key still works afterwards, and signing out ends the session.
    page.fill("#api-key", merchant.api_key)
    page.click("#sign-in")
    expect(page.locator("#topbar")).to_be_visible()
    page.click("#sign-out")
    expect(page.locator("#signin-form")).to_be_visible()
    page.reload()
    expect(page.locator("#signin-form")).to_be_visible()
    expect(page.locator("#topbar")).to_be_hidden()
    assert page.problems == []
