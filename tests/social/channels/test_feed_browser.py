"""The `/feed` page in Chromium, served by the real app over HTTP: posts show, the CSP holds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from freshtap.clock import ManualClock
from freshtap.server.app import create_app
from freshtap.server.container import Services, build_services
from freshtap.server.domain.social_posts import PostContent
from freshtap.server.services.publisher import RecordingPublisher
from freshtap.server.store.db import create_db_engine, migrate
from freshtap.settings import Settings
from tests.conftest import free_port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Services]]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'feed.db'}")
    migrate(engine)
    clock = ManualClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    services = build_services(Settings(_env_file=None), clock, engine, RecordingPublisher())  # type: ignore[call-arg]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.02)
    yield f"http://127.0.0.1:{port}", services
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def test_feed_shows_posts_in_chromium(served: tuple[str, Services], chromium: Any) -> None:
    from playwright.sync_api import expect

    url, services = served
    local = services.social_relay.channels["local"]
    for n, (lang, text) in enumerate([("zh", "牛奶放了9天依然新鲜。"), ("en", "Yogurt kept 5 days past opening.")]):
        content = PostContent(f"apr-{n}", "hh-1", "local", lang, text, "https://freshtap.example/r/x", n == 0, "CN")
        local.publish(local.format(content), f"apr-{n}:local")
        services.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    page = chromium.new_page()
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(f"{url}/feed")
    articles = page.locator("article")
    expect(articles).to_have_count(2)
    expect(articles.first).to_contain_text("Yogurt kept 5 days")  # newest first
    expect(page.locator("article", has_text="牛奶放了9天依然新鲜")).to_contain_text("【广告】")
    expect(page.locator("article", has_text="Yogurt")).not_to_contain_text("广告")
    assert violations == []
    page.close()
