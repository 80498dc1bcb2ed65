"""The page in Chromium against doubles of the fridge and the server: language, undo, QR, touch sizes.

Fast and deterministic (a stopped clock); the end-to-end run against a real agent and server is
test_door_screen_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from freshtap.clock import ManualClock
from freshtap.device.screen import DoorScreen, ScreenConfig
from tests.screen.fakes import START, FakeApi, FakeFridge, item, offer, order

pytestmark = pytest.mark.services


@pytest.fixture
def scene() -> Iterator[tuple[DoorScreen, FakeFridge, FakeApi]]:
    fridge = FakeFridge(items=[
        item("milk", "Whole milk 1 L", label_expiry=date(2026, 11, 24)),
        item("ham", "Ham", category="deli meat", label_expiry=date(2026, 11, 20), compartment="door"),
    ])
    api = FakeApi()
    screen = DoorScreen(fridge, ManualClock(START), ScreenConfig(port=0, undo_seconds=30, poll_seconds=0.2), api=api)
    screen.record_telemetry({"fridge": 3.8, "freezer": -18.0}, door_open=True)
    screen.start()
    try:
        yield screen, fridge, api
    finally:
        screen.stop()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    made = context.new_page()
    problems: list[str] = []
    made.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    made.on("pageerror", lambda e: problems.append(str(e)))
    try:
        yield made
    finally:
        context.close()
    assert problems == []  # no script errors, no CSP violations


def test_chinese_and_english_from_the_catalog(scene: tuple[DoorScreen, FakeFridge, FakeApi], page: Any) -> None:
    screen, fridge, _ = scene
    page.goto(screen.url)
    page.locator("[data-item-id='milk']").wait_for()
    assert page.locator("[data-door='open']").inner_text() == "Door open"
    page.click("#lang-toggle")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.locator("[data-item-id='milk'] .state").inner_text() == "即将过期"
    assert page.locator("#inside-title").inner_text() == "冰箱里有什么"
    fridge.set_offers([offer("p-1", "milk")])
    reason = page.locator(".offer .reason")
    reason.wait_for()
    assert reason.inner_text().startswith("Whole milk 1 L将在")
    page.reload()  # the choice is remembered
    page.locator("[data-item-id='milk']").wait_for()
    assert page.locator("#inside-title").inner_text() == "冰箱里有什么"
    fridge.connection = "offline"
    page.locator("#offline-banner").wait_for(state="visible")
    assert "冰箱自身" in page.locator("#offline-banner").inner_text()


def test_undo_cancels_the_tap_and_nothing_is_sent(scene: tuple[DoorScreen, FakeFridge, FakeApi], page: Any) -> None:
    screen, fridge, api = scene
    api.accept_script = [order()]
    fridge.set_offers([offer("p-1", "milk")])
    page.goto(screen.url)
    page.click(".offer button.buy")
    undo = page.locator(".offer button.undo")
    undo.wait_for()
    assert page.locator(".offer .tap-status").inner_text().startswith("Buying in ")
    undo.click()
    page.locator(".offer button.buy").wait_for()
    assert [c for c in api.calls if c[0] == "accept"] == []


def test_touch_targets_fit_a_1280x800_screen(scene: tuple[DoorScreen, FakeFridge, FakeApi], page: Any) -> None:
    screen, fridge, _ = scene
    fridge.set_offers([offer("p-1", "milk")])
    page.goto(screen.url)
    page.locator(".offer button.buy").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    for selector, least in ((".offer button.buy", 64), ("#lang-toggle", 48), ("[data-item-id='milk']", 64)):
        box = page.locator(selector).bounding_box()
        assert box["height"] >= least and box["width"] >= least, (selector, box)
    page.click(".offer button.buy")
    box = page.locator(".offer button.undo").bounding_box()
    assert box["height"] >= 64 and box["width"] >= 120


def test_an_order_that_needs_approval_shows_a_qr_code(page: Any) -> None:
    fridge, api = FakeFridge(items=[item("milk", "Whole milk 1 L", label_expiry=date(2026, 11, 24))]), FakeApi()
    needs = order("o-3ds", "requires_action", next_action_url="https://bank.example/approve?s=1")
    api.accept_script, api.order_script = [needs], [needs]
    fridge.set_offers([offer("p-1", "milk", expires_in=timedelta(hours=2))])
    with DoorScreen(fridge, ManualClock(START), ScreenConfig(port=0, undo_seconds=0), api=api) as screen:
        page.goto(screen.url)
        page.click(".offer button.buy")
        image = page.locator(".order[data-status='requires_action'] .qr img")
        image.wait_for()
        # Polled by Playwright through the protocol: wait_for_function would eval inside the page,
        # which the page's own CSP (no 'unsafe-eval') refuses whenever it has to poll.
        expect(image).to_have_js_property("complete", True)
        assert page.evaluate("document.querySelector('.qr img').naturalWidth") > 100
        assert page.locator(".order .status").inner_text() == "Needs your approval"
