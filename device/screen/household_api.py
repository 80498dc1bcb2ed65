"""The door screen's calls to the freshtap server, as the fridge's household (HTTP, contract v1).

`HouseholdApi` is the seam: the screen needs the server's inventory (for its freshness
explanations), one-tap accept and order status. `HttpHouseholdApi` is the real adapter (httpx,
`Authorization: Bearer <fridge password>`); tests pass a small fake.

Errors, so callers know whether trying again can help:

    HouseholdApiError
     ├── ApiUnavailable   no answer, a timeout, 408/429 or 5xx: retry later with the same key
     └── ApiRefused       any other 4xx (a 404 proposal, a 409 for another key): retrying will not help
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from freshtap.contract import FreshnessInfo, InventoryItem, Money

__all__ = [
    "ApiRefused",
    "ApiUnavailable",
    "HouseholdApi",
    "HouseholdApiError",
    "HttpHouseholdApi",
    "OrderInfo",
    "ServerInventory",
    "ServerItem",
]

log = logging.getLogger(__name__)

_TRANSIENT_STATUS = frozenset({408, 425, 429})


class HouseholdApiError(Exception):
    """A call to the server did not give the answer asked for."""


class ApiUnavailable(HouseholdApiError):
    """The server could not be reached or could not answer now; the same call may succeed later."""


class ApiRefused(HouseholdApiError):
    """The server answered with a refusal that repeating the call will not change."""

    def __init__(self, status: int, title: str, detail: str | None = None) -> None:
        super().__init__(f"{status} {title}" + (f": {detail}" if detail else ""))
        self.status = status
        self.title = title
        self.detail = detail


@dataclass(frozen=True)
class ServerItem:
    """What the server knows of one item: the facts its freshness was computed from, and the freshness."""

    item_id: str
    opened_at: datetime | None
    label_expiry: date | None
    freshness: FreshnessInfo | None


@dataclass(frozen=True)
class ServerInventory:
    items: dict[str, ServerItem]
    seq: int | None
    updated_at: datetime | None


@dataclass(frozen=True)
class OrderInfo:
    order_id: str
    status: str
    proposal_id: str | None
    amount: Money | None
    payment_state: str | None
    failure_reason: str | None
    next_action_url: str | None
    """Where the household approves a payment (bank authentication), when the order carries one."""

    @property
    def final(self) -> bool:
        return self.status in ("paid", "declined")

    @classmethod
    def from_json(cls, data: Any) -> OrderInfo:
        if not isinstance(data, dict) or not isinstance(data.get("order_id"), str):
            raise ApiUnavailable("the server's order answer has no order_id")
        raw_payment = data.get("payment")
        payment: dict[str, Any] = raw_payment if isinstance(raw_payment, dict) else {}
        amount: Money | None
        try:
            amount = Money.model_validate(data.get("amount"))
        except ValidationError:
            amount = None
        return cls(
            order_id=data["order_id"],
            status=str(data.get("status") or "unknown"),
            proposal_id=data.get("proposal_id") if isinstance(data.get("proposal_id"), str) else None,
            amount=amount,
            payment_state=_str_or_none(payment.get("state")),
            failure_reason=_str_or_none(payment.get("failure_reason")),
            next_action_url=_str_or_none(payment.get("next_action_url")),
        )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class HouseholdApi(Protocol):
    async def inventory(self, fridge_id: str) -> ServerInventory: ...

    async def accept(self, proposal_id: str, idempotency_key: str) -> OrderInfo: ...

    async def order(self, order_id: str) -> OrderInfo: ...

    async def aclose(self) -> None: ...


class HttpHouseholdApi:
    """`HouseholdApi` over HTTP with the fridge's credential; the constructor does no I/O."""

    def __init__(
        self,
        server_url: str,
        password: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = server_url.rstrip("/")
        self._password = password
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base,
                headers={"Authorization": f"Bearer {self._password}", "Accept": "application/json"},
                timeout=self._timeout,
                follow_redirects=False,
                transport=self._transport,
            )
        return self._client

    async def _call(self, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
        try:
            response = await self._http().request(method, path, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code in _TRANSIENT_STATUS:
            raise ApiUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            title, detail = f"HTTP {response.status_code}", None
            try:
                problem = response.json()
                title = str(problem.get("title") or title)
                detail = problem.get("detail")
            except ValueError:
                pass
            raise ApiRefused(response.status_code, title, detail if isinstance(detail, str) else None)
        try:
            return response.json()
        except ValueError:
            raise ApiUnavailable(f"{method} {path}: the answer is not JSON") from None

    async def inventory(self, fridge_id: str) -> ServerInventory:
        data = await self._call("GET", f"/api/v1/fridges/{quote(fridge_id, safe='')}/inventory")
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ApiUnavailable("the server's inventory answer has no item list")
        items: dict[str, ServerItem] = {}
        for raw in data["items"]:
            try:
                item = InventoryItem.model_validate(raw, strict=False)
            except ValidationError as exc:
                log.warning("server inventory item skipped: %s", exc.errors()[0].get("msg"))
                continue
            items[item.item_id] = ServerItem(item.item_id, item.opened_at, item.label_expiry, item.freshness)
        seq = data.get("seq") if isinstance(data.get("seq"), int) else None
        updated_at: datetime | None = None
        if isinstance(data.get("updated_at"), str):
            try:
                updated_at = datetime.fromisoformat(data["updated_at"].replace("Z", "+00:00"))
            except ValueError:
                updated_at = None
        return ServerInventory(items=items, seq=seq, updated_at=updated_at)

    async def accept(self, proposal_id: str, idempotency_key: str) -> OrderInfo:
        data = await self._call(
            "POST",
            f"/api/v1/proposals/{quote(proposal_id, safe='')}/accept",
            headers={"Idempotency-Key": idempotency_key},
        )
        return OrderInfo.from_json(data)

    async def order(self, order_id: str) -> OrderInfo:
        return OrderInfo.from_json(await self._call("GET", f"/api/v1/orders/{quote(order_id, safe='')}"))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
