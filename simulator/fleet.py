"""A fleet of virtual fridges on one clock, driving the system through MQTT and HTTP only.

Threads: one scheduler thread for the whole fleet keeps a heap of (next due time, fridge) in
simulated time and calls each fridge's `tick` when it is due — publishing never blocks, so one
thread serves hundreds of fridges; one paho network thread per fridge (`loop_start`); a small
worker pool (`ProposalAcceptor`) for the HTTP accepts. `stats` may be read from any thread.

Waits are computed from simulated time with the clock's `real_seconds`, bounded above so that a
clock that jumps (a `ManualClock` in a test) is noticed within half a second.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from freshtap.clock import Clock
from freshtap.device.agent import FridgeAgent

from .acceptor import ProposalAcceptor
from .stats import FleetStats, StatsRecorder
from .virtual_fridge import SimFridge, VirtualFridge

__all__ = ["Fleet"]

log = logging.getLogger(__name__)

_MIN_WAIT = 0.02
_MAX_WAIT = 0.5
# One paho network thread (select()-based, descriptors < 1024) and three descriptors per fridge.
_FRIDGES_PER_PROCESS = 300


class Fleet:
    """Virtual households and their fridges; `start()`, `stop()`, or `run_for(seconds)`."""

    def __init__(
        self,
        fridges: Sequence[SimFridge],
        mqtt_url: str,
        api_base_url: str,
        clock: Clock,
        seed: int,
        accept_probability: float = 0.7,
        *,
        state_dir: Path = Path(".freshtap/simulator"),
        inventory_every: timedelta = timedelta(minutes=30),
        telemetry_every: timedelta = timedelta(minutes=10),
        accept_workers: int = 8,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 0.0 <= accept_probability <= 1.0:
            raise ValueError("accept_probability must be within 0..1")
        ids = [f.fridge_id for f in fridges]
        if len(set(ids)) != len(ids):
            raise ValueError("fridge ids must be unique")
        if inventory_every <= timedelta(0) or telemetry_every <= timedelta(0):
            raise ValueError("publishing intervals must be positive")
        if len(fridges) > _FRIDGES_PER_PROCESS:
            log.warning(
                "%d fridges in one process: paho's select() loop supports about %d; "
                "split the fleet over several processes",
                len(fridges), _FRIDGES_PER_PROCESS,
            )
        self._clock = clock
        self._stats = StatsRecorder()
        self._acceptor = ProposalAcceptor(
            api_base_url, self._stats, workers=accept_workers, transport=http_transport
        )
        self._fridges = tuple(
            VirtualFridge(
                credentials,
                mqtt_url=mqtt_url,
                state_dir=Path(state_dir),
                clock=clock,
                seed=seed,
                accept_probability=accept_probability,
                acceptor=self._acceptor,
                stats=self._stats,
                inventory_every=inventory_every,
                telemetry_every=telemetry_every,
            )
            for credentials in fridges
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._started: list[VirtualFridge] = []

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Connect every fridge and publish its first snapshot; returns without waiting for the broker."""
        with self._lock:
            if self._scheduler is not None:
                return
            self._stopping.clear()
            self._acceptor.start()
            due: list[tuple[datetime, int]] = []
            try:
                for index, fridge in enumerate(self._fridges):
                    due.append((fridge.start(self._clock.now()), index))
                    self._started.append(fridge)
            except BaseException:
                self._stop_fridges(5.0)
                self._acceptor.stop(1.0)
                raise
            heapq.heapify(due)
            scheduler = threading.Thread(target=self._run, args=(due,), name="sim-scheduler", daemon=True)
            self._scheduler = scheduler
            scheduler.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop scheduling, finish or drop pending accepts, take every fridge offline cleanly."""
        with self._lock:
            scheduler, self._scheduler = self._scheduler, None
            if scheduler is None:
                return
            self._stopping.set()
        scheduler.join(timeout / 4)
        if scheduler.is_alive():
            log.warning("simulator scheduler did not stop within %.1fs", timeout / 4)
        self._acceptor.stop(timeout / 4)
        self._stop_fridges(timeout / 2)

    def run_for(self, real_seconds: float) -> FleetStats:
        """Start, run for `real_seconds` of wall time, stop; the final counts."""
        self.start()
        try:
            self._stopping.wait(real_seconds)
        finally:
            self.stop()
        return self.stats

    # ---- observation ---------------------------------------------------------------------

    @property
    def stats(self) -> FleetStats:
        online = sum(1 for fridge in self._fridges if fridge.online)
        return self._stats.snapshot(fridges_online=online)

    @property
    def fridge_ids(self) -> tuple[str, ...]:
        return tuple(f.fridge_id for f in self._fridges)

    def agent(self, fridge_id: str) -> FridgeAgent:
        """The agent of one virtual fridge (to inspect its inventory or offers)."""
        for fridge in self._fridges:
            if fridge.fridge_id == fridge_id:
                return fridge.agent
        raise KeyError(fridge_id)

    def wait_online(self, timeout: float) -> bool:
        """Block until every fridge's connection is up, at most `timeout` seconds in total."""
        deadline = time.monotonic() + timeout
        return all(f.agent.wait_online(max(0.0, deadline - time.monotonic())) for f in self._fridges)

    # ---- the scheduler -------------------------------------------------------------------

    def _run(self, due: list[tuple[datetime, int]]) -> None:
        while not self._stopping.is_set():
            now = self._clock.now()
            while due and due[0][0] <= now and not self._stopping.is_set():
                _, index = heapq.heappop(due)
                fridge = self._fridges[index]
                try:
                    next_at = fridge.tick(now)
                except Exception:
                    self._stats.count("tick_errors")
                    log.exception("%s: simulation step failed", fridge.fridge_id)
                    next_at = now + timedelta(minutes=1)
                heapq.heappush(due, (next_at, index))
            gap = (due[0][0] - now).total_seconds() if due else 60.0
            self._stopping.wait(min(max(self._clock.real_seconds(gap), _MIN_WAIT), _MAX_WAIT))

    def _stop_fridges(self, timeout: float) -> None:
        started, self._started = self._started, []
        if not started:
            return
        workers = min(32, len(started))
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="sim-stop") as pool:
            futures = [pool.submit(fridge.stop, timeout) for fridge in started]
            for future in concurrent.futures.as_completed(futures):
                if future.exception() is not None:
                    log.error("a fridge failed to stop: %s", future.exception())
