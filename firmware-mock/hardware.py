"""The emulated fridge: compartments with a thermal model, one door switch, a load cell per slot, a camera
per compartment, fault injection, and the ground truth a test checks the agent against.

Time comes from the injected `Clock`. `tick()` integrates the thermal model up to the clock's now
and emits one sample per `sample_every` crossed (a `Tick`, then a `TempReading` per compartment,
each at its own instant), so a `ManualClock` advanced by an hour yields sixty samples a minute
apart. Every action (`open_door`, `place`, `use`, ...) ticks first, so what it reports happens
after the samples before it. Listeners hear each report in order, under the fridge's lock:
they must only queue it.

Packages are handled as a household would: the door must be open to put in, take out or use
something. Load cells report net content in grams (the mock's packaging weighs nothing), with a
little noise, when a reading moves by at least `load_deadband_g`. Temperature sensors report the
air temperature with a little noise.

Ground truth: `contents()` lists what is inside now (package, grams, opened or not), and
`truth_log()` every item added, opened and removed, in the order it happened.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import cv2
import numpy as np

from freshtap.clock import Clock

from .camera import Degradation, Package, render_grid
from .faults import Faults, load_sensor, temp_sensor
from .layout import DEFAULT_LAYOUT, CompartmentLayout
from .reports import CoolingChange, DoorChange, LoadReading, Report, TempReading, Tick
from .thermal import ThermalState, advance

__all__ = ["CameraFault", "FridgeHardware", "HardwareError", "HardwareInfo", "StoredItem", "TruthEvent"]

Listener = Callable[[Report], None]

_NO_SIGNAL = "no_signal"


class HardwareError(RuntimeError):
    """An action a household could not do: the door is shut, the slot is taken or empty."""


class CameraFault(HardwareError):
    """The compartment's camera did not deliver a frame."""


@dataclass(frozen=True)
class HardwareInfo:
    model: str
    firmware: str
    serial: str
    sample_every: timedelta
    compartments: tuple[CompartmentLayout, ...]


@dataclass(frozen=True)
class StoredItem:
    """One package in one slot, as it really is."""

    uid: str
    package: Package
    compartment: str
    slot: int
    full_g: float
    content_g: float
    opened: bool = False
    added_at: datetime | None = None

    @property
    def fill(self) -> float:
        return max(0.0, min(1.0, self.content_g / self.full_g))


@dataclass(frozen=True)
class TruthEvent:
    """What really happened: `item_added`, `item_opened` or `item_removed`, at the true time."""

    kind: str
    uid: str
    gtin: str
    at: datetime


class FridgeHardware:
    """One emulated fridge; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        *,
        layout: Sequence[CompartmentLayout] = DEFAULT_LAYOUT,
        ambient_c: float = 22.0,
        sample_every: timedelta = timedelta(seconds=60),
        seed: int = 0,
        camera: Degradation | None = None,
        model: str = "FT-500 (emulated)",
        firmware: str = "mock-1.0",
        serial: str = "FTM-0001",
        load_deadband_g: float = 2.0,
        load_noise_g: float = 0.3,
        temp_noise_c: float = 0.05,
    ) -> None:
        if sample_every <= timedelta(0):
            raise ValueError("sample_every must be positive")
        ids = [c.id for c in layout]
        if not ids or len(set(ids)) != len(ids):
            raise ValueError("compartment ids must be unique, and there must be at least one")
        self.faults = Faults()
        self._clock = clock
        self._info = HardwareInfo(model, firmware, serial, sample_every, tuple(layout))
        self._layout = {c.id: c for c in layout}
        self._ambient_c = ambient_c
        self._camera = camera or Degradation()
        self._seed = seed
        self._noise = random.Random(seed)
        self._deadband = load_deadband_g
        self._load_noise = load_noise_g
        self._temp_noise = temp_noise_c
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        now = clock.now()
        self._integrated_to = now
        self._next_sample = now
        self._thermal = {c.id: ThermalState(c.thermal.setpoint_c) for c in layout}
        self._slots: dict[str, list[StoredItem | None]] = {c.id: [None] * c.slots for c in layout}
        self._door_open = False
        self._door_cycles = 0
        self._uids = 0
        self._captures = 0
        self._reported_temp: dict[str, float] = {}
        self._reported_load: dict[str, float] = {}
        self._log: list[TruthEvent] = []

    # ---- description and listeners -------------------------------------------------------

    @property
    def info(self) -> HardwareInfo:
        return self._info

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Hear every report from now on; returns a function that stops it. Listeners must not block."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def rtc_now(self) -> datetime:
        """The fridge's real-time clock: the injected clock plus any clock-jump fault."""
        return self._clock.now() + self.faults.clock_offset

    # ---- time ----------------------------------------------------------------------------

    def tick(self) -> None:
        """Integrate up to the clock's now, reporting every sample due on the way."""
        with self._lock:
            now = self._clock.now()
            while self._next_sample <= now:
                self._integrate(self._next_sample)
                self._sample(self._next_sample)
                self._next_sample += self._info.sample_every
            self._integrate(now)

    def _integrate(self, until: datetime) -> None:
        hours = (until - self._integrated_to).total_seconds() / 3600
        if hours <= 0:
            return  # the injected clock went back: physics does not
        for cid, layout in self._layout.items():
            before = self._thermal[cid]
            after = advance(
                layout.thermal,
                before,
                ambient_c=self._ambient_c,
                door_open=self._door_open,
                hours=hours,
                cooling_works=not self.faults.cooling_failed(cid),
            )
            self._thermal[cid] = after
            if after.cooling != before.cooling:
                self._emit(CoolingChange(self._rtc(until), cid, after.cooling))
        self._integrated_to = until

    def _rtc(self, true_time: datetime) -> datetime:
        return true_time + self.faults.clock_offset

    def _sample(self, at: datetime) -> None:
        self._emit(Tick(self._rtc(at)))
        for cid in self._layout:
            self._emit(self._temp_reading(cid, at))

    def _temp_reading(self, cid: str, at: datetime) -> TempReading:
        sensor = temp_sensor(cid)
        if self.faults.dropped(sensor):
            return TempReading(self._rtc(at), cid, None, _NO_SIGNAL)
        if self.faults.stuck(sensor) and cid in self._reported_temp:
            return TempReading(self._rtc(at), cid, self._reported_temp[cid])
        value = round(self._thermal[cid].temp_c + self._noise.gauss(0.0, self._temp_noise), 2)
        self._reported_temp[cid] = value
        return TempReading(self._rtc(at), cid, value)

    # ---- the door ------------------------------------------------------------------------

    @property
    def door_open(self) -> bool:
        with self._lock:
            return self._door_open

    @property
    def door_cycles(self) -> int:
        with self._lock:
            return self._door_cycles

    def open_door(self) -> int:
        """Open the door (if shut) and return the door cycle this opening is."""
        with self._lock:
            self.tick()
            if not self._door_open:
                self._door_open = True
                self._door_cycles += 1
                self._emit(DoorChange(self.rtc_now(), True, self._door_cycles))
            return self._door_cycles

    def close_door(self) -> int:
        with self._lock:
            self.tick()
            if self._door_open:
                self._door_open = False
                self._emit(DoorChange(self.rtc_now(), False, self._door_cycles))
            return self._door_cycles

    # ---- packages ------------------------------------------------------------------------

    def place(self, compartment: str, slot: int, package: Package, grams: float) -> StoredItem:
        """Put a full package of `grams` net content into an empty slot."""
        if grams <= 0:
            raise ValueError("a package holds more than nothing")
        with self._lock:
            self._reachable(compartment, slot)
            if self._slots[compartment][slot] is not None:
                raise HardwareError(f"{compartment} slot {slot} is taken")
            self._uids += 1
            now = self._clock.now()
            item = StoredItem(f"u{self._uids}", package, compartment, slot, grams, grams, added_at=now)
            self._slots[compartment][slot] = item
            self._log.append(TruthEvent("item_added", item.uid, package.gtin, now))
            self._load_changed(compartment, slot)
            return item

    def take(self, compartment: str, slot: int) -> StoredItem:
        """Take the package out of a slot."""
        with self._lock:
            item = self._occupant(compartment, slot)
            self._slots[compartment][slot] = None
            self._log.append(TruthEvent("item_removed", item.uid, item.package.gtin, self._clock.now()))
            self._load_changed(compartment, slot)
            return item

    def use(self, compartment: str, slot: int, grams: float) -> StoredItem:
        """Use `grams` of what is in a slot (opening it if it was not); never below empty."""
        if grams <= 0:
            raise ValueError("using something takes more than nothing")
        with self._lock:
            item = self._occupant(compartment, slot)
            if not item.opened:
                self._log.append(TruthEvent("item_opened", item.uid, item.package.gtin, self._clock.now()))
            item = replace(item, content_g=max(0.0, item.content_g - grams), opened=True)
            self._slots[compartment][slot] = item
            self._load_changed(compartment, slot)
            return item

    def move(self, compartment: str, slot: int, to_compartment: str, to_slot: int) -> StoredItem:
        """Move a package to another empty slot; it stays the same item."""
        with self._lock:
            item = self._occupant(compartment, slot)
            self._reachable(to_compartment, to_slot)
            if self._slots[to_compartment][to_slot] is not None:
                raise HardwareError(f"{to_compartment} slot {to_slot} is taken")
            self._slots[compartment][slot] = None
            moved = replace(item, compartment=to_compartment, slot=to_slot)
            self._slots[to_compartment][to_slot] = moved
            self._load_changed(compartment, slot)
            self._load_changed(to_compartment, to_slot)
            return moved

    def _reachable(self, compartment: str, slot: int) -> None:
        self.tick()
        if compartment not in self._layout:
            raise HardwareError(f"no compartment {compartment!r}")
        self._layout[compartment].position(slot)
        if not self._door_open:
            raise HardwareError("open the door first")

    def _occupant(self, compartment: str, slot: int) -> StoredItem:
        self._reachable(compartment, slot)
        item = self._slots[compartment][slot]
        if item is None:
            raise HardwareError(f"{compartment} slot {slot} is empty")
        return item

    # ---- load cells ----------------------------------------------------------------------

    def _load_reading(self, compartment: str, slot: int) -> LoadReading:
        sensor = load_sensor(compartment, slot)
        at = self.rtc_now()
        if self.faults.dropped(sensor):
            return LoadReading(at, compartment, slot, None, _NO_SIGNAL)
        if self.faults.stuck(sensor) and sensor in self._reported_load:
            return LoadReading(at, compartment, slot, self._reported_load[sensor])
        item = self._slots[compartment][slot]
        grams = (item.content_g if item is not None else 0.0) + self._noise.gauss(0.0, self._load_noise)
        return LoadReading(at, compartment, slot, round(max(0.0, grams), 1))

    def _load_changed(self, compartment: str, slot: int) -> None:
        sensor = load_sensor(compartment, slot)
        reading = self._load_reading(compartment, slot)
        if reading.grams is None:
            self._emit(reading)
            return
        if self.faults.stuck(sensor):
            return  # a stuck cell reports nothing new
        last = self._reported_load.get(sensor, 0.0)
        if abs(reading.grams - last) >= self._deadband:
            self._reported_load[sensor] = reading.grams
            self._emit(reading)

    # ---- what the agent can ask for ------------------------------------------------------

    def scan(self) -> list[Report]:
        """Every sensor's current reading: the door, each compartment's temperature, every load cell."""
        with self._lock:
            self.tick()
            now = self._clock.now()
            reports: list[Report] = [DoorChange(self.rtc_now(), self._door_open, self._door_cycles)]
            reports += [self._temp_reading(cid, now) for cid in self._layout]
            for cid, layout in self._layout.items():
                for slot in range(layout.slots):
                    reading = self._load_reading(cid, slot)
                    if reading.grams is not None and not self.faults.stuck(load_sensor(cid, slot)):
                        self._reported_load[load_sensor(cid, slot)] = reading.grams
                    reports.append(reading)
            return reports

    def capture(self, compartment: str) -> bytes:
        """A PNG frame from the compartment's camera; `CameraFault` if the camera has failed."""
        with self._lock:
            self.tick()
            if compartment not in self._layout:
                raise HardwareError(f"no compartment {compartment!r}")
            if self.faults.camera_failed(compartment):
                raise CameraFault(f"the {compartment} camera does not answer")
            layout = self._layout[compartment]
            slots = self._slots[compartment]
            packages = [None if item is None else item.package for item in slots]
            grid = [packages[s * layout.columns : (s + 1) * layout.columns] for s in range(layout.shelves)]
            self._captures += 1
            rng = np.random.default_rng([self._seed, self._captures])
        frame = render_grid(grid, rng, self._camera)  # outside the lock: rendering takes ~0.1 s
        ok, png = cv2.imencode(".png", frame, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR frame
            raise CameraFault("could not encode the frame")
        return png.tobytes()

    # ---- ground truth --------------------------------------------------------------------

    def contents(self) -> list[StoredItem]:
        """Everything inside now, compartment by compartment, slot by slot."""
        with self._lock:
            return [item for slots in self._slots.values() for item in slots if item is not None]

    def truth_log(self) -> list[TruthEvent]:
        with self._lock:
            return list(self._log)

    def temperatures(self) -> dict[str, float]:
        """The true air temperature of each compartment (what the sensors would read without noise)."""
        with self._lock:
            self.tick()
            return {cid: state.temp_c for cid, state in self._thermal.items()}

    def cooling(self) -> dict[str, bool]:
        with self._lock:
            return {cid: state.cooling for cid, state in self._thermal.items()}

    # ---- plumbing ------------------------------------------------------------------------

    def _emit(self, report: Report) -> None:
        for listener in list(self._listeners):
            listener(report)
