"""`HttpHouseholdApi`: what it sends, and which failures are worth retrying (httpx's MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from freshtap.device.screen import ApiRefused, ApiUnavailable, HttpHouseholdApi

ORDER = {"order_id": "o-1", "status": "requires_action", "proposal_id": "p-1",
         "amount": {"amount_minor": 1290, "currency": "CNY"},
         "payment": {"state": "requires_action", "provider": "sandbox", "reference": "r",
                     "failure_reason": None, "next_action_url": "https://bank.example/a"}}


def api_answering(status: int, body: object, seen: list[httpx.Request] | None = None) -> HttpHouseholdApi:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, json=body)

    return HttpHouseholdApi("http://server.test/", "pw-secret", transport=httpx.MockTransport(handle))


async def test_accept_sends_the_credential_and_the_key() -> None:
    seen: list[httpx.Request] = []
    api = api_answering(200, ORDER, seen)
    order = await api.accept("p/1", "key-1")
    await api.aclose()
    (request,) = seen
    assert request.method == "POST" and request.url.raw_path == b"/api/v1/proposals/p%2F1/accept"
    assert request.headers["authorization"] == "Bearer pw-secret"
    assert request.headers["idempotency-key"] == "key-1"
    assert order.status == "requires_action" and order.next_action_url == "https://bank.example/a"
    assert not order.final


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_no_answer_worth_keeping_is_unavailable(status: int) -> None:
    api = api_answering(status, {"title": "busy"})
    with pytest.raises(ApiUnavailable):
        await api.accept("p-1", "k")
    await api.aclose()


async def test_a_refusal_carries_the_problem() -> None:
    api = api_answering(409, {"title": "Conflict", "detail": "accepted with another key"})
    with pytest.raises(ApiRefused) as refused:
        await api.accept("p-1", "k")
    await api.aclose()
    assert refused.value.status == 409 and refused.value.detail == "accepted with another key"


async def test_network_errors_are_unavailable() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    api = HttpHouseholdApi("http://server.test", "pw", transport=httpx.MockTransport(fail))
    with pytest.raises(ApiUnavailable):
        await api.order("o-1")
    with pytest.raises(ApiUnavailable):
        await api.inventory("f-1")
    await api.aclose()


async def test_inventory_keeps_good_items_and_skips_bad_ones() -> None:
    good = {"item_id": "milk", "name": "Milk", "category": "dairy", "added_at": "2026-11-20T08:00:00Z",
            "label_expiry": "2026-11-25", "opened_at": None,
            "freshness": {"state": "expiring", "expires_at": "2026-11-26T00:00:00Z", "basis": "label",
                          "explanation": "use by 25 Nov on the label"}}
    bad = {"item_id": "x", "name": "", "category": "dairy", "added_at": "not a time"}
    api = api_answering(200, {"fridge_id": "f-1", "seq": 4, "updated_at": "2026-11-23T12:00:00Z",
                              "items": [good, bad]})
    inventory = await api.inventory("f-1")
    await api.aclose()
    assert list(inventory.items) == ["milk"] and inventory.seq == 4
    milk = inventory.items["milk"]
    assert milk.freshness is not None and milk.freshness.explanation == "use by 25 Nov on the label"
    malformed = api_answering(200, ["not", "an", "object"])
    with pytest.raises(ApiUnavailable):
        await malformed.inventory("f-1")
    await malformed.aclose()
