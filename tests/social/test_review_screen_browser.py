"""The review panel on the door screen, in Chromium, against a live server: the draft with its facts,
poster and disclosure; approving it on the screen stores the consent with the exact text shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from freshtap.clock import SystemClock
from freshtap.device.screen import DoorScreen, ScreenConfig
from freshtap.server.store.social_models import ReviewConsent, ReviewDraft
from freshtap.server.store.social_outbox_models import SocialOutboxEntry
from tests.payments.conftest import live_server
from tests.screen.fakes import FakeApi, FakeFridge
from tests.server.conftest import Api
from tests.social.conftest import draft_of, reviewed_order

pytestmark = pytest.mark.services


@pytest.fixture
def database_url(tmp_path: Path) -> str:  # the browser lane runs on SQLite; the API lane covers PostgreSQL
    return f"sqlite:///{tmp_path / 'screen.db'}"


@pytest.fixture
def screen_for(api: Api, tmp_path: Path) -> Iterator[Any]:
    screens: list[DoorScreen] = []

    def start(password: str) -> DoorScreen:
        screen = DoorScreen(
            FakeFridge(),
            SystemClock(),
            ScreenConfig(port=0, server_url=server, password=password, state_dir=tmp_path / "screen"),
            api=FakeApi(),
        )
        screen.start()
        screens.append(screen)
        return screen

    with live_server(api.services) as server:
        yield start
        for screen in screens:
            screen.stop()


def test_the_owner_approves_a_draft_on_the_door_screen(api: Api, screen_for: Any, chromium: Any) -> None:
    reviewed = reviewed_order(api)
    draft = draft_of(api, reviewed)
    screen = screen_for(reviewed.home.fridge.password)
    page = chromium.new_context(viewport={"width": 1280, "height": 1400}, locale="zh-CN").new_page()
    try:
        page.goto(screen.url)
        page.evaluate("window.localStorage.setItem('freshtap.lang', 'zh')")
        page.reload()
        card = page.locator(f"[data-draft-id='{draft['draft_id']}']")
        expect(card).to_be_visible(timeout=10_000)
        expect(page.locator("#reviews-title")).to_have_text("评价你的购买")
        expect(card.locator(".review-product")).to_have_text("Whole milk 1 L")
        # Every sentence with the facts it states; the disclosure as it will be posted.
        sentences = card.locator(".review-sentence")
        expect(sentences).to_have_count(len(draft["sentences"]["zh"]))
        expect(sentences.first.locator(".sentence-text")).to_have_text(draft["sentences"]["zh"][0]["text"])
        expect(card.locator("[data-fact-id='lasted']")).to_contain_text("冰箱实测 · days: 2")
        expect(card.locator(".review-preview")).to_have_text(draft["preview"]["zh"])
        expect(card.locator(".review-preview")).to_contain_text("【广告】")
        poster = card.locator(".review-poster")
        expect(poster).to_have_js_property("complete", True)
        assert poster.evaluate("img => img.naturalWidth") == 1080

        # English follows the screen's language toggle.
        page.locator("#lang-toggle").click()
        expect(card.locator(".review-preview")).to_have_text(draft["preview"]["en"])
        page.locator("#lang-toggle").click()
        expect(card.locator(".review-preview")).to_have_text(draft["preview"]["zh"])

        card.locator("input[value='xiaohongshu']").check()
        card.locator(".review-approve").click()
        expect(page.locator(".review-message")).to_contain_text("已同意")
        expect(page.locator(".review-message")).to_contain_text("/r/")
        expect(card).to_have_count(0)
    finally:
        page.context.close()

    with api.services.sessions() as session:
        consents = session.exec(select(ReviewConsent).order_by(ReviewConsent.channel)).all()
        assert [(c.channel, c.language, c.shown_text) for c in consents] == [
            ("local", "zh", draft["preview"]["zh"]),
            ("xiaohongshu", "zh", draft["preview"]["zh"]),
        ]
        assert session.get(ReviewDraft, draft["draft_id"]).status == "approved"  # type: ignore[union-attr]
        assert len(session.exec(select(SocialOutboxEntry)).all()) == 2


def test_the_owner_rewords_then_skips_on_the_screen(api: Api, screen_for: Any, chromium: Any) -> None:
    reviewed = reviewed_order(api)
    draft = draft_of(api, reviewed)
    screen = screen_for(reviewed.home.fridge.password)
    page = chromium.new_context(viewport={"width": 1280, "height": 1400}, locale="en-US").new_page()
    try:
        page.goto(screen.url)
        page.evaluate("window.localStorage.setItem('freshtap.lang', 'en')")
        page.reload()
        card = page.locator(f"[data-draft-id='{draft['draft_id']}']")
        card.locator(".review-edit").click()
        card.locator(".review-edit-text").fill("Lovely milk, always cold.")
        card.locator(".review-save").click()
        expect(card.locator(".review-preview")).to_contain_text("Lovely milk, always cold.")
        expect(card.locator(".sentence-facts")).to_have_text("Your own wording")
        card.locator(".review-skip").click()
        expect(page.locator(".review-message")).to_have_text("Skipped. Nothing will be posted.")
    finally:
        page.context.close()
    with api.services.sessions() as session:
        row = session.get(ReviewDraft, draft["draft_id"])
        assert row is not None and row.status == "skipped" and row.edited_en == "Lovely milk, always cold."
        assert session.exec(select(ReviewConsent)).all() == []
