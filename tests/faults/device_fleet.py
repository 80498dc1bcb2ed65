"""Fridges that publish through the device's own uplink and on-disk outbox, and follow the server's confirmations.

Each fridge is a real `freshtap.device.Uplink` over a real `Outbox` in its own `DeviceStore`,
exactly as the agent builds them, with `confirmations="required"`: a message the broker
acknowledged stays queued until the server's `applied` notice names it, and whatever is still
queued is sent again after a reconnect. So the fault suite proves the product's protocol, not a
copy of it. The interface matches `PublishingFleet` (`sent`, `acked`, `stream`, `wait_acked`,
`publish_sentinels`), and the payloads are the same telemetry (`at` unique per seq, so a
duplicate effect is visible).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from freshtap.clock import SystemClock
from freshtap.contract import CompartmentReading, TelemetryBody, TelemetryMessage
from freshtap.device.delivery import Delivery
from freshtap.device.device_store import DeviceStore
from freshtap.device.outbox import Outbox
from freshtap.device.uplink import Uplink, UplinkConfig
from tests.faults.fleet import telemetry_at

__all__ = ["ConfirmingFleet"]


@dataclass
class _Fridge:
    fridge_id: str
    store: DeviceStore
    uplink: Uplink
    next_seq: int = 1
    deliveries: list[tuple[int, Delivery]] = field(default_factory=list)


class ConfirmingFleet:
    def __init__(self, url: str, fridges: dict[str, str], state_dir: Path) -> None:
        self._lock = threading.Lock()
        self.sent = 0
        self._fridges: list[_Fridge] = []
        for fridge_id, password in fridges.items():
            store = DeviceStore(state_dir / fridge_id / "device.db", synchronous="normal")
            config = UplinkConfig(
                fridge_id, fridge_id, password, url,
                max_inflight=50, reconnect_min_delay=0.2, reconnect_max_delay=1.0, reconnect_jitter=0.2,
                confirmations="required",
            )
            self._fridges.append(_Fridge(fridge_id, store, Uplink(config, SystemClock(), outbox=Outbox(store))))
        self._streamer: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def fridge_ids(self) -> list[str]:
        return [f.fridge_id for f in self._fridges]

    @property
    def acked(self) -> set[tuple[str, int]]:
        """(fridge, seq) of every message the broker acknowledged at least once."""
        with self._lock:
            return {(f.fridge_id, seq) for f in self._fridges for seq, d in f.deliveries if d.acknowledged}

    @property
    def acked_count(self) -> int:
        return len(self.acked)

    def connect(self, timeout: float = 15.0) -> None:
        for fridge in self._fridges:
            fridge.store.open()
            fridge.uplink.start()
        for fridge in self._fridges:
            if not fridge.uplink.wait_online(timeout):
                raise TimeoutError(f"{fridge.fridge_id} did not connect: {fridge.uplink.last_error}")

    def _publish_one(self, fridge: _Fridge) -> None:
        seq = fridge.next_seq
        fridge.next_seq += 1
        message = TelemetryMessage(
            type="telemetry",
            fridge_id=fridge.fridge_id,
            seq=seq,
            at=telemetry_at(seq),
            body=TelemetryBody(compartments=[CompartmentReading(id="fridge", temp_c=3.5)], door_open=False),
        )
        delivery = fridge.uplink.publish(message, qos=1)
        with self._lock:
            self.sent += 1
            fridge.deliveries.append((seq, delivery))

    def stream(self, total: int, rate: float) -> None:
        """Start publishing `total` messages, round robin over the fridges, at `rate` per second."""

        def run() -> None:
            started = time.monotonic()
            for n in range(total):
                if self._stop.is_set():
                    return
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # pacing a load generator, not waiting for an event
                self._publish_one(self._fridges[n % len(self._fridges)])

        self._streamer = threading.Thread(target=run, name="confirming-fleet-stream", daemon=True)
        self._streamer.start()

    def publish_sentinels(self) -> dict[str, int]:
        sentinels = {}
        for fridge in self._fridges:
            sentinels[fridge.fridge_id] = fridge.next_seq
            self._publish_one(fridge)
        return sentinels

    def wait_acked(self, count: int, timeout: float) -> None:
        """Until `count` messages were acknowledged by the broker (each waited for as an event)."""
        deadline = time.monotonic() + timeout
        while self.acked_count < count:
            with self._lock:
                waiting = [d for f in self._fridges for _, d in f.deliveries if not d.acknowledged]
            if not waiting:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{self.acked_count} of {count} messages acknowledged after {timeout}s")
                self._stop.wait(0.01)  # the streamer has not queued them yet
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.acked_count} of {count} messages acknowledged after {timeout}s")
            waiting[0].wait(min(remaining, 1.0))

    def wait_streamed(self, timeout: float) -> None:
        if self._streamer is not None:
            self._streamer.join(timeout)
            if self._streamer.is_alive():
                raise TimeoutError("the stream did not finish")

    def wait_all_acked(self, timeout: float) -> None:
        self.wait_streamed(timeout)
        self.wait_acked(self.sent, timeout)

    def wait_confirmed(self, timeout: float) -> None:
        """Until every fridge's queue is empty: the server confirmed everything it was sent."""
        for fridge in self._fridges:
            if not fridge.uplink.wait_confirmed(timeout):
                raise TimeoutError(f"{fridge.fridge_id}: {fridge.uplink.stats().queued} messages never confirmed")

    def resent(self) -> int:
        """Messages sent more than once (after reconnects), over the fleet."""
        return int(sum(f.uplink.stats().published for f in self._fridges)) - self.sent

    def close(self) -> None:
        self._stop.set()
        if self._streamer is not None:
            self._streamer.join(10)
        for fridge in self._fridges:
            fridge.uplink.stop(timeout=2)
            if fridge.store.is_open:
                fridge.store.close()
