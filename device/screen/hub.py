"""The door screen's live state: rebuilt when something changes, pushed to every open page.

`ScreenHub` lives on the screen's event loop. It re-reads the fridge (items, offers, connection)
when kicked — the offers watcher kicks it the moment the server's offers change, hooks and
`DoorScreen.refresh()` kick it from any thread — and at least every `poll_seconds`. A snapshot
that differs from the last one (ignoring the clock and undo countdowns, which the page runs
itself) goes to every subscriber. Each subscriber holds only the newest snapshot: a slow page
skips states, it never queues them.

It also keeps the server's inventory fresh: fetched at start, shortly after the fridge's items
change, when the connection comes back, and every `server_refresh_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from freshtap.clock import Clock

from .config import ScreenConfig
from .fridge_view import FridgeView
from .household_api import ApiRefused, ApiUnavailable, HouseholdApi, ServerInventory
from .purchases import Purchases
from .view import Telemetry, build_snapshot

__all__ = ["ScreenHub", "Subscription"]

log = logging.getLogger(__name__)

_VOLATILE = ("now",)
_SERVER_SETTLE_SECONDS = 2.0
"""After the fridge's items change, give the agent's snapshot this long to reach the server before asking."""


class Subscription:
    """One page's stream: the newest snapshot not yet sent, or the end."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1)

    def offer(self, snapshot: dict[str, Any] | None) -> None:
        with contextlib.suppress(asyncio.QueueEmpty):
            if self._queue.full():
                self._queue.get_nowait()
        self._queue.put_nowait(snapshot)

    async def next(self) -> dict[str, Any] | None:
        """The next snapshot; None when the hub closed (wrap in `asyncio.timeout` to bound the wait)."""
        return await self._queue.get()


def _comparable(snapshot: dict[str, Any]) -> str:
    trimmed = {k: v for k, v in snapshot.items() if k not in _VOLATILE}

    def strip_undo(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip_undo(v) for k, v in value.items() if k != "undo_ms"}
        if isinstance(value, list):
            return [strip_undo(v) for v in value]
        return value

    return json.dumps(strip_undo(trimmed), sort_keys=True, default=str)


class ScreenHub:
    def __init__(
        self,
        fridge: FridgeView,
        clock: Clock,
        config: ScreenConfig,
        api: HouseholdApi | None,
        purchases: Purchases,
    ) -> None:
        self._fridge = fridge
        self._clock = clock
        self._config = config
        self._api = api
        self._purchases = purchases
        self._loop = asyncio.get_running_loop()
        self._kick = asyncio.Event()
        self._fetch = asyncio.Event()
        self._subscribers: set[Subscription] = set()
        self._snapshot: dict[str, Any] | None = None
        self._compared = ""
        self._version = 0
        self._server: ServerInventory | None = None
        self._server_status = "none" if api is None else "unknown"
        self._telemetry_lock = threading.Lock()
        self._telemetry: Telemetry | None = None
        self._last_connection: str | None = None
        self._items_signature: tuple[Any, ...] | None = None
        self._fetch_after: float | None = None
        self._closed = False
        self.sections: dict[str, Callable[[], Any]] = {}
        """Extra parts of the snapshot, each read on every rebuild (e.g. `order_notices`)."""

    # ---- from any thread ----------------------------------------------------------------

    def kick_threadsafe(self) -> None:
        if not self._closed:
            self._loop.call_soon_threadsafe(self._kick.set)

    def record_telemetry(self, compartments: Mapping[str, float], door_open: bool) -> None:
        telemetry = Telemetry(dict(compartments), door_open, self._clock.now())
        with self._telemetry_lock:
            self._telemetry = telemetry
        self.kick_threadsafe()

    # ---- on the loop --------------------------------------------------------------------

    @property
    def snapshot(self) -> dict[str, Any]:
        if self._snapshot is None:
            self.rebuild()
        assert self._snapshot is not None
        return self._snapshot

    @property
    def version(self) -> int:
        return self._version

    def kick(self) -> None:
        self._kick.set()

    def subscribe(self) -> Subscription:
        subscription = Subscription()
        self._subscribers.add(subscription)
        subscription.offer(self.snapshot)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def close(self) -> None:
        """End every open stream (before the HTTP server shuts down, so it need not wait for them)."""
        self._closed = True
        for subscription in list(self._subscribers):
            subscription.offer(None)
        self._subscribers.clear()

    def rebuild(self) -> bool:
        """Re-read everything; True (and pushed to subscribers) when the screen changed."""
        fridge = self._fridge
        items = fridge.items
        connection = str(getattr(fridge.connection, "value", fridge.connection))
        signature = tuple((i.item_id, i.opened_at, i.label_expiry, i.compartment) for i in items)
        if self._items_signature is not None and signature != self._items_signature:
            self._fetch_after = self._loop.time() + _SERVER_SETTLE_SECONDS
            self._fetch.set()
        self._items_signature = signature
        if connection != self._last_connection:
            if connection == "online" and self._last_connection is not None:
                self._purchases.wake()
                self._fetch_after = None
                self._fetch.set()
            self._last_connection = connection
        with self._telemetry_lock:
            telemetry = self._telemetry
        snapshot = build_snapshot(
            fridge_id=fridge.fridge_id,
            now=self._clock.now(),
            connection=connection,
            items=items,
            server=self._server,
            server_status=self._server_status,
            offers=fridge.offers,
            taps=self._purchases.taps,
            loop_now=self._loop.time(),
            telemetry=telemetry,
            thresholds=self._config.freshness,
            can_buy=self._purchases.can_buy,
            undo_seconds=self._config.undo_seconds,
        )
        for key, section in self.sections.items():
            snapshot[key] = section()
        compared = _comparable(snapshot)
        changed = compared != self._compared
        if changed:
            self._version += 1
            self._compared = compared
        snapshot["version"] = self._version
        self._snapshot = snapshot
        if changed:
            for subscription in list(self._subscribers):
                subscription.offer(snapshot)
        return changed

    async def run(self) -> None:
        """Rebuild on every kick and at least every `poll_seconds`, until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=self._config.poll_seconds)
            self._kick.clear()
            try:
                self.rebuild()
            except Exception:
                log.exception("door screen: could not rebuild the screen")

    async def sync_server(self) -> None:
        """Keep the server's inventory fresh, until cancelled."""
        if self._api is None:
            return
        warned = False
        while True:
            try:
                self._server = await self._api.inventory(self._fridge.fridge_id)
                self._server_status = "ok"
                warned = False
            except (ApiUnavailable, ApiRefused) as exc:
                self._server_status = "unreachable"
                if not warned:
                    log.warning("door screen: the server's inventory is unavailable (%s)", exc)
                    warned = True
            self._kick.set()
            await self._wait_for_fetch()

    async def _wait_for_fetch(self) -> None:
        deadline = self._loop.time() + self._config.server_refresh_seconds
        while True:
            timeout = deadline - self._loop.time()
            if timeout <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._fetch.wait(), timeout=timeout)
            if not self._fetch.is_set():
                return
            self._fetch.clear()
            if self._fetch_after is None:
                return
            # Asked to fetch once the agent's snapshot has had time to reach the server.
            deadline = min(deadline, self._fetch_after)
            self._fetch_after = None
