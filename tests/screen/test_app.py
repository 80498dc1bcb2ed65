"""The screen's web app served by `DoorScreen` (uvicorn on loopback): headers, guards, live events."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from freshtap.clock import ManualClock
from freshtap.device.screen import DoorScreen, ScreenConfig
from freshtap.device.screen.app import CONTENT_SECURITY_POLICY
from tests.screen.fakes import START, FakeApi, FakeFridge, item, offer, order


@pytest.fixture
def fridge() -> FakeFridge:
    return FakeFridge(items=[item("milk", "Whole milk 1 L", label_expiry=date(2026, 11, 24))])


@pytest.fixture
def api() -> FakeApi:
    return FakeApi()


@pytest.fixture
def screen(fridge: FakeFridge, api: FakeApi) -> Iterator[DoorScreen]:
    made = DoorScreen(fridge, ManualClock(START), ScreenConfig(port=0, undo_seconds=0, poll_seconds=0.2, order_poll_seconds=0.1), api=api)
    made.start()
    try:
        yield made
    finally:
        made.stop()


def post(screen: DoorScreen, path: str, **kw: Any) -> httpx.Response:
    kw.setdefault("headers", {"Content-Type": "application/json"})
    return httpx.post(screen.url + path, content=b"{}", **kw)


def test_every_response_carries_the_csp(screen: DoorScreen) -> None:
    for path in ("/", "/assets/screen.js", "/assets/screen.css", "/api/state", "/api/catalog", "/nowhere"):
        response = httpx.get(screen.url + path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert httpx.get(screen.url + "/assets/../app.py").status_code == 404


def test_foreign_hosts_forms_and_origins_are_refused(screen: DoorScreen, fridge: FakeFridge, api: FakeApi) -> None:
    fridge.set_offers([offer("p-1")])
    assert httpx.get(screen.url + "/api/state", headers={"Host": "evil.example"}).status_code == 400
    assert post(screen, "/api/offers/p-1/buy", headers={"Content-Type": "text/plain"}).status_code == 415
    cross = {"Content-Type": "application/json", "Origin": "http://evil.example"}
    assert post(screen, "/api/offers/p-1/buy", headers=cross).status_code == 403
    assert post(screen, "/api/offers/p-unknown/buy").status_code == 404
    assert [c for c in api.calls if c[0] == "accept"] == []


def test_buy_sends_one_accept_and_undo_is_too_late_after(screen: DoorScreen, fridge: FakeFridge, api: FakeApi) -> None:
    api.accept_script = [order("o-9")]
    fridge.set_offers([offer("p-1")])
    response = post(screen, "/api/offers/p-1/buy")
    assert response.status_code == 202
    tap_id = response.json()["tap_id"]
    (call,) = api.wait_calls("accept", 1)
    assert call[1] == "p-1"
    assert post(screen, f"/api/taps/{tap_id}/undo").status_code == 409
    assert httpx.get(screen.url + "/api/orders/o-9/qr.svg").status_code == 404  # no approval pending


def test_events_push_a_new_offer_without_a_reload_and_stop_ends_the_stream(
    screen: DoorScreen, fridge: FakeFridge
) -> None:
    snapshots: list[dict[str, Any]] = []
    got = threading.Condition()

    def read() -> None:
        with httpx.stream("GET", screen.url + "/api/events", timeout=30) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data: "):
                    with got:
                        snapshots.append(json.loads(line[6:]))
                        got.notify_all()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    with got:
        assert got.wait_for(lambda: len(snapshots) >= 1, 10)
    assert snapshots[0]["offers"] == [] and snapshots[0]["compartments"][0]["items"][0]["item_id"] == "milk"
    fridge.set_offers([offer("p-new")])
    with got:
        assert got.wait_for(lambda: any(s["offers"] for s in snapshots), 10)
    assert snapshots[-1]["offers"][0]["proposal_id"] == "p-new"
    started = time.monotonic()
    screen.stop()
    reader.join(10)
    assert not reader.is_alive() and time.monotonic() - started < 5


def test_approval_qr_code_is_served_for_an_order_that_needs_it(
    screen: DoorScreen, fridge: FakeFridge, api: FakeApi
) -> None:
    needs = order("o-3ds", "requires_action", next_action_url="https://bank.example/approve?s=1")
    api.accept_script = [needs]
    api.order_script = [needs]
    fridge.set_offers([offer("p-1")])
    post(screen, "/api/offers/p-1/buy")
    api.wait_calls("order", 1)
    svg = httpx.get(screen.url + "/api/orders/o-3ds/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg")
