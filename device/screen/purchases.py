"""One-tap buying from the door screen: an undo window, then an accept that charges at most once.

A tap on Buy becomes a `Tap` in state `pending` for `undo_seconds` (wall-clock seconds on the
screen's event loop), with an Undo button. Unless undone, it is then committed: written to the
`PurchaseLog` with a fresh `Idempotency-Key`, then sent as
`POST /api/v1/proposals/{id}/accept`. A request that gets no answer is repeated with the *same*
key after 1, 2, 4 ... `retry_max` seconds, so the server returns the one order it made however
many times the request arrives. A refusal (404, 409, ...) ends the tap. An accepted tap shows its
order, re-read every `order_poll_seconds` until it is `paid` or `declined`.

    pending ──undo──▶ cancelled
       │ (undo window over)
       ▼
    sending ◀──▶ retrying          (no answer: same key again later)
       │
       ├──▶ placed (order: pending → paid | declined | requires_action → ...)
       └──▶ failed (the server refused)

Everything here runs on the screen's asyncio loop; `on_change` is called after every change.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from freshtap.clock import Clock
from freshtap.contract import Money, OfferEntry, format_utc

from .household_api import ApiRefused, ApiUnavailable, HouseholdApi, OrderInfo
from .purchase_log import PurchaseLog

__all__ = ["NoServer", "Purchases", "Tap", "TapStatus"]

log = logging.getLogger(__name__)


class TapStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    RETRYING = "retrying"
    PLACED = "placed"
    FAILED = "failed"
    CANCELLED = "cancelled"


_COMMITTED = frozenset({TapStatus.SENDING, TapStatus.RETRYING, TapStatus.PLACED, TapStatus.FAILED})
_ACTIVE = frozenset({TapStatus.PENDING, TapStatus.SENDING, TapStatus.RETRYING})


class NoServer(RuntimeError):
    """The screen has no server to buy from."""


@dataclass
class Tap:
    tap_id: str
    proposal_id: str
    product_name: str
    merchant_name: str
    price: Money
    tapped_at: datetime
    idempotency_key: str
    status: TapStatus = TapStatus.PENDING
    commit_at: float = 0.0
    """Loop time when the undo window closes."""
    attempts: int = 0
    failure: str | None = None
    """`not_available`, `already_bought` or `rejected` once the server refused."""
    failure_detail: str | None = None
    order: OrderInfo | None = None
    undone: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def to_record(self) -> dict[str, Any]:
        order = self.order
        return {
            "tap_id": self.tap_id,
            "proposal_id": self.proposal_id,
            "product_name": self.product_name,
            "merchant_name": self.merchant_name,
            "price": self.price.model_dump(),
            "tapped_at": format_utc(self.tapped_at),
            "idempotency_key": self.idempotency_key,
            "status": self.status.value,
            "attempts": self.attempts,
            "failure": self.failure,
            "failure_detail": self.failure_detail,
            "order": None
            if order is None
            else {
                "order_id": order.order_id,
                "status": order.status,
                "proposal_id": order.proposal_id,
                "amount": None if order.amount is None else order.amount.model_dump(),
                "payment": {
                    "state": order.payment_state,
                    "failure_reason": order.failure_reason,
                    "next_action_url": order.next_action_url,
                },
            },
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Tap:
        order = record.get("order")
        return cls(
            tap_id=str(record["tap_id"]),
            proposal_id=str(record["proposal_id"]),
            product_name=str(record.get("product_name", "")),
            merchant_name=str(record.get("merchant_name", "")),
            price=Money.model_validate(record["price"]),
            tapped_at=datetime.fromisoformat(str(record["tapped_at"]).replace("Z", "+00:00")),
            idempotency_key=str(record["idempotency_key"]),
            status=TapStatus(record["status"]),
            attempts=int(record.get("attempts", 0)),
            failure=record.get("failure"),
            failure_detail=record.get("failure_detail"),
            order=None if not isinstance(order, dict) else OrderInfo.from_json(order),
        )


class Purchases:
    """The screen's taps; see the module docstring. Create, use and close it on one event loop."""

    def __init__(
        self,
        api: HouseholdApi | None,
        purchase_log: PurchaseLog,
        clock: Clock,
        *,
        undo_seconds: float,
        retry_min_seconds: float = 1.0,
        retry_max_seconds: float = 30.0,
        order_poll_seconds: float = 3.0,
        keep_final: int = 8,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._api = api
        self._log = purchase_log
        self._clock = clock
        self._undo = undo_seconds
        self._retry_min = retry_min_seconds
        self._retry_max = retry_max_seconds
        self._order_poll = order_poll_seconds
        self._keep_final = keep_final
        self._on_change = on_change
        self._taps: dict[str, Tap] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._closed = False

    @property
    def can_buy(self) -> bool:
        return self._api is not None

    @property
    def taps(self) -> list[Tap]:
        """Every tap this run knows, newest first."""
        return sorted(self._taps.values(), key=lambda t: t.tapped_at, reverse=True)

    def get(self, tap_id: str) -> Tap | None:
        return self._taps.get(tap_id)

    # ---- lifecycle ----------------------------------------------------------------------

    def restore(self) -> None:
        """Load committed taps from the log and resume the unfinished ones (same keys)."""
        for record in self._log.load():
            try:
                tap = Tap.from_record(record)
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("door screen: skipped an unreadable tap record (%s)", exc)
                continue
            if tap.status not in _COMMITTED:
                continue
            self._taps[tap.tap_id] = tap
            if tap.status in (TapStatus.SENDING, TapStatus.RETRYING) or (
                tap.status is TapStatus.PLACED and tap.order is not None and not tap.order.final
            ):
                self._spawn(tap, resume=True)

    async def close(self) -> None:
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def settled(self) -> None:
        """Wait until no tap has work left (every window closed, every request answered, every order final)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    def wake(self) -> None:
        """Retry now what waits for the server, and re-read open orders (the connection is back, a notice came)."""
        # Every current waiter is released; later waits use a fresh event.
        self._wake.set()
        self._wake = asyncio.Event()

    # ---- taps ---------------------------------------------------------------------------

    def tap(self, offer: OfferEntry) -> Tap:
        """Start buying `offer`; a second tap on the same proposal returns the tap already running."""
        if self._api is None:
            raise NoServer("no server configured")
        if self._closed:
            raise RuntimeError("purchases are closed")
        for existing in self._taps.values():
            if existing.proposal_id == offer.proposal_id and (
                existing.status in _ACTIVE or existing.status is TapStatus.PLACED
            ):
                return existing
        loop = asyncio.get_running_loop()
        tap = Tap(
            tap_id=secrets.token_urlsafe(9),
            proposal_id=offer.proposal_id,
            product_name=offer.product.name,
            merchant_name=offer.merchant.name,
            price=offer.price,
            tapped_at=self._clock.now(),
            idempotency_key=str(uuid.uuid4()),
            commit_at=loop.time() + self._undo,
        )
        self._taps[tap.tap_id] = tap
        self._spawn(tap, resume=False)
        self._changed()
        return tap

    def undo(self, tap_id: str) -> bool:
        """Cancel a tap still inside its undo window; False when it is unknown or already sent."""
        tap = self._taps.get(tap_id)
        if tap is None or tap.status is not TapStatus.PENDING:
            return False
        tap.status = TapStatus.CANCELLED
        tap.undone.set()
        self._changed()
        return True

    # ---- the work -----------------------------------------------------------------------

    def _spawn(self, tap: Tap, *, resume: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._run(tap, resume), name=f"door-screen-tap-{tap.tap_id}")
        self._tasks[tap.tap_id] = task
        task.add_done_callback(functools.partial(self._forget_task, tap.tap_id))

    def _forget_task(self, tap_id: str, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(tap_id, None)

    async def _run(self, tap: Tap, resume: bool) -> None:
        try:
            if not resume:
                remaining = tap.commit_at - asyncio.get_running_loop().time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(tap.undone.wait(), timeout=max(0.0, remaining))
                if tap.status is not TapStatus.PENDING:
                    return
                tap.status = TapStatus.SENDING
                self._persist()  # the key is on disk before the first request leaves
                self._changed()
            if tap.status in (TapStatus.SENDING, TapStatus.RETRYING):
                await self._send(tap)
            if tap.status is TapStatus.PLACED:
                await self._follow(tap)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("door screen: tap %s for proposal %s failed unexpectedly", tap.tap_id, tap.proposal_id)
            tap.status = TapStatus.FAILED
            tap.failure = "rejected"
            self._persist()
            self._changed()

    async def _send(self, tap: Tap) -> None:
        assert self._api is not None
        delay = self._retry_min
        while True:
            tap.attempts += 1
            try:
                order = await self._api.accept(tap.proposal_id, tap.idempotency_key)
            except ApiUnavailable as exc:
                log.info("door screen: accept of %s not answered (%s); will retry, same key", tap.proposal_id, exc)
                tap.status = TapStatus.RETRYING
                self._persist()
                self._changed()
                await self._pause(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            except ApiRefused as exc:
                tap.status = TapStatus.FAILED
                tap.failure = (
                    "not_available"
                    if exc.status in (404, 410)
                    else "already_bought"
                    if exc.status == 409
                    else "rejected"
                )
                tap.failure_detail = exc.detail or exc.title
                self._persist()
                self._changed()
                return
            tap.order = order
            tap.status = TapStatus.PLACED
            self._persist()
            self._changed()
            return

    async def _follow(self, tap: Tap) -> None:
        assert self._api is not None
        while tap.order is not None and not tap.order.final:
            await self._pause(self._order_poll)
            try:
                order = await self._api.order(tap.order.order_id)
            except ApiUnavailable:
                continue
            except ApiRefused as exc:
                log.warning("door screen: order %s can no longer be read (%s)", tap.order.order_id, exc)
                return
            if order != tap.order:
                tap.order = order
                self._persist()
                self._changed()

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, or less if `wake()` is called meanwhile."""
        wake = self._wake
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=seconds)

    def _persist(self) -> None:
        committed = [t for t in self.taps if t.status in _COMMITTED]
        unfinished = [t for t in committed if t.status in (TapStatus.SENDING, TapStatus.RETRYING)]
        finished = [t for t in committed if t not in unfinished]
        # Every unfinished tap is kept (its key must survive); of the finished, the newest few.
        keep = unfinished + finished[: self._keep_final]
        self._log.save([t.to_record() for t in keep])
        for tap in finished[self._keep_final :]:
            self._taps.pop(tap.tap_id, None)

    def _changed(self) -> None:
        try:
            self._on_change()
        except Exception:
            log.exception("door screen: change callback failed")
