"""Take the door screen's screenshots for the docs: `docs/screenshots/door-screen-{en,zh}.png` (and offline).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

A fixed scene on a stopped clock — a stocked fridge (some items with the server's explanation),
telemetry, two live offers, one paid order and one waiting for bank approval (QR code) — served by
the real `DoorScreen` and photographed in Debian's Chromium at 1280x800, in English and Chinese,
then once more offline. It needs `/usr/bin/chromium` and the `playwright` package (dev extras);
it never downloads a browser.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from freshtap.clock import ManualClock  # noqa: E402
from freshtap.contract import Basis, FreshnessInfo, FreshnessState  # noqa: E402
from freshtap.device.screen import DoorScreen, ScreenConfig, ServerInventory, ServerItem  # noqa: E402
from tests.screen.fakes import START, FakeApi, FakeFridge, item, offer, order  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def scene() -> tuple[FakeFridge, FakeApi]:
    items = [
        item("milk", "Whole milk 1 L", label_expiry=date(2026, 11, 24), fill=0.4, gtin="09506000134352"),
        item("yogurt", "Greek yogurt 500 g", label_expiry=date(2026, 11, 26), fill=0.8),
        item("eggs", "Free-range eggs, 10", category="eggs", label_expiry=date(2026, 12, 9)),
        item("ham", "Sliced ham 200 g", category="deli meat", label_expiry=date(2026, 11, 22), fill=0.3),
        item("cheese", "Cheddar 400 g", category="hard cheese", label_expiry=date(2027, 1, 20), fill=0.6),
        item("spinach", "Baby spinach", category="leafy greens", compartment="crisper", added_days_ago=3),
        item("apples", "Apples, 6", category="apples", compartment="crisper", added_days_ago=2),
        item("butter", "Butter 250 g", category="butter", compartment="door", label_expiry=date(2027, 2, 1)),
        item("juice", "Orange juice 1 L", category="juice", compartment="door", label_expiry=date(2026, 12, 2),
             opened_at=START - timedelta(days=2), fill=0.5),
        item("peas", "Frozen peas 1 kg", category="frozen vegetables", compartment="freezer", added_days_ago=20),
    ]
    fridge = FakeFridge("kitchen-01", items)
    fridge.set_offers([
        offer("p-milk", "milk", expires_in=timedelta(hours=20)),
        offer("p-ham", "ham", product="Sliced ham 200 g", expires_in=timedelta(hours=8)),
    ])
    explained = {
        "milk": FreshnessInfo(state=FreshnessState.EXPIRING, expires_at=START + timedelta(hours=36), basis=Basis.LABEL,
                              explanation="expires in 36 h (25 Nov 00:00 UTC): use by 24 Nov on the label"),
    }
    inventory = ServerInventory(
        {key: ServerItem(key, None, date(2026, 11, 24), info) for key, info in explained.items()}, 42, START
    )
    api = FakeApi(inventory)
    return fridge, api


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    fridge, api = scene()
    screen = DoorScreen(fridge, ManualClock(START), ScreenConfig(port=0, undo_seconds=0), api=api)
    screen.record_telemetry({"fridge": 3.8, "freezer": -18.2, "crisper": 5.1}, door_open=False)
    screen.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(screen.url)
            page.wait_for_selector(".offer[data-proposal-id='p-ham'] button.buy")
            # One order already paid, one waiting for the bank: the screen shows its QR code.
            api.accept_script = [order("o-1001", "paid", proposal_id="p-earlier")]
            page.click(".offer[data-proposal-id='p-ham'] button.buy")
            page.wait_for_selector(".order[data-status='paid']")
            approval = "https://bank.example/3ds/approve?session=7f3c2a"
            api.accept_script = [order("o-1002", "requires_action", next_action_url=approval, proposal_id="p-milk")]
            api.order_script = [order("o-1002", "requires_action", next_action_url=approval, proposal_id="p-milk")]
            fridge.set_offers([offer("p-milk", "milk", expires_in=timedelta(hours=20))])
            page.click(".offer[data-proposal-id='p-milk'] button.buy")
            page.wait_for_selector(".order[data-status='requires_action'] .qr img")
            fridge.set_offers([offer("p-milk2", "milk", expires_in=timedelta(hours=20))])
            page.wait_for_selector(".offer[data-proposal-id='p-milk2']")
            page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            page.screenshot(path=str(args.out / "door-screen-en.png"))
            page.click("#lang-toggle")
            page.wait_for_function("document.documentElement.lang === 'zh-CN'")
            page.screenshot(path=str(args.out / "door-screen-zh.png"))
            fridge.connection = "offline"
            screen.refresh()
            page.wait_for_selector("#offline-banner", state="visible")
            page.screenshot(path=str(args.out / "door-screen-zh-offline.png"))
            page.click("#lang-toggle")
            page.click("[data-item-id='milk']")
            page.wait_for_selector("#item-dialog[open]")
            page.screenshot(path=str(args.out / "door-screen-en-item.png"))
            browser.close()
    finally:
        screen.stop()
    for name in sorted(args.out.glob("door-screen-*.png")):
        print(name.relative_to(REPO) if name.is_relative_to(REPO) else name)


if __name__ == "__main__":
    main()
