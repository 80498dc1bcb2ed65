"""One simulated fridge: a real `FridgeAgent` driven by a simulated household and sensors.

It speaks only the contract, through the same agent a real fridge runs. On the fleet's scheduler
thread `tick(now)` ages the items (the household opens, uses up, throws away and re-buys),
publishes the resulting events, a full inventory snapshot every `inventory_every` and telemetry
every `telemetry_every` of simulated time. Offers arrive on the agent's network thread; each new
proposal is accepted with the household's probability by handing it to the shared acceptor.

Three independent seeded random streams (stock, sensors, decisions) keep a run reproducible even
though offers arrive on another thread than the one that ages the items.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from freshtap.clock import Clock
from freshtap.contract import EventKind, InventoryItem, OfferEntry
from freshtap.device.agent import AgentConfig, FridgeAgent
from freshtap.device.uplink import ConnectionState, UplinkError

from .acceptor import ProposalAcceptor
from .household import Action, Household
from .stats import StatsRecorder

__all__ = ["SimFridge", "VirtualFridge"]

log = logging.getLogger(__name__)

_WARM_FRIDGE_SHARE = 0.05  # some fridges run warm, which later work uses for temperature spoilage


@dataclass(frozen=True)
class SimFridge:
    """A provisioned fridge's credentials (as `freshtap admin provision-fridge` prints them)."""

    fridge_id: str
    username: str
    password: str

    def __repr__(self) -> str:  # keep the password out of logs
        return f"SimFridge(fridge_id={self.fridge_id!r}, username={self.username!r})"


class VirtualFridge:
    def __init__(
        self,
        credentials: SimFridge,
        *,
        mqtt_url: str,
        state_dir: Path,
        clock: Clock,
        seed: int,
        accept_probability: float,
        acceptor: ProposalAcceptor,
        stats: StatsRecorder,
        inventory_every: timedelta,
        telemetry_every: timedelta,
    ) -> None:
        fid = credentials.fridge_id
        self.credentials = credentials
        self._clock = clock
        self._accept_probability = accept_probability
        self._acceptor = acceptor
        self._stats = stats
        self._inventory_every = inventory_every
        self._telemetry_every = telemetry_every
        self._household = Household(random.Random(f"{seed}:{fid}:stock"))
        self._sensors = random.Random(f"{seed}:{fid}:sensors")
        self._decisions = random.Random(f"{seed}:{fid}:decisions")
        self._decision_lock = threading.Lock()
        self._seen: set[str] = set()
        self.agent = FridgeAgent(
            AgentConfig(
                fridge_id=fid,
                username=credentials.username,
                password=credentials.password,
                mqtt_url=mqtt_url,
                state_dir=state_dir / fid,
                model="freshtap-sim",
                firmware="sim-1",
            ),
            clock,
            on_offers=self._on_offers,
        )
        self._fridge_temp = 0.0
        self._last_aged: datetime | None = None
        self._next_inventory: datetime | None = None
        self._next_telemetry: datetime | None = None

    @property
    def fridge_id(self) -> str:
        return self.credentials.fridge_id

    @property
    def online(self) -> bool:
        return self.agent.connection is ConnectionState.ONLINE

    def start(self, now: datetime) -> datetime:
        """Stock the fridge (first start only), connect, publish a first snapshot; the next due time."""
        if not self.agent.items:
            for item in self._household.initial_stock(now):
                self.agent.add_item(item)
        warm = self._sensors.random() < _WARM_FRIDGE_SHARE
        self._fridge_temp = self._sensors.uniform(6.0, 7.5) if warm else self._sensors.uniform(3.0, 4.5)
        self.agent.start()
        self._last_aged = now
        self._publish_inventory()
        self._publish_telemetry()
        self._next_inventory = now + self._inventory_every
        # Stagger telemetry across the fleet so it does not arrive in bursts.
        self._next_telemetry = now + self._telemetry_every * self._sensors.random()
        return min(self._next_inventory, self._next_telemetry)

    def stop(self, timeout: float) -> None:
        self.agent.stop(timeout)

    def tick(self, now: datetime) -> datetime:
        """Do whatever is due at `now`; returns when this fridge next has something to do."""
        assert self._next_inventory is not None and self._next_telemetry is not None, "not started"
        if now >= self._next_inventory:
            self._age(now)
            self._publish_inventory()
            self._next_inventory = max(self._next_inventory + self._inventory_every, now)
        if now >= self._next_telemetry:
            self._publish_telemetry()
            self._next_telemetry = max(self._next_telemetry + self._telemetry_every, now)
        return min(self._next_inventory, self._next_telemetry)

    # ---- the household -------------------------------------------------------------------

    def _age(self, now: datetime) -> None:
        last = self._last_aged or now
        hours = (now - last).total_seconds() / 3600
        self._last_aged = now
        if hours <= 0:
            return
        items = {item.item_id: item for item in self.agent.items}
        for action in self._household.step(items, now, hours):
            self._apply(action)

    def _apply(self, action: Action) -> None:
        agent = self.agent
        if action.kind == "fill":
            agent.set_fill(action.item_id, action.fill)
        elif action.kind == "open":
            agent.open_item(action.item_id)
            self._publish_event(EventKind.ITEM_OPENED, action.item_id, {})
        elif action.kind == "remove":
            removed = agent.remove_item(action.item_id)
            self._publish_event(EventKind.ITEM_REMOVED, action.item_id, _describe(removed, action.reason))
        elif action.kind == "add" and action.item is not None:
            agent.add_item(action.item)
            self._publish_event(EventKind.ITEM_ADDED, action.item_id, _describe(action.item, None))

    # ---- publishing ----------------------------------------------------------------------

    def _publish_inventory(self) -> None:
        try:
            self.agent.publish_inventory()
        except (UplinkError, ValueError) as exc:
            self._publish_failed("inventory", exc)
        else:
            self._stats.published("inventory")

    def _publish_telemetry(self) -> None:
        sensors = self._sensors
        compartments = {
            "fridge": round(self._fridge_temp + sensors.gauss(0, 0.3), 1),
            "freezer": round(-18.0 + sensors.gauss(0, 0.5), 1),
        }
        door_open = sensors.random() < 0.03
        try:
            self.agent.publish_telemetry(compartments, door_open)
        except (UplinkError, ValueError) as exc:
            self._publish_failed("telemetry", exc)
        else:
            self._stats.published("telemetry")

    def _publish_event(self, kind: EventKind, item_id: str, detail: dict[str, object]) -> None:
        try:
            self.agent.publish_event(kind, item_id, detail)
        except (UplinkError, ValueError) as exc:
            self._publish_failed("event", exc)
        else:
            self._stats.published("event")

    def _publish_failed(self, what: str, exc: Exception) -> None:
        self._stats.count("publish_errors")
        log.warning("%s: could not publish %s: %s", self.fridge_id, what, exc)

    # ---- offers --------------------------------------------------------------------------

    def _on_offers(self, offers: tuple[OfferEntry, ...]) -> None:
        # On the agent's network thread: decide quickly, leave the HTTP call to the acceptor.
        now = self._clock.now()
        for offer in offers:
            with self._decision_lock:
                if offer.proposal_id in self._seen:
                    continue
                self._seen.add(offer.proposal_id)
                buy = offer.expires_at > now and self._decisions.random() < self._accept_probability
                key = str(uuid.UUID(int=self._decisions.getrandbits(128), version=4)) if buy else ""
            self._stats.count("offers_seen")
            if buy:
                self._acceptor.submit(self.credentials, offer.proposal_id, key)
            else:
                self._stats.count("declined")


def _describe(item: InventoryItem, reason: str | None) -> dict[str, object]:
    detail: dict[str, object] = {"gtin": item.gtin, "name": item.name}
    if reason is not None:
        detail["reason"] = reason
    return detail
