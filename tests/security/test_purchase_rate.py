"""The purchase rate limit per household: 429 with Retry-After past N purchases in the window,
replays never refused, and the limit holds when two workers take purchases at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from freshtap.clock import ManualClock
from freshtap.contract import Channel
from freshtap.server.api.deps import PurchaseSlot
from freshtap.server.domain.purchase_rate import PurchaseRate, PurchaseRateExceeded, retry_after_seconds
from freshtap.server.services import accounts
from freshtap.server.services.purchase_limits import PurchaseLimiter
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from freshtap.settings import PurchaseLimitSettings
from tests.security.conftest import MakeApi
from tests.security.world import MILK, item, offer, send

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_the_rule_counts_a_sliding_window() -> None:
    rule = PurchaseRate(2, timedelta(hours=1))
    assert retry_after_seconds([], NOW, rule) is None
    assert retry_after_seconds([NOW - timedelta(minutes=10)], NOW, rule) is None
    recent = [NOW - timedelta(minutes=50), NOW - timedelta(minutes=10)]
    assert retry_after_seconds(recent, NOW, rule) == 600  # the older one leaves the window in 10 minutes
    assert retry_after_seconds([*recent, NOW - timedelta(hours=2)], NOW, rule) == 600
    assert retry_after_seconds([NOW - timedelta(hours=1), NOW], NOW, rule) is None  # exactly a window ago: out


def test_accept_past_the_limit_is_429_with_retry_after_and_replays_pass(make_api: MakeApi) -> None:
    api = make_api(purchases={"max_per_window": 2, "window_seconds": 3600})
    merchant = api.merchant()
    offer(api, merchant, MILK, "Whole milk 1 L")
    home = api.fridge()
    items = [item(api, MILK, f"it-{k}", "Whole milk 1 L", timedelta(hours=20)) for k in range(4)]
    assert send(api, home.fridge_id, Channel.INVENTORY, 1, "inventory", {"items": items}) == "applied"
    headers = api.as_(home.password)
    offers = api.client.get(f"/api/v1/fridges/{home.fridge_id}/offers", headers=headers).json()["body"]["offers"]
    proposals = [o["proposal_id"] for o in offers]
    assert len(proposals) == 4

    def tap(proposal_id: str, key: str) -> object:
        return api.client.post(f"/api/v1/proposals/{proposal_id}/accept", headers={**headers, "Idempotency-Key": key})

    first = tap(proposals[0], "k1")
    api.clock.advance(timedelta(minutes=10))
    second = tap(proposals[1], "k2")
    assert first.status_code == 200 and second.status_code == 200  # type: ignore[attr-defined]
    api.clock.advance(timedelta(minutes=10))
    refused = tap(proposals[2], "k3")
    assert refused.status_code == 429  # type: ignore[attr-defined]
    assert refused.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert refused.headers["retry-after"] == str(40 * 60)  # type: ignore[attr-defined]
    assert refused.json()["type"].endswith("/purchase-rate")  # type: ignore[attr-defined]
    assert refused.json()["retry_after"] == 40 * 60  # type: ignore[attr-defined]
    # Nothing was charged for the refused tap, and the proposal is still live.
    assert api.services.payments.succeeded_charges() == 2  # type: ignore[attr-defined]
    # A replay of a key already used returns its order, even with the window full.
    replay = tap(proposals[0], "k1")
    assert replay.status_code == 200  # type: ignore[attr-defined]
    assert replay.json()["order_id"] == first.json()["order_id"]  # type: ignore[attr-defined]
    # Once the first purchase leaves the window, one more goes through.
    api.clock.advance(timedelta(minutes=40))
    assert tap(proposals[2], "k3").status_code == 200  # type: ignore[attr-defined]
    assert tap(proposals[3], "k4").status_code == 429  # type: ignore[attr-defined]


def test_two_workers_never_exceed_the_limit_together(database_url: str) -> None:
    clock = ManualClock(NOW)
    engines = [create_db_engine(database_url) for _ in range(2)]
    migrate(engines[0])
    home = accounts.provision_fridge(session_factory(engines[0]), clock, household_name="home")
    limiters = [
        PurchaseLimiter(session_factory(e), clock, PurchaseLimitSettings(max_per_window=5, window_seconds=3600))
        for e in engines
    ]
    counted: list[bool] = []
    refused: list[int] = []
    failures: list[BaseException] = []
    start = threading.Barrier(16)
    lock = threading.Lock()

    def buy(n: int) -> None:
        start.wait()
        try:
            result = limiters[n % 2].reserve(home.household_id, f"key-{n % 12}")  # 12 keys, some sent twice
            with lock:
                counted.append(result)
        except PurchaseRateExceeded as exc:
            with lock:
                refused.append(exc.retry_after_seconds)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=buy, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for engine in engines:
        engine.dispose()
    assert not failures, failures
    assert counted.count(True) == 5
    assert refused and all(seconds == 3600 for seconds in refused)


def test_every_purchase_route_counts_against_the_limit(make_api: MakeApi) -> None:
    """A route that takes an `Idempotency-Key` from a household is a purchase: it must carry `PurchaseSlot`."""
    from fastapi.routing import APIRoute

    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            inner = getattr(route, "original_router", None)  # FastAPI's included routers
            if inner is not None:
                yield from walk(inner.routes)

    app = make_api().client.app
    purchases = [
        route
        for route in walk(app.routes)  # type: ignore[attr-defined]
        if "Idempotency-Key" in {p.alias for p in route.dependant.header_params}
    ]
    assert purchases, "no purchase route found"
    missing = [r.path for r in purchases if PurchaseSlot not in r.dependencies]
    assert not missing, f"purchase routes without dependencies=[PurchaseSlot]: {missing}"


