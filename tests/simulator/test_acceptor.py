"""Accepting a proposal over HTTP: headers, retries with the same key, and counted failures."""

from __future__ import annotations

import threading

import httpx

from freshtap.simulator.acceptor import ProposalAcceptor
from freshtap.simulator.stats import StatsRecorder
from freshtap.simulator.virtual_fridge import SimFridge

FRIDGE = SimFridge("f-001", "user-1", "pw-secret")


def run(handler: httpx.MockTransport, *ids: str) -> StatsRecorder:
    stats = StatsRecorder()
    acceptor = ProposalAcceptor("http://api.test/", stats, workers=2, retry_delay=0.01, transport=handler)
    acceptor.start()
    for n, pid in enumerate(ids):
        assert acceptor.submit(FRIDGE, pid, f"key-{n}")
    acceptor.stop(timeout=5)
    return stats


def test_sends_the_fridge_credential_and_an_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"order_id": "o-1", "status": "paid"})

    stats = run(httpx.MockTransport(handle), "p 1/x").snapshot()
    assert stats.accepts_ok == 1 and stats.orders_by_status == {"paid": 1}
    (request,) = seen
    assert request.method == "POST"
    assert request.url.raw_path == b"/api/v1/proposals/p%201%2Fx/accept"
    assert request.headers["Authorization"] == "Bearer pw-secret"
    assert request.headers["Idempotency-Key"] == "key-0"


def test_server_errors_are_retried_with_the_same_key() -> None:
    keys: list[str] = []
    lock = threading.Lock()

    def handle(request: httpx.Request) -> httpx.Response:
        with lock:
            keys.append(request.headers["Idempotency-Key"])
            if len(keys) < 3:
                return httpx.Response(503)
        return httpx.Response(200, json={"order_id": "o-1", "status": "pending_payment"})

    stats = run(httpx.MockTransport(handle), "p-1").snapshot()
    assert keys == ["key-0"] * 3
    assert stats.accepts_ok == 1 and stats.orders_by_status == {"pending_payment": 1}


def test_client_errors_are_final_and_counted() -> None:
    calls = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(409, json={"title": "gone"})

    stats = run(httpx.MockTransport(handle), "p-1").snapshot()
    assert len(calls) == 1
    assert stats.accepts_failed == 1 and stats.accept_failures == {"http_409": 1}


def test_transport_failures_and_bad_bodies_never_raise() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("down/accept"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, text="<html>oops</html>")

    stats = run(httpx.MockTransport(handle), "down", "html").snapshot()
    assert stats.accepts_failed == 2
    assert stats.accept_failures == {"transport": 1, "bad_response": 1}


def test_submit_after_stop_is_counted_not_raised() -> None:
    stats = StatsRecorder()
    acceptor = ProposalAcceptor("http://api.test", stats)
    assert not acceptor.submit(FRIDGE, "p-1", "k")
    assert stats.snapshot().accept_failures == {"stopped": 1}
