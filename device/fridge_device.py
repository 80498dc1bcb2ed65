"""A whole fridge: the firmware link, the inventory tracker, sensor health and alarms, and the agent.

`FridgeDevice` reads the controller over the line protocol (`FirmwareLink`) and, on one worker
thread, turns what it hears into contract messages through its `FridgeAgent`:

- **Inventory.** When the door closes (and once the link comes up, and every `full_check_every`),
  it asks for every load cell (`SCAN`), captures the frames of the compartments whose weights
  moved (all of them on a full check), reads the labels slot by slot and lets `tracker.reconcile`
  say what changed. A new item whose label cannot be read is captured again (`recapture` times)
  before it goes in as unidentified. If the door opens or a load cell moves while it looks, the
  look is thrown away and made again. The changes — inventory, the `item_added` /
  `item_removed` / `item_opened` events, a fresh snapshot and the tracker's own state — are
  committed in **one transaction** of the agent's store, so a crash at any instant leaves all of
  them or none, and a restarted device picks up exactly where the last commit left it (whatever
  happened in between is found by the full check after the restart).
- **Freshness** comes from the shared shelf-life model with the temperatures this fridge
  measured (`TemperatureLog`: 15-minute buckets at their warmest reading).
- **Telemetry** every `telemetry_every` and on every door change: the trusted temperatures (a
  sensor without signal or stuck on one value is left out and raises a `temperature_alarm` with
  its `fault`), and the door. **Alarms**: `door_left_open`, `temperature_alarm` (alarms.py).
- **Time.** By default the device keeps the controller's time (`FirmwareClock`, which absorbs
  jumps of the controller's clock and counts them); pass `clock=` to use another (a fridge with
  NTP passes the system clock, and the firmware clock only counts jumps).
- **Status.** `status()` and `status.json` in the state directory (written atomically after
  every commit, and at least every half second): door cycles seen and checked, queue depth,
  drops, clock jumps, sensor health — for a supervisor, and for tests that must know the device
  has caught up.

Everything the firmware says is handled on the worker thread in order; the link's reader thread
only queues it. `on_telemetry(compartments, door_open)` and `on_inventory()` tell other parts (the
door screen, Home Assistant) what the device just queued; they run on the worker thread.
`on_frame(compartment, image, gtins, at)` hands each camera frame read to a part that keeps
frames on the fridge (`review_video.ReviewVideos`, for review videos the owner approves).
`start()` waits (up to `ready_timeout`) for the firmware to describe itself when the device keeps
the firmware's time, since it has no other time to stamp messages with.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from freshtap.clock import Clock
from freshtap.contract import EventKind, InventoryItem, NoticeMessage, OfferEntry

from .agent import AgentConfig, FridgeAgent
from .alarms import Alarm, AlarmLimits, AlarmWatch
from .errors import UplinkError
from .firmware_clock import FirmwareClock
from .firmware_link import FirmwareError, FirmwareLink
from .firmware_protocol import (
    CoolingReport,
    DoorReport,
    FirmwareReport,
    Hello,
    LoadReport,
    Ready,
    TempReport,
    TimeReport,
)
from .labels import LabelDecoder
from .products import ProductDirectory
from .sensor_health import SensorHealth
from .slot_labels import FrameError, read_slot_labels
from .temperature_log import TemperatureLog
from .tracker import (
    PRESENT_G,
    Change,
    Label,
    Observation,
    SlotItem,
    SlotKey,
    reconcile,
    slots_from_json,
    slots_to_json,
    tolerance,
)
from .uplink import ConnectionState

__all__ = ["DeviceConfig", "DeviceStatus", "FridgeDevice"]

log = logging.getLogger(__name__)

_SLOTS_KEY = "tracker.slots"
_NEXT_ID_KEY = "tracker.next_id"
_TEMPS_KEY = "device.temperatures"
_STATUS_FILE = "status.json"
_RETRY_SECONDS = 1.0
_STATUS_EVERY = 0.5  # seconds of real time between status.json refreshes when nothing else writes it


@dataclass(frozen=True)
class DeviceConfig:
    firmware_url: str
    """`tcp://host:port` or `serial:///dev/ttyX` (see `FirmwareLink`)."""
    telemetry_every: timedelta = timedelta(minutes=5)
    inventory_every: timedelta = timedelta(hours=1)
    """A fresh snapshot (fill levels, freshness) even when nothing was added or removed."""
    full_check_every: timedelta = timedelta(hours=6)
    """Look at every camera, not only where weights moved (a swap of equal weights shows then)."""
    recapture: int = 2
    alarms: AlarmLimits = field(default_factory=AlarmLimits)
    stuck_after: int = 30
    """Identical temperature samples in a row that make a sensor `stuck`."""
    request_timeout: float = 15.0
    ready_timeout: float = 15.0
    write_status: bool = True


@dataclass(frozen=True)
class DeviceStatus:
    fridge_id: str
    at: str | None
    link_ready: bool
    connection: str
    server_ready: bool
    door_open: bool
    door_cycle: int
    """The last door cycle the firmware reported."""
    checked_cycle: int
    """The door cycle the last committed check saw (it includes every change up to that closing)."""
    check_pending: bool
    checks: int
    items: int
    queued: int
    last_seq: int | None
    """The `seq` of the last message queued by this process."""
    dropped: dict[str, int]
    clock_jumps: int
    sensors: dict[str, str]
    camera_faults: int
    pid: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _LinkState:
    up: bool


class FridgeDevice:
    """See the module docstring; `start()`/`stop()` like every part."""

    def __init__(
        self,
        agent_config: AgentConfig,
        config: DeviceConfig,
        *,
        clock: Clock | None = None,
        products: ProductDirectory | None = None,
        on_offers: Callable[[tuple[OfferEntry, ...]], None] | None = None,
        on_notice: Callable[[NoticeMessage], None] | None = None,
        on_connection: Callable[[ConnectionState], None] | None = None,
        on_telemetry: Callable[[Mapping[str, float], bool], object] | None = None,
        on_inventory: Callable[[], object] | None = None,
        label_decoder: LabelDecoder | None = None,
        on_frame: Callable[[str, bytes, frozenset[str], datetime], object] | None = None,
    ) -> None:
        self.config = config
        self._on_telemetry = on_telemetry
        self._on_inventory = on_inventory
        self._on_frame = on_frame  # e.g. review_video.ReviewVideos.on_frame: frames stay on the fridge
        self.firmware_clock = FirmwareClock()
        self._uses_firmware_clock = clock is None
        self._clock: Clock = clock if clock is not None else self.firmware_clock
        self._products = products or ProductDirectory()
        self._decoder = label_decoder
        self._temps = TemperatureLog()
        self._state_dir = Path(agent_config.state_dir)
        self.agent = FridgeAgent(
            replace(agent_config, persist_inventory=True),
            self._clock,
            on_offers=on_offers,
            on_notice=on_notice,
            on_connection=on_connection,
            temperatures=self._temps,
        )
        self._inbox: queue.Queue[FirmwareReport | _LinkState] = queue.Queue()
        self._link = FirmwareLink(config.firmware_url, on_report=self._heard, on_state=self._link_changed)
        self._health = SensorHealth(stuck_after=config.stuck_after)
        self._alarms = AlarmWatch(config.alarms)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._moves = 0  # door and load reports heard, to notice changes during a check
        # worker-thread state
        self._slots: dict[SlotKey, SlotItem] = {}
        self._next_id = 1
        self._grid: dict[str, tuple[int, int, bool]] = {}
        self._door_open = False
        self._door_cycle = 0
        self._checked_cycle = 0
        self._check_pending = False
        self._full_check = False
        self._dirty: set[str] = set()
        self._retry_at = 0.0
        self._checks = 0
        self._camera_faults = 0
        self._latest: dict[str, float] = {}
        self._sensors: dict[str, str] = {}
        self._pending_alarms: list[Alarm] = []
        self._next_telemetry: datetime | None = None
        self._next_inventory: datetime | None = None
        self._next_full: datetime | None = None
        self._temps_saved: datetime | None = None
        self._status_due = 0.0

    @property
    def clock(self) -> Clock:
        """The clock the device stamps its messages with (the firmware's, unless one was given)."""
        return self._clock

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._link.start()
        try:
            if self._uses_firmware_clock:
                if not self._link.wait_ready(self.config.ready_timeout):
                    raise FirmwareError(f"the firmware at {self.config.firmware_url} did not describe itself in time")
                description = self._link.description
                if description is not None:  # the agent stamps its first messages with this time
                    self.firmware_clock.resync(description.hello.at)
            self.agent.start()
        except BaseException:
            self._link.stop()
            raise
        self._slots = slots_from_json(self.agent.get_state(_SLOTS_KEY) or [])
        self._next_id = int(self.agent.get_state(_NEXT_ID_KEY) or 1)
        self._temps.load_json(self.agent.get_state(_TEMPS_KEY))
        known = {item.item_id for item in self.agent.items}
        self._slots = {key: item for key, item in self._slots.items() if item.item_id in known}
        self._worker = threading.Thread(target=self._run, name=f"device-{self.agent.fridge_id}", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._link.stop()  # first: a command the worker waits on fails at once
        if self._worker is not None:
            self._worker.join(timeout)
            if self._worker.is_alive():
                log.warning("%s: the device worker did not end within %.1fs", self.agent.fridge_id, timeout)
            self._worker = None
        self.agent.stop(timeout)

    def status(self) -> DeviceStatus:
        with self._lock:
            door_open, door_cycle, checked = self._door_open, self._door_cycle, self._checked_cycle
            pending, checks = self._check_pending, self._checks
            sensors, faults = dict(self._sensors), self._camera_faults
        try:
            at: str | None = self._clock.now().isoformat()
        except RuntimeError:
            at = None
        stats = self.agent.uplink_stats()
        return DeviceStatus(
            fridge_id=self.agent.fridge_id,
            at=at,
            link_ready=self._link.ready,
            connection=self.agent.connection.value,
            server_ready=self.agent.server_ready,
            door_open=door_open,
            door_cycle=door_cycle,
            checked_cycle=checked,
            check_pending=pending,
            checks=checks,
            items=len(self.agent.items),
            queued=stats.queued,
            last_seq=self.agent.last_seq,
            dropped=dict(stats.dropped_by_type),
            clock_jumps=self.firmware_clock.jumps,
            sensors=sensors,
            camera_faults=faults,
            pid=os.getpid(),
        )

    # ---- what the link hears (reader thread) ---------------------------------------------

    def _heard(self, report: FirmwareReport) -> None:
        if isinstance(report, DoorReport | LoadReport):
            with self._lock:
                self._moves += 1
        self._inbox.put(report)

    def _link_changed(self, up: bool) -> None:
        self._inbox.put(_LinkState(up))

    # ---- the worker ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                event: FirmwareReport | _LinkState | None = self._inbox.get(timeout=0.2)
            except queue.Empty:
                event = None
            try:
                while event is not None:
                    self._handle(event)
                    try:
                        event = self._inbox.get_nowait()
                    except queue.Empty:
                        event = None
                self._timers()
                self._maybe_check()
                if time.monotonic() >= self._status_due:
                    self._write_status()
            except Exception:
                log.exception("%s: the device worker failed on an event", self.agent.fridge_id)

    def _now(self) -> datetime | None:
        try:
            return self._clock.now()
        except RuntimeError:  # the firmware clock is not set yet
            return None

    def _observe(self, at: datetime) -> None:
        self.firmware_clock.observe(at)

    def _handle(self, event: FirmwareReport | _LinkState) -> None:
        if isinstance(event, _LinkState):
            if not event.up and not self._stopping.is_set():
                log.warning("%s: lost the firmware link", self.agent.fridge_id)
            return
        if isinstance(event, Hello):
            self.firmware_clock.set_max_step(timedelta(seconds=max(60.0, 10 * event.sample_seconds)))
            self.firmware_clock.resync(event.at)
        elif isinstance(event, Ready):
            description = self._link.description
            if description is not None:
                self._grid = {c.id: (c.shelves, c.columns, c.camera) for c in description.compartments}
            with self._lock:
                self._check_pending = True
            self._full_check = True
        elif isinstance(event, TimeReport):
            self._observe(event.at)
            self._timers()  # per report, so a burst of catching up still yields one telemetry per period
        elif isinstance(event, TempReport):
            self._observe(event.at)
            self._temperature(event)
        elif isinstance(event, DoorReport):
            self._observe(event.at)
            self._door(event)
        elif isinstance(event, LoadReport):
            self._observe(event.at)
            self._dirty.add(event.compartment)
            if not self._door_open:
                with self._lock:
                    self._check_pending = True
        elif isinstance(event, CoolingReport):
            self._observe(event.at)

    def _temperature(self, report: TempReport) -> None:
        now = self._now()
        status = self._health.sample(report.compartment, report.temp_c)
        with self._lock:
            self._sensors[report.compartment] = status
        self._pending_alarms += self._alarms.sensor(report.compartment, status)
        if status != "ok" or report.temp_c is None or now is None:
            self._latest.pop(report.compartment, None)
            return
        self._latest[report.compartment] = report.temp_c
        self._temps.add(report.compartment, now, report.temp_c)
        self._pending_alarms += self._alarms.temperature(now, report.compartment, report.temp_c)

    def _door(self, report: DoorReport) -> None:
        changed = report.open != self._door_open
        with self._lock:
            self._door_open = report.open
            self._door_cycle = max(self._door_cycle, report.cycle)
            if not report.open:
                self._check_pending = True
        now = self._now()
        if now is not None:
            self._pending_alarms += self._alarms.door(now, report.open, report.cycle)
        if changed and now is not None:
            self._publish_telemetry()

    # ---- periodic work -------------------------------------------------------------------

    def _timers(self) -> None:
        now = self._now()
        if now is None or self._stopping.is_set():
            return
        if self._door_open:
            self._pending_alarms += self._alarms.door(now, True, self._door_cycle)
        self._flush_alarms()
        if self._next_telemetry is None or now >= self._next_telemetry:
            self._publish_telemetry()
            self._next_telemetry = max((self._next_telemetry or now) + self.config.telemetry_every, now)
        if self._next_inventory is None:
            self._next_inventory = now + self.config.inventory_every
        elif now >= self._next_inventory:
            self._snapshot()
            self._next_inventory = max(self._next_inventory + self.config.inventory_every, now)
        if self._next_full is None:
            self._next_full = now + self.config.full_check_every
        elif now >= self._next_full:
            self._full_check = True
            with self._lock:
                self._check_pending = True
            self._next_full = max(self._next_full + self.config.full_check_every, now)

    def _flush_alarms(self) -> None:
        while self._pending_alarms:
            kind, detail = self._pending_alarms[0]
            try:
                self.agent.publish_event(kind, None, detail)
            except UplinkError as exc:  # the queue is full of events: keep it, try again later
                log.warning("%s: could not queue %s yet: %s", self.agent.fridge_id, kind.value, exc)
                return
            self._pending_alarms.pop(0)

    def _publish_telemetry(self) -> None:
        compartments = dict(self._latest)
        try:
            self.agent.publish_telemetry(compartments, self._door_open)
        except (UplinkError, ValueError) as exc:
            log.warning("%s: telemetry not queued: %s", self.agent.fridge_id, exc)
        self._tell(self._on_telemetry, compartments, self._door_open)

    def _tell(self, hook: Callable[..., object] | None, *args: Any) -> None:
        if hook is None:
            return
        try:
            hook(*args)
        except Exception:
            log.exception("%s: a device listener failed", self.agent.fridge_id)

    def _snapshot(self) -> None:
        try:
            with self.agent.transaction() as txn:
                self.agent.publish_inventory()
                txn.put_state(_TEMPS_KEY, self._temps.to_json())
        except (UplinkError, ValueError) as exc:
            log.warning("%s: snapshot not queued: %s", self.agent.fridge_id, exc)

    # ---- looking inside ------------------------------------------------------------------

    def _maybe_check(self) -> None:
        with self._lock:
            pending, door_open, moves = self._check_pending, self._door_open, self._moves
        if not pending or door_open or not self._link.ready or time.monotonic() < self._retry_at:
            return
        if self._now() is None:
            return
        try:
            committed = self._check(moves)
        except (FirmwareError, UplinkError, ValueError) as exc:
            log.warning("%s: looking inside failed (%s); trying again", self.agent.fridge_id, exc)
            self._retry_at = time.monotonic() + _RETRY_SECONDS
            return
        if not committed:
            self._retry_at = time.monotonic() + 0.05

    def _check(self, moves: int) -> bool:
        """One look inside; True when it was committed (or nothing changed), False to look again."""
        timeout = self.config.request_timeout
        scan = self._link.scan(timeout)
        if scan.door is not None and scan.door.open:
            with self._lock:
                self._door_open = True
            return False
        cycle = scan.door.cycle if scan.door is not None else self._door_cycle
        grams: dict[SlotKey, float | None] = {(r.compartment, r.slot): r.grams for r in scan.loads}
        full = self._full_check
        wanted = set(self._grid) if full else self._moved_compartments(grams) | self._dirty
        labels: dict[SlotKey, Label] = {}
        captured: set[str] = set()
        for compartment in sorted(wanted):
            self._capture(compartment, labels, captured, grams)
        new_id = self._id_source()
        observation = Observation(grams, labels, frozenset(captured))
        slots, changes = reconcile(self._slots, observation, new_id.next)
        for _ in range(self.config.recapture):
            unread = {c.key[0] for c in changes if c.kind == "added" and c.item.label is None and c.key[0] in captured}
            if not unread:
                break
            for compartment in sorted(unread):
                self._capture(compartment, labels, captured, grams)
            new_id = self._id_source()
            slots, changes = reconcile(self._slots, Observation(grams, labels, frozenset(captured)), new_id.next)
        with self._lock:
            if self._moves != moves or self._door_open:
                return False  # something moved while we looked: look again
        self._commit(slots, changes, new_id.value)
        with self._lock:
            self._checked_cycle = max(self._checked_cycle, cycle)
            self._checks += 1
            if self._moves == moves:
                self._check_pending = False
        self._dirty.clear()
        if full:
            self._full_check = False
        self._write_status()
        return True

    def _moved_compartments(self, grams: dict[SlotKey, float | None]) -> set[str]:
        moved = set()
        for key, value in grams.items():
            if value is None:
                continue
            item = self._slots.get(key)
            if item is None:
                if value >= PRESENT_G:
                    moved.add(key[0])
            elif abs(value - item.grams) > tolerance(item.full_g) or value < PRESENT_G:
                moved.add(key[0])
        return moved

    def _capture(
        self,
        compartment: str,
        labels: dict[SlotKey, Label],
        captured: set[str],
        grams: dict[SlotKey, float | None],
    ) -> None:
        grid = self._grid.get(compartment)
        if grid is None or not grid[2]:
            return
        shelves, columns, _ = grid
        # Only cells where something stands, or stood: an empty cell has no label to read.
        occupied = {
            slot
            for slot in range(shelves * columns)
            if (compartment, slot) in self._slots or (grams.get((compartment, slot)) or 0.0) >= PRESENT_G
        }
        if not occupied:
            captured.add(compartment)
            return
        try:
            frame = self._link.capture(compartment, self.config.request_timeout)
            read = read_slot_labels(frame.data, shelves, columns, self._decoder, occupied)
        except FirmwareError as exc:
            if exc.code != "camera_fault":
                raise
            with self._lock:
                self._camera_faults += 1
            log.warning("%s: the %s camera failed: %s", self.agent.fridge_id, compartment, exc)
            return
        except FrameError as exc:
            log.warning("%s: unreadable frame from the %s camera: %s", self.agent.fridge_id, compartment, exc)
            return
        captured.add(compartment)
        for slot, label in read.items():
            labels.setdefault((compartment, slot), label)
        self._tell(self._on_frame, compartment, frame.data, frozenset(label.gtin for label in read.values()), frame.at)

    def _id_source(self) -> _Ids:
        return _Ids(self._next_id)

    def _commit(self, slots: dict[SlotKey, SlotItem], changes: list[Change], next_id: int) -> None:
        now = self._clock.now()
        agent = self.agent
        with agent.transaction() as txn:
            for change in changes:
                self._apply(change, now)
            if changes:
                agent.publish_inventory()
            txn.put_state(_SLOTS_KEY, slots_to_json(slots))
            txn.put_state(_NEXT_ID_KEY, next_id)
            if self._temps_saved is None or now - self._temps_saved >= timedelta(hours=1):
                txn.put_state(_TEMPS_KEY, self._temps.to_json())
        if self._temps_saved is None or now - self._temps_saved >= timedelta(hours=1):
            self._temps_saved = now
        self._slots = slots
        self._next_id = next_id
        if changes:
            self._tell(self._on_inventory)
            log.info("%s: %s", agent.fridge_id, ", ".join(f"{c.kind} {c.item.item_id}" for c in changes))

    def _apply(self, change: Change, now: datetime) -> None:
        agent = self.agent
        item = change.item
        compartment, slot = change.key
        where = {"compartment": compartment, "slot": slot, "grams": round(item.grams, 1)}
        if change.kind == "removed":
            gone = agent.remove_item(item.item_id)
            agent.publish_event(EventKind.ITEM_REMOVED, item.item_id, {"gtin": gone.gtin, "name": gone.name, **where})
        elif change.kind == "added":
            added = agent.add_item(self._inventory_item(item, compartment, now))
            agent.publish_event(EventKind.ITEM_ADDED, item.item_id, {"gtin": added.gtin, "name": added.name, **where})
        elif change.kind == "moved":
            agent.update_item(item.item_id, compartment=compartment, fill=item.fill)
        elif change.kind == "opened":
            agent.open_item(item.item_id, now)
            agent.set_fill(item.item_id, item.fill)
            agent.publish_event(EventKind.ITEM_OPENED, item.item_id, {"fill": item.fill, **where})
        elif change.kind == "identified" and item.label is not None:
            product = self._products.describe(item.label.gtin)
            agent.update_item(item.item_id, **self._label_fields(item.label), name=product.name,
                              category=product.category)
        elif change.kind == "fill":
            agent.set_fill(item.item_id, item.fill)

    def _inventory_item(self, item: SlotItem, compartment: str, now: datetime) -> InventoryItem:
        label = item.label
        product = self._products.describe(None if label is None else label.gtin)
        fields: dict[str, Any] = {
            "item_id": item.item_id,
            "name": product.name,
            "category": product.category,
            "quantity": 1.0,
            "unit": "pcs",
            "fill": item.fill,
            "compartment": compartment,
            "added_at": now,
        }
        if label is not None:
            fields.update(self._label_fields(label))
        return InventoryItem.model_validate(fields)

    @staticmethod
    def _label_fields(label: Label) -> dict[str, Any]:
        return {
            "gtin": label.gtin,
            "label_expiry": label.label_expiry,
            "expiry_kind": label.expiry_kind,
            "batch": label.batch,
        }

    # ---- status --------------------------------------------------------------------------

    def _write_status(self) -> None:
        self._status_due = time.monotonic() + _STATUS_EVERY
        if not self.config.write_status:
            return
        try:
            data = json.dumps(self.status().to_json(), indent=1, sort_keys=True)
            path = self._state_dir / _STATUS_FILE
            tmp = path.with_name(f".{_STATUS_FILE}.{os.getpid()}.tmp")
            tmp.write_text(data, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("%s: could not write %s: %s", self.agent.fridge_id, _STATUS_FILE, exc)
        except Exception:  # status must never stop the device
            with contextlib.suppress(Exception):
                log.exception("%s: status failed", self.agent.fridge_id)


class _Ids:
    """Item ids `i000001`, `i000002`, ... from a counter the tracker's state keeps."""

    def __init__(self, start: int) -> None:
        self.value = start

    def next(self) -> str:
        item_id = f"i{self.value:06d}"
        self.value += 1
        return item_id
