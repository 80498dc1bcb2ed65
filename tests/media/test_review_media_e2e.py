"""Review media end to end: a real server (tests/stack.py), a real fridge (FridgeDevice on the
firmware mock, its camera frames kept in memory by ReviewVideos) and its door screen.

Order restocked -> the server's `review_draft` notice (with the GTIN and name) -> the fridge renders
the video from its own frames -> nothing leaves the fridge -> the owner approves on the door screen
-> the fridge uploads the video -> the relay posts to the local sink -> `/feed` shows the post
with its poster and its video.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from freshtap.clock import SystemClock
from freshtap.contract import NoticeMessage
from freshtap.device import AgentConfig
from freshtap.device.fridge_device import DeviceConfig, FridgeDevice
from freshtap.device.products import ProductDirectory
from freshtap.device.review_video import HttpVideoUploader, ReviewVideos
from freshtap.device.screen import DoorScreen, ScreenConfig
from freshtap.firmware_mock import FirmwareServer, FridgeHardware
from freshtap.firmware_mock.camera import sample_packages
from freshtap.media import RenderedVideo, VideoSpec, render_video
from freshtap.server.services import accounts
from freshtap.server.store.social_outbox_models import SocialLocalPost
from tests.stack import Stack, make_stack, wait_until

pytestmark = pytest.mark.services
FAST = {"reconnect_min_delay": 0.2, "reconnect_max_delay": 0.5, "stop_timeout": 3.0}


def quick(spec: VideoSpec) -> RenderedVideo:
    """The fridge's renderer at full size (the server takes 720x1280 only), 8 s at 10 fps for speed."""
    return render_video(replace(spec, fps=10, duration_s=8.0))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with make_stack("amqtt+sqlite", tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}") as made:
        made.start()
        yield made


def test_restock_to_feed_with_the_fridges_video_sent_only_after_approval(stack: Stack, tmp_path: Path) -> None:
    assert stack.runtime is not None
    services = stack.runtime.services
    merchant = accounts.create_merchant(services.sessions, services.clock, "Dairy")
    home = accounts.provision_fridge(services.sessions, services.clock, household_name="Lin",
                                     payment_method="pm_sandbox_ok")
    today = date.today()
    package = sample_packages(21, 1, today=today)[0]
    old_milk = replace(package, expiry=today + timedelta(days=1), expiry_kind="expiry")
    new_milk = replace(package, expiry=today + timedelta(days=9), expiry_kind="expiry", batch="NEW1")
    stack.expiring_offer(merchant.api_key, package.gtin, within_hours=72)
    products = tmp_path / "products.json"
    products.write_text(json.dumps({package.gtin: {"name": "Whole milk 1 L", "category": "dairy"}}))

    videos = ReviewVideos(HttpVideoUploader(stack.http, home.password, backoff_s=0.05), renderer=quick)
    notices: list[dict[str, Any]] = []

    def on_notice(notice: NoticeMessage) -> None:
        notices.append(notice.body.model_dump())
        videos.on_notice(notice)

    hardware = FridgeHardware(SystemClock(), seed=9)
    videos.start()
    with FirmwareServer(hardware) as firmware:
        device = FridgeDevice(
            AgentConfig(home.fridge_id, home.username, home.password, stack.runtime.mqtt_url, tmp_path / "state",
                        uplink_options=FAST),
            DeviceConfig(firmware.url),
            clock=SystemClock(),
            products=ProductDirectory.load(products),
            on_frame=videos.on_frame,
            on_notice=on_notice,
        )
        screen = DoorScreen(device.agent, SystemClock(), ScreenConfig(port=0, server_url=stack.http,
                                                                      password=home.password),
                            review_decisions=videos)
        device.start()
        screen.start()
        try:
            assert device.agent.wait_online(15)

            def door_session(slot: int, item: object) -> None:
                hardware.open_door()
                hardware.place("fridge", slot, item, 1000)  # type: ignore[arg-type]
                hardware.close_door()
                cycle = hardware.door_cycles
                wait_until(lambda: (s := device.status()).checked_cycle >= cycle and not s.check_pending, timeout=20)

            door_session(1, old_milk)
            [offer] = device.agent.wait_for_offers(lambda offers: len(offers) == 1, timeout=20)
            with stack.client(home.password) as household:
                paid = household.post(f"/api/v1/proposals/{offer.proposal_id}/accept",
                                      headers={"Idempotency-Key": str(uuid.uuid4())})
                assert paid.status_code == 200 and paid.json()["status"] == "paid", paid.text
            order_id = paid.json()["order_id"]
            with stack.client(merchant.api_key) as shop:
                delivered = shop.post(f"/api/v1/orders/{order_id}/shipments", json={
                    "carrier": "SF Express", "tracking_number": "SF1", "status": "delivered", "event_id": "d"})
                assert delivered.status_code == 201, delivered.text
            door_session(4, new_milk)  # the fridge sees the delivered milk: restocked
            with stack.client(home.password) as household:
                wait_until(lambda: household.get(f"/api/v1/orders/{order_id}").json()["status"] == "restocked",
                           timeout=20)
            services.reviews.create_due_drafts()
            draft_notice = wait_until(lambda: next((n for n in notices if n["kind"] == "review_draft"), None),
                                      timeout=20)
            assert (draft_notice["gtin"], draft_notice["product_name"]) == (package.gtin, "Whole milk 1 L")
            draft_id = draft_notice["draft_id"]
            made = videos.video(draft_id, timeout=60)
            assert made is not None
            assert services.review_media.media_of(draft_id) == []  # rendered on the fridge; nothing sent

            with stack.client(home.password) as household:
                draft = household.get(f"/api/v1/review-drafts/{draft_id}").json()
            with httpx.Client(base_url=screen.url, timeout=20) as page:
                approved = page.post(f"/api/reviews/{draft_id}/approve", json={
                    "channels": ["local"], "language": "zh", "shown_text": draft["preview"]["zh"]})
            assert approved.status_code == 200, approved.text
            wait_until(lambda: any(m.kind == "video_webm" for m in services.review_media.media_of(draft_id)),
                       timeout=60)

            def posted() -> SocialLocalPost | None:
                with services.sessions() as session:
                    return session.exec(select(SocialLocalPost)).first()

            post = wait_until(posted, timeout=30)
            kinds = {m["kind"]: m["media_id"] for m in post.media}
            assert set(kinds) == {"poster", "video_webm"}
            with httpx.Client(base_url=stack.http, timeout=10) as public:
                feed = public.get("/feed").text
                assert post.id in feed and f"/review-media/{kinds['video_webm']}" in feed
                assert f"/review-media/{kinds['poster']}" in feed
                video = public.get(f"/review-media/{kinds['video_webm']}")
                assert video.headers["content-type"] == "video/webm" and video.content == made.webm
        finally:
            screen.stop()
            device.stop()
            videos.stop()
