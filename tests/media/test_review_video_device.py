"""Review videos on the fridge: frames from the real device's camera stay in memory, a video is made
for a draft, and it is uploaded (over real HTTP, to a local stand-in for the server's route) only
after the owner approved; a skipped draft's video is never sent."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import av
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from freshtap.clock import ManualClock
from freshtap.device import AgentConfig
from freshtap.device.fridge_device import DeviceConfig, FridgeDevice
from freshtap.device.products import ProductDirectory
from freshtap.device.review_video import (
    Capture,
    FrameRing,
    HttpVideoUploader,
    ReviewRequest,
    ReviewVideos,
    UploadError,
)
from freshtap.firmware_mock import FirmwareServer, FridgeHardware
from freshtap.firmware_mock.camera import sample_packages
from freshtap.media import RenderedVideo, VideoSpec, render_video
from freshtap.simulator.mosquitto import MosquittoBroker
from tests.stack import wait_until

FID = "f-video1"
TOKEN = "fridge-secret"
START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
FAST = {"reconnect_min_delay": 0.2, "reconnect_max_delay": 0.5, "stop_timeout": 3.0}


def small(spec: VideoSpec) -> RenderedVideo:
    """The device's renderer at a quarter of the pixels and half the frame rate, to keep the lane fast."""
    return render_video(replace(spec, size=(360, 640), fps=12, duration_s=8.0))


@dataclass
class FakeServer:
    """The server's `PUT /api/v1/review-drafts/{id}/video`, as the contract will have it, with failures to inject."""

    url: str = ""
    received: list[tuple[str, str, bytes]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)

    async def put_video(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"title": "unauthorized"}, status_code=401, media_type="application/problem+json")
        if self.fail_next:
            return JSONResponse({"title": "injected"}, status_code=self.fail_next.pop(0),
                                media_type="application/problem+json")
        self.received.append((request.path_params["draft_id"], request.headers["content-type"], await request.body()))
        return Response(status_code=204)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    app = Starlette(routes=[Route("/api/v1/review-drafts/{draft_id}/video", fake.put_video, methods=["PUT"])])
    runner = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    wait_until(lambda: runner.started or not thread.is_alive(), timeout=10)
    assert runner.started
    fake.url = f"http://127.0.0.1:{runner.servers[0].sockets[0].getsockname()[1]}"
    try:
        yield fake
    finally:
        runner.should_exit = True
        thread.join(timeout=10)


def capture(minute: int, compartment: str, *gtins: str) -> Capture:
    return Capture(START + timedelta(minutes=minute), compartment, b"img%d" % minute, frozenset(gtins))


def test_the_ring_keeps_the_frames_around_a_restock_and_forgets_old_ones() -> None:
    ring = FrameRing(capacity=6)
    for minute in range(3):
        ring.add(capture(minute, "door", "A"))
    ring.add(capture(3, "fridge", "B"))
    ring.add(capture(4, "fridge", "B", "MILK"))  # the restock
    ring.add(capture(5, "door", "A"))
    ring.add(capture(6, "fridge", "B", "MILK"))
    assert len(ring) == 6  # the oldest went
    before, after = ring.around("MILK")
    assert [c.at.minute for c in before] == [3]
    assert [c.at.minute for c in after] == [4, 6]
    assert ring.around("NEVER") == ([], ring.snapshot()[-3:])


def test_a_review_draft_notice_becomes_a_request() -> None:
    body = {"kind": "review_draft", "draft_id": "d-1", "order_id": "o-1", "gtin": "09506000134352",
            "product_name": "鲜牛奶 1 L"}
    request = ReviewRequest.from_notice(body)
    assert request is not None and (request.draft_id, request.gtin, request.product_name) == (
        "d-1", "09506000134352", "鲜牛奶 1 L")
    assert ReviewRequest.from_notice({"kind": "order_status", "draft_id": "d-1"}) is None
    assert ReviewRequest.from_notice({"kind": "review_draft"}) is None


@pytest.mark.services
def test_device_frames_make_a_video_that_leaves_only_after_approval(
    mosquitto: MosquittoBroker, tmp_path: Path, server: FakeServer
) -> None:
    clock = ManualClock(START)
    hardware = FridgeHardware(clock, seed=9)
    hardware.tick()
    milk, other = sample_packages(21, 2, today=date(2026, 11, 23))
    products = tmp_path / "products.json"
    products.write_text(json.dumps({milk.gtin: {"name": "Whole milk 1 L", "category": "dairy"}}))
    videos = ReviewVideos(HttpVideoUploader(server.url, TOKEN, backoff_s=0.05), renderer=small)
    videos.start()
    with FirmwareServer(hardware) as firmware:
        device = FridgeDevice(
            AgentConfig(FID, FID, "pw", mosquitto.url, tmp_path / "state", uplink_options=FAST),
            DeviceConfig(firmware.url),
            products=ProductDirectory.load(products),
            on_frame=videos.on_frame,
        )
        device.start()
        try:
            wait_until(lambda: device.status().checks >= 1, timeout=15)

            def door_session(slot: int, package: object, grams: float) -> None:
                hardware.open_door()
                hardware.place("fridge", slot, package, grams)  # type: ignore[arg-type]
                hardware.close_door()
                cycle = hardware.door_cycles
                wait_until(lambda: (s := device.status()).checked_cycle >= cycle and not s.check_pending, timeout=15)

            door_session(1, other, 500)
            door_session(4, milk, 1000)  # the delivered milk goes in
        finally:
            device.stop()

    before, after = videos.ring.around(milk.gtin)
    assert before and after and all(milk.gtin in c.gtins for c in after)
    assert not (tmp_path / "state").joinpath("frames").exists()  # nothing written to disk
    assert all(not p.name.endswith((".png", ".jpg", ".webm", ".mp4")) for p in (tmp_path / "state").rglob("*"))

    videos.on_notice({"kind": "review_draft", "draft_id": "d-milk", "order_id": "o-1", "gtin": milk.gtin,
                      "product_name": "鲜牛奶 1 L"})
    videos.on_notice({"kind": "review_draft", "draft_id": "d-skip", "order_id": "o-2"})
    made = videos.video("d-milk", timeout=60)
    assert made is not None and made.faces_blurred == 0
    assert videos.video("d-skip", timeout=60) is not None
    assert server.received == []  # rendered, but nothing left the fridge

    videos.skipped("d-skip")
    assert videos.approved("d-skip") is False
    server.fail_next = [503]  # one server hiccup: tried again
    assert videos.approved("d-milk") is True
    assert videos.approved("d-milk") is True  # already sent: not sent twice
    videos.stop()
    assert [(d, t) for d, t, _ in server.received] == [("d-milk", "video/webm")]
    with av.open(io.BytesIO(server.received[0][2])) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("vp9", 360, 640)


def test_a_refused_upload_is_an_error_and_not_retried(server: FakeServer) -> None:
    server.fail_next = [403, 403]
    with pytest.raises(UploadError, match="HTTP 403"):
        HttpVideoUploader(server.url, TOKEN, backoff_s=0.01).upload("d-1", b"x", "video/webm")
    assert server.fail_next == [403]
    with pytest.raises(UploadError, match="HTTP 401"):
        HttpVideoUploader(server.url, "wrong", backoff_s=0.01).upload("d-1", b"x", "video/webm")
    assert server.received == []
