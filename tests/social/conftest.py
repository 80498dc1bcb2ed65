"""The social lane: review drafts, approval and referrals through the real app and services.

Reuses the API lane's `api` fixture (TestClient over SQLite and PostgreSQL, a `ManualClock`, a
`RecordingPublisher`). Everything goes through the real HTTP API, ingest and the scheduler
jobs: offer, tap, payment, the merchant's shipment (delivered), the fridge seeing the new item
(restocked), drafts, approval, the referral order and the reward.
"""

# ruff: noqa: F811 - fixtures imported from the API lane are parameters here

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from freshtap.contract import Channel, topic
from freshtap.media import RenderedVideo, VideoSpec, render_video
from freshtap.server.services import accounts
from tests.server.conftest import Api, _z, api, database_url  # noqa: F401 - the API lane's fixtures


@dataclass
class Home:
    fridge: accounts.ProvisionedFridge

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.fridge.password}"}


@dataclass
class Reviewed:
    home: Home
    merchant: accounts.MerchantCreated
    order_id: str


def telemetry(api: Api, fridge_id: str, seq: int, temp_c: float) -> None:
    payload = {
        "v": 1,
        "type": "telemetry",
        "fridge_id": fridge_id,
        "seq": seq,
        "at": _z(api.clock.now()),
        "body": {"compartments": [{"id": "fridge", "temp_c": temp_c}], "door_open": False},
    }
    outcome = api.services.ingest.handle(topic(fridge_id, Channel.TELEMETRY), json.dumps(payload).encode()).outcome
    assert outcome == "applied", outcome


def buy_milk(api: Api, home: Home, key: str = "tap-1") -> str:
    offers = api.client.get(f"/api/v1/fridges/{home.fridge.fridge_id}/offers", headers=home.headers).json()
    proposal_id = offers["body"]["offers"][0]["proposal_id"]
    order = api.client.post(f"/api/v1/proposals/{proposal_id}/accept", headers={**home.headers, "Idempotency-Key": key})
    assert order.status_code == 200, order.text
    assert order.json()["status"] == "paid"
    result: str = order.json()["order_id"]
    return result


def deliver(api: Api, merchant: accounts.MerchantCreated, order_id: str) -> None:
    """The merchant's carrier says the parcel arrived (the shipments API)."""
    shipped = api.client.post(
        f"/api/v1/orders/{order_id}/shipments",
        headers={"Authorization": f"Bearer {merchant.api_key}"},
        json={"carrier": "SF Express", "tracking_number": f"SF{order_id[-8:]}", "status": "delivered"},
    )
    assert shipped.status_code == 201, shipped.text


def reviewed_order(api: Api, merchant: accounts.MerchantCreated | None = None, restock: bool = True) -> Reviewed:
    """A household whose milk (kept 2 days at 3-5 °C, used up) it reordered by one tap; the order is
    delivered and restocked (unless `restock` is False)."""
    merchant = merchant or api.merchant()
    if merchant is not None and not getattr(api, "_milk_offer", None):
        api.milk_offer(merchant)
        api._milk_offer = True  # type: ignore[attr-defined]
    home = Home(api.fridge())
    fridge_id = home.fridge.fridge_id
    milk = api.milk(timedelta(hours=66))
    milk["added_at"] = _z(api.clock.now())
    assert api.publish_inventory(fridge_id, 1, [milk]) == "applied"
    seq = 1
    for hour in range(0, 48, 2):  # a reading every 2 h: 3 °C, but 5 °C for two hours after 30 h
        seq += 1
        telemetry(api, fridge_id, seq, 5.0 if hour == 30 else 3.0)
        api.clock.advance(timedelta(hours=2))
    api.services.ingest.refresh_due()
    order_id = buy_milk(api, home)
    gone = dict(milk, fill=0.05)
    assert api.publish_inventory(fridge_id, seq + 1, [gone]) == "applied"
    assert api.publish_inventory(fridge_id, seq + 2, []) == "applied"
    if restock:
        deliver(api, merchant, order_id)
        api.clock.advance(timedelta(hours=1))
        fresh = dict(api.milk(timedelta(days=7), item_id="milk-2"), added_at=_z(api.clock.now()))
        assert api.publish_inventory(fridge_id, seq + 3, [fresh]) == "applied"  # the fridge sees it: restocked
    return Reviewed(home, merchant, order_id)


def draft_of(api: Api, reviewed: Reviewed) -> dict[str, Any]:
    api.services.reviews.create_due_drafts()
    listed = api.client.get("/api/v1/households/me/review-drafts", headers=reviewed.home.headers).json()
    mine = [d for d in listed if d["order_id"] == reviewed.order_id]
    assert len(mine) == 1, listed
    detail = api.client.get(f"/api/v1/review-drafts/{mine[0]['draft_id']}", headers=reviewed.home.headers)
    assert detail.status_code == 200, detail.text
    result: dict[str, Any] = detail.json()
    return result


@pytest.fixture
def reviewed(api: Api) -> Reviewed:
    return reviewed_order(api)


@pytest.fixture(scope="session")
def review_video() -> RenderedVideo:
    """A review video as a fridge uploads it: 720x1280, 8 s (at 10 fps, to keep the lane fast)."""
    return render_video(VideoSpec(product_name="Whole milk 1 L", offer="Running low", delivery="Delivered",
                                  restock="Back in the fridge", duration_s=8.0, fps=10))


def approve(api: Api, reviewed: Reviewed, draft: dict[str, Any], channels: list[str]) -> None:
    answer = api.client.post(
        f"/api/v1/review-drafts/{draft['draft_id']}/approve",
        headers=reviewed.home.headers,
        json={"channels": channels, "language": "zh", "shown_text": draft["preview"]["zh"]},
    )
    assert answer.status_code == 200, answer.text


def put_video(api: Api, headers: dict[str, str], draft_id: str, data: bytes,
              content_type: str = "video/webm") -> Any:
    return api.client.put(f"/api/v1/review-drafts/{draft_id}/video", content=data,
                          headers={**headers, "Content-Type": content_type})
