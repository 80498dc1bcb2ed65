"""Order notices on the door screen, in Chromium: delivery tracking, and problems with their way forward.

The notices are built by the server's own notice builder (`freshtap.server.services.notices`, what
the server publishes on the `notices` topic) and handed to `DoorScreen.on_notice` as the agent does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from freshtap.clock import ManualClock
from freshtap.contract import NoticeBody, NoticeMessage
from freshtap.device.screen import DoorScreen, ScreenConfig
from freshtap.server.services.notices import declined_fields, out_of_stock_fields, shipment_fields
from tests.screen.fakes import START, FakeApi, FakeFridge, item, offer, order

pytestmark = pytest.mark.services

PAYMENT_PAGE = "https://pay.example/account/payment-method"


def notice(order_id: str, status: str, fields: dict[str, Any], minutes: int = 0) -> NoticeMessage:
    body = {"kind": "order_status", "order_id": order_id, "status": status, **fields}
    return NoticeMessage(
        v=1,
        type="notice",
        fridge_id="f-screen",
        at=START + timedelta(minutes=minutes),
        body=NoticeBody.model_validate(body),
    )


@pytest.fixture
def scene() -> Iterator[tuple[DoorScreen, FakeFridge, FakeApi]]:
    fridge = FakeFridge(items=[item("milk", "Whole milk 1 L", label_expiry=date(2026, 11, 24))])
    api = FakeApi()
    screen = DoorScreen(fridge, ManualClock(START), ScreenConfig(port=0, undo_seconds=30, poll_seconds=0.2), api=api)
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


def test_a_shipment_and_a_declined_payment_with_its_way_forward(
    scene: tuple[DoorScreen, FakeFridge, FakeApi], page: Any
) -> None:
    screen, _, _ = scene
    page.goto(screen.url)
    page.locator("[data-item-id='milk']").wait_for()
    shipped = shipment_fields("Whole milk 1 L", "Corner Dairy", "SF Express", "SF1234567890", "in_transit")
    screen.on_notice(notice("ord_ship", "shipped", shipped))
    card = page.locator(".order-notice[data-order-id='ord_ship']")
    expect(card.locator(".status")).to_have_text("Shipped")
    expect(card.locator(".tracking")).to_have_text("SF Express · tracking SF1234567890")
    expect(card.locator(".notice-text")).to_contain_text("on its way")

    screen.on_notice(notice("ord_fail", "declined", declined_fields("Greek yogurt", "card_declined", PAYMENT_PAGE)))
    problem = page.locator(".order-notice.problem[data-order-id='ord_fail']")
    expect(problem.locator(".status")).to_have_text("Payment declined")
    expect(problem.locator("[data-next-action='update_payment_method']")).to_have_text(
        "Update your payment method, then tap Buy again"
    )
    qr = problem.locator(".qr img")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the QR code of the payment page was served and drawn
    svg = httpx.get(screen.url + "/api/notices/ord_fail/qr.svg")
    assert svg.status_code == 200 and svg.content.startswith(b"<svg")
    assert httpx.get(screen.url + "/api/notices/ord_ship/qr.svg").status_code == 404
    expect(page.locator(".order-notice").first).to_have_attribute("data-order-id", "ord_fail")  # newest first

    page.click("#lang-toggle")
    expect(card.locator(".status")).to_have_text("已发货")
    expect(card.locator(".tracking")).to_have_text("SF Express · 运单号 SF1234567890")
    expect(problem.locator(".status")).to_have_text("付款被拒")
    expect(problem.locator(".notice-text")).to_contain_text("请更新付款方式")
    expect(problem.locator("[data-next-action='update_payment_method']")).to_have_text("请更新付款方式后再次购买")

    # Delivered replaces the shipped notice of the same order; an older notice never overrides it.
    delivered = shipment_fields("Whole milk 1 L", "Corner Dairy", "SF Express", "SF1234567890", "delivered")
    screen.on_notice(notice("ord_ship", "delivered", delivered, minutes=10))
    screen.on_notice(notice("ord_ship", "shipped", shipped, minutes=5))
    expect(card.locator(".status")).to_have_text("已送达")
    expect(page.locator(".order-notice[data-order-id='ord_ship']")).to_have_count(1)


def test_out_of_stock_offers_the_other_merchant_as_a_button(
    scene: tuple[DoorScreen, FakeFridge, FakeApi], page: Any
) -> None:
    screen, fridge, api = scene
    api.accept_script = [order("o-other")]
    fridge.set_offers([offer("p-other", "milk")])
    page.goto(screen.url)
    fields = out_of_stock_fields("Whole milk 1 L", "Corner Dairy", "refunded", ("p-other", "Big Market", 990, "CNY"))
    screen.on_notice(notice("ord_oos", "refunded", fields))
    card = page.locator(".order-notice.problem[data-order-id='ord_oos']")
    expect(card.locator(".status")).to_have_text("Refunded")
    expect(card.locator(".notice-text")).to_contain_text("out of stock")
    button = card.locator("button[data-next-action='choose_other_offer']")
    expect(button).to_have_text("Buy from Big Market · CN¥9.90")
    button.click()
    # The way forward is an ordinary tap on the other offer, with its undo window.
    expect(page.locator(".offer[data-proposal-id='p-other'] button.undo")).to_be_visible()

    watching = out_of_stock_fields("Whole milk 1 L", "Corner Dairy", "refunded", None)
    screen.on_notice(notice("ord_oos2", "refunded", watching))
    expect(page.locator(".order-notice[data-order-id='ord_oos2'] [data-next-action='watching']")).to_have_text(
        "We keep watching this item for you"
    )
