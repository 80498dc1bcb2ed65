"""The WebM plays in Chromium: a `<video>` element loads it over HTTP (with Range requests, as a
real server serves media), reports its duration and size, and seeks into it."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

from freshtap.media import RenderedVideo

pytestmark = pytest.mark.services

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>review video</title></head>
<body><video id="review" src="review.webm" preload="auto" muted playsinline></video>
<p id="state" data-state="loading"></p>
<script src="probe.js"></script></body></html>
"""
# External script: reads what the element knows once it knows it, and seeks to 4 s.
PROBE = """
const video = document.getElementById("review");
const state = document.getElementById("state");
video.addEventListener("loadedmetadata", () => {
  state.dataset.duration = video.duration.toFixed(2);
  state.dataset.size = video.videoWidth + "x" + video.videoHeight;
  video.currentTime = 4;
});
video.addEventListener("seeked", () => { state.dataset.seeked = video.currentTime.toFixed(1); });
video.addEventListener("error", () => { state.dataset.error = String(video.error && video.error.code); });
"""


@pytest.fixture
def site(tmp_path: Path, full_video: RenderedVideo) -> Iterator[tuple[str, list[str]]]:
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "probe.js").write_text(PROBE, encoding="utf-8")
    (tmp_path / "review.webm").write_bytes(full_video.webm)
    ranges: list[str] = []

    async def record(scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or [])
        if scope["type"] == "http" and b"range" in headers:
            ranges.append(headers[b"range"].decode())
        await files(scope, receive, send)

    files = StaticFiles(directory=tmp_path, html=True)
    app = Starlette()
    app.mount("/", record)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="media-http", daemon=True)
    thread.start()
    ready = threading.Event()
    for _ in range(400):
        if server.started or not thread.is_alive():
            break
        ready.wait(0.025)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/", ranges
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_chromium_plays_the_webm_reads_its_duration_and_seeks(chromium: Any, site: tuple[str, list[str]]) -> None:
    url, ranges = site
    context = chromium.new_context()
    page = context.new_page()
    try:
        page.goto(url)
        state = page.locator("#state")
        expect(state).to_have_attribute("data-duration", re.compile(r"^8\.0\d$"), timeout=15_000)
        expect(state).to_have_attribute("data-size", "720x1280")
        expect(state).to_have_attribute("data-seeked", "4.0", timeout=15_000)
        expect(state).not_to_have_attribute("data-error", re.compile(".*"))
    finally:
        context.close()
    assert ranges, "Chromium fetched the media without Range requests"
