"""One-tap buying: the undo window, one idempotency key per tap kept across retries and restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from freshtap.clock import ManualClock
from freshtap.device.screen import ApiRefused, ApiUnavailable, Purchases, TapStatus
from freshtap.device.screen.purchase_log import PurchaseLog
from freshtap.device.screen.purchases import NoServer
from tests.screen.fakes import START, FakeApi, offer, order


class Changes:
    """Counts `on_change` calls and lets a test await a condition on the purchases."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.event.set()

    async def until(self, condition: Callable[[], bool], within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while not condition():
                self.event.clear()
                await self.event.wait()


def make(api: FakeApi | None, tmp_path: Path | None, changes: Changes, undo: float = 0.0, **kw: float) -> Purchases:
    return Purchases(
        api, PurchaseLog(tmp_path), ManualClock(START), undo_seconds=undo, retry_min_seconds=0.01,
        retry_max_seconds=0.05, order_poll_seconds=0.01, on_change=changes, **kw,
    )


async def test_undo_inside_the_window_sends_nothing() -> None:
    api, changes = FakeApi(), Changes()
    api.accept_script = [order()]
    purchases = make(api, None, changes, undo=30)
    tap = purchases.tap(offer())
    assert tap.status is TapStatus.PENDING
    assert purchases.undo(tap.tap_id)
    assert tap.status is TapStatus.CANCELLED
    async with asyncio.timeout(5):
        await purchases.settled()  # the tap's work ended, without a request
    assert [c for c in api.calls if c[0] == "accept"] == []
    assert not purchases.undo(tap.tap_id)
    await purchases.close()


async def test_a_tap_is_sent_after_the_window_and_follows_its_order() -> None:
    api, changes = FakeApi(), Changes()
    api.accept_script = [order(status="pending")]
    api.order_script = [order(status="pending"), order(status="paid")]
    purchases = make(api, None, changes, undo=0.05)
    loop = asyncio.get_running_loop()
    tapped = loop.time()
    tap = purchases.tap(offer())
    assert purchases.tap(offer()) is tap  # a second tap on the same proposal is the same purchase
    await changes.until(lambda: tap.status is TapStatus.PLACED)
    assert loop.time() - tapped >= 0.05
    await changes.until(lambda: tap.order is not None and tap.order.status == "paid")
    assert not purchases.undo(tap.tap_id)
    await purchases.close()


async def test_unanswered_requests_are_retried_with_the_same_key(tmp_path: Path) -> None:
    api, changes = FakeApi(), Changes()
    api.accept_script = [ApiUnavailable("down"), ApiUnavailable("still down"), order()]
    purchases = make(api, tmp_path, changes)
    tap = purchases.tap(offer())
    await changes.until(lambda: tap.status is TapStatus.PLACED)
    keys = {call[2] for call in api.calls if call[0] == "accept"}
    assert len([c for c in api.calls if c[0] == "accept"]) == 3
    assert keys == {tap.idempotency_key}
    await purchases.close()


@pytest.mark.parametrize(
    ("status", "failure"), [(404, "not_available"), (409, "already_bought"), (422, "rejected")]
)
async def test_a_refusal_ends_the_tap(status: int, failure: str) -> None:
    api, changes = FakeApi(), Changes()
    api.accept_script = [ApiRefused(status, "No", "because")]
    purchases = make(api, None, changes)
    tap = purchases.tap(offer())
    await changes.until(lambda: tap.status is TapStatus.FAILED)
    assert tap.failure == failure and tap.failure_detail == "because"
    assert len([c for c in api.calls if c[0] == "accept"]) == 1
    await purchases.close()


async def test_the_key_is_on_disk_before_the_request_and_a_restart_resumes_with_it(tmp_path: Path) -> None:
    api, changes = FakeApi(), Changes()
    seen_on_disk: list[bool] = []
    real_accept = api.accept

    async def accept(proposal_id: str, key: str):  # type: ignore[no-untyped-def]
        saved = json.loads((tmp_path / "door-screen-taps.json").read_text())["taps"]
        seen_on_disk.append(any(t["idempotency_key"] == key for t in saved))
        return await real_accept(proposal_id, key)

    api.accept = accept  # type: ignore[method-assign]
    api.accept_script = [ApiUnavailable("down")]
    first = make(api, tmp_path, changes)
    tap = first.tap(offer())
    await changes.until(lambda: tap.status is TapStatus.RETRYING)
    await first.close()  # the agent stops while the server is unreachable
    assert seen_on_disk == [True]

    api2, changes2 = FakeApi(), Changes()
    api2.accept_script = [order()]
    second = make(api2, tmp_path, changes2)
    second.restore()
    (resumed,) = second.taps
    await changes2.until(lambda: resumed.status is TapStatus.PLACED)
    assert api2.calls == [("accept", tap.proposal_id, tap.idempotency_key)]
    await second.close()

    third = make(FakeApi(), tmp_path, Changes())
    third.restore()  # a placed, paid order is shown again but never re-sent
    assert [t.status for t in third.taps] == [TapStatus.PLACED]
    await third.close()


async def test_wake_retries_at_once() -> None:
    api, changes = FakeApi(), Changes()
    api.accept_script = [ApiUnavailable("down"), order()]
    purchases = Purchases(api, PurchaseLog(None), ManualClock(START), undo_seconds=0, retry_min_seconds=60,
                          retry_max_seconds=60, on_change=changes)  # without wake() a retry is a minute away
    tap = purchases.tap(offer())
    await changes.until(lambda: tap.status is TapStatus.RETRYING)
    purchases.wake()
    await changes.until(lambda: tap.status is TapStatus.PLACED, within=5)
    await purchases.close()


async def test_without_a_server_there_is_no_buying() -> None:
    purchases = make(None, None, Changes())
    assert not purchases.can_buy
    with pytest.raises(NoServer):
        purchases.tap(offer())
    await purchases.close()


async def test_only_the_newest_finished_taps_are_kept(tmp_path: Path) -> None:
    api, changes = FakeApi(), Changes()
    api.accept_script = [order()]
    purchases = make(api, tmp_path, changes, keep_final=2)
    taps = []
    for n in range(4):
        tap = purchases.tap(offer(f"p-{n}"))
        taps.append(tap)
        await changes.until(lambda tap=tap: tap.status is TapStatus.PLACED)
    saved = json.loads((tmp_path / "door-screen-taps.json").read_text())["taps"]
    assert len(saved) == 2 and len(purchases.taps) == 2
    await purchases.close()
