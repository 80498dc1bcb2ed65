"""`DoorScreen`: the door screen as one of the agent's parts, with `start()` / `stop()`.

It serves the web app (`app.py`) with uvicorn on its own thread and event loop, bound to loopback,
and watches the fridge's live offers on another thread so a new offer reaches the page at once.
The constructor does no work; `start()` returns once the port is bound; `stop()` ends the open
event streams first, so shutting down never waits on a page.

Hooks for the composition root, all safe to call from any thread and cheap:
`on_connection(state)` (pass it as `FridgeAgent(on_connection=...)`), `on_notice(notice)`,
`record_telemetry(compartments, door_open)` and `refresh()` (after the inventory changed). Without
them the screen still catches up within `poll_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import threading
from collections.abc import Mapping

import uvicorn

from freshtap.clock import Clock
from freshtap.contract import NoticeMessage, OfferEntry

from .app import create_app
from .config import ScreenConfig
from .fridge_view import FridgeView
from .household_api import HouseholdApi, HttpHouseholdApi
from .hub import ScreenHub
from .notices import NoticeBoard
from .purchases import Purchases
from .reviews import ReviewDecisions

__all__ = ["DoorScreen", "ScreenError"]

log = logging.getLogger(__name__)

_WATCH_SLICE = 0.25


def _changed(last: tuple[OfferEntry, ...], offers: tuple[OfferEntry, ...]) -> bool:
    # Each `offers` message gives the board a new tuple, so identity tells a change.
    return offers is not last


class ScreenError(RuntimeError):
    """The screen could not start (port taken, or it did not come up in time)."""


class _Server(uvicorn.Server):
    """uvicorn that says when its sockets are bound, instead of being polled for it."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.bound = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.bound.set()


class DoorScreen:
    def __init__(
        self,
        fridge: FridgeView,
        clock: Clock,
        config: ScreenConfig,
        *,
        api: HouseholdApi | None = None,
        review_decisions: ReviewDecisions | None = None,
    ) -> None:
        self._review_decisions = review_decisions
        """Told of each approve / skip the server accepted (the fridge's review videos)."""
        self._fridge = fridge
        self._clock = clock
        self._config = config
        self._api = api
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._watcher: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._hub: ScreenHub | None = None
        self._purchases: Purchases | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_telemetry: tuple[dict[str, float], bool] | None = None
        self._lock = threading.Lock()
        self._port: int | None = None
        self._notices = NoticeBoard()

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("the door screen is not started")
        host = f"[{self._config.host}]" if ":" in self._config.host else self._config.host
        return f"http://{host}:{self._port}"

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            raise RuntimeError("the door screen is already started")
        api = self._api
        if api is None and self._config.server_url is not None:
            assert self._config.password is not None
            api = HttpHouseholdApi(self._config.server_url, self._config.password, timeout=self._config.http_timeout)
        app = create_app(self._fridge, self._clock, self._config, api, on_ready=self._on_ready, notices=self._notices,
                         review_decisions=self._review_decisions)
        server = _Server(
            uvicorn.Config(
                app,
                host=self._config.host,
                port=self._config.port,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=2,
                ws="none",
            )
        )
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(target=server.run, name="door-screen-http", daemon=True)
        self._thread.start()
        if not server.bound.wait(timeout) or not server.started:
            self._server.should_exit = True
            self._thread.join(timeout)
            self._thread = None
            raise ScreenError(f"the door screen did not start on {self._config.host}:{self._config.port}")
        sockets = [s for srv in server.servers for s in srv.sockets]
        self._port = int(sockets[0].getsockname()[1])
        self._watcher = threading.Thread(target=self._watch_offers, name="door-screen-offers", daemon=True)
        self._watcher.start()

    def stop(self, timeout: float | None = None) -> None:
        budget = 10.0 if timeout is None else timeout
        self._stopping.set()
        loop, hub = self._loop, self._hub
        if loop is not None and hub is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended meanwhile
                loop.call_soon_threadsafe(hub.close)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(budget)
        if self._watcher is not None:
            self._watcher.join(budget)
        self._thread = self._watcher = self._server = None
        self._hub = self._purchases = None
        self._loop = None
        self._ready.clear()

    def __enter__(self) -> DoorScreen:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- hooks --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-read the fridge now (after its inventory changed)."""
        hub = self._hub
        if hub is not None:
            hub.kick_threadsafe()

    def on_connection(self, state: object) -> None:
        self.refresh()

    def on_notice(self, notice: NoticeMessage) -> None:
        """An `order_status` notice: shown in the orders area (notices.py); open orders are re-read now."""
        self._notices.record(notice)
        loop, purchases = self._loop, self._purchases
        if notice.body.kind == "order_status" and loop is not None and purchases is not None:
            loop.call_soon_threadsafe(purchases.wake)
        self.refresh()

    def record_telemetry(self, compartments: Mapping[str, float], door_open: bool) -> None:
        """The latest compartment temperatures and door state (also what the agent publishes)."""
        with self._lock:
            hub = self._hub
            if hub is None:
                self._pending_telemetry = (dict(compartments), door_open)
                return
        hub.record_telemetry(compartments, door_open)

    # ---- internals ----------------------------------------------------------------------

    def _on_ready(self, hub: ScreenHub, purchases: Purchases) -> None:
        with self._lock:
            self._hub, self._purchases = hub, purchases
            hub.sections["order_notices"] = self._notices.entries
            self._loop = asyncio.get_running_loop()
            pending, self._pending_telemetry = self._pending_telemetry, None
        if pending is not None:
            hub.record_telemetry(*pending)
        self._ready.set()

    def _watch_offers(self) -> None:
        seen: tuple[OfferEntry, ...] = self._fridge.offers
        while not self._stopping.is_set():
            try:
                seen = self._fridge.wait_for_offers(functools.partial(_changed, seen), _WATCH_SLICE)
            except TimeoutError:
                continue
            except Exception:
                log.exception("door screen: watching the offers failed")
                self._stopping.wait(_WATCH_SLICE)
                continue
            self.refresh()
