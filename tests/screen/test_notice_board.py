"""`NoticeBoard`: the newest order notice per order, for the door screen (no browser)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from freshtap.clock import ManualClock
from freshtap.contract import NoticeBody, NoticeMessage
from freshtap.device.screen import DoorScreen, ScreenConfig
from freshtap.device.screen.notices import NoticeBoard
from tests.screen.fakes import START, FakeApi, FakeFridge


def _notice(order_id: str, status: str, minutes: int = 0, **fields: Any) -> NoticeMessage:
    body = {"kind": "order_status", "order_id": order_id, "status": status, **fields}
    return NoticeMessage(
        v=1, type="notice", fridge_id="f-1", at=START + timedelta(minutes=minutes), body=NoticeBody.model_validate(body)
    )


def test_newest_per_order_newest_first_and_capped() -> None:
    board = NoticeBoard(keep=2)
    assert board.record(_notice("o-1", "shipped", 1, text={"en": "on its way", "zh": "运送中", "fr": "x"}))
    assert not board.record(_notice("o-1", "paid", 0))  # older than the one held
    assert board.record(
        _notice("o-2", "declined", 2, next_action={"kind": "update_payment_method", "url": "javascript:x"})
    )
    assert [e["order_id"] for e in board.entries()] == ["o-2", "o-1"]
    assert board.entries()[1]["text"] == {"en": "on its way", "zh": "运送中"}
    assert board.payment_url("o-2") is None  # only an http(s) URL is ever drawn
    assert board.record(_notice("o-3", "restocked", 3))
    assert [e["order_id"] for e in board.entries()] == ["o-3", "o-2"]
    review = NoticeMessage(
        v=1, type="notice", fridge_id="f-1", at=START, body=NoticeBody.model_validate({"kind": "review_draft"})
    )
    assert not board.record(review)


def test_the_screen_serves_notices_in_its_snapshot_and_the_payment_qr() -> None:
    screen = DoorScreen(FakeFridge(), ManualClock(START), ScreenConfig(port=0, poll_seconds=0.2), api=FakeApi())
    with screen:
        action = {"kind": "update_payment_method", "url": "https://pay.example/method"}
        screen.on_notice(_notice("o-9", "declined", next_action=action))
        state = httpx.get(screen.url + "/api/state").json()
        assert [n["order_id"] for n in state["order_notices"]] == ["o-9"]
        assert state["order_notices"][0]["next_action"] == action
        qr = httpx.get(screen.url + "/api/notices/o-9/qr.svg")
        assert qr.status_code == 200 and qr.content.startswith(b"<svg")
        assert httpx.get(screen.url + "/api/notices/o-1/qr.svg").status_code == 404
