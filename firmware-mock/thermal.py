"""The thermal model of one compartment: ambient leak, door-open gain, and a thermostat with hysteresis.

Newton's law of cooling with a constant sink while the compartment cools:

    dT/dt = (T_ambient - T) / tau - q * cooling

where `tau` is `leak_hours` with the door shut and, while the door is open, the parallel
combination of `leak_hours` and `door_hours` (open air exchanges heat far faster), and `q` is
`cooling_c_per_hour` while the compartment's damper is open (the compressor runs for it). The
thermostat opens the damper when the air reaches `setpoint + hysteresis / 2` and closes it at
`setpoint - hysteresis / 2`. Between switch points the equation is solved exactly:

    T(t) = T_eq + (T0 - T_eq) * exp(-t / tau),   T_eq = T_ambient - q * cooling * tau

so a step of any length gives the same answer as many small ones, except that the thermostat is
only consulted every `MAX_STEP` (30 s), as a real controller samples its sensor.

Pure: `advance` takes the state and returns the next one; nothing here reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["DEFAULT_SPECS", "MAX_STEP_HOURS", "ThermalSpec", "ThermalState", "advance"]

MAX_STEP_HOURS = 30 / 3600
"""How often the thermostat looks at its sensor (and the longest exact step taken between looks)."""


@dataclass(frozen=True)
class ThermalSpec:
    """How one compartment gains and loses heat."""

    setpoint_c: float
    hysteresis_c: float = 2.0
    """Width of the thermostat's band around the setpoint."""
    leak_hours: float = 8.0
    """Time constant towards ambient through the insulation, door shut."""
    door_hours: float = 0.15
    """Time constant towards ambient through the open door."""
    cooling_c_per_hour: float = 6.0
    """Pull-down while the compartment cools, in °C per hour, beyond what leaks in."""

    def __post_init__(self) -> None:
        if self.hysteresis_c <= 0 or self.leak_hours <= 0 or self.door_hours <= 0 or self.cooling_c_per_hour <= 0:
            raise ValueError("hysteresis, time constants and cooling must be positive")

    @property
    def cut_in_c(self) -> float:
        return self.setpoint_c + self.hysteresis_c / 2

    @property
    def cut_out_c(self) -> float:
        return self.setpoint_c - self.hysteresis_c / 2


DEFAULT_SPECS: dict[str, ThermalSpec] = {
    "fridge": ThermalSpec(setpoint_c=4.0, leak_hours=8.0, door_hours=0.15, cooling_c_per_hour=6.0),
    "door": ThermalSpec(setpoint_c=5.0, leak_hours=5.0, door_hours=0.08, cooling_c_per_hour=5.0),
    "crisper": ThermalSpec(setpoint_c=6.0, leak_hours=10.0, door_hours=0.4, cooling_c_per_hour=4.0),
    "freezer": ThermalSpec(setpoint_c=-18.0, leak_hours=12.0, door_hours=0.5, cooling_c_per_hour=8.0),
}
"""A plausible bottom-freezer fridge at 22 °C: the fridge cycles about every 80 minutes."""


@dataclass(frozen=True)
class ThermalState:
    temp_c: float
    cooling: bool = False


def _exact(spec: ThermalSpec, state: ThermalState, ambient_c: float, door_open: bool, hours: float) -> float:
    rate = 1 / spec.leak_hours + (1 / spec.door_hours if door_open else 0.0)
    tau = 1 / rate
    sink = spec.cooling_c_per_hour if state.cooling else 0.0
    equilibrium = ambient_c - sink * tau
    return equilibrium + (state.temp_c - equilibrium) * math.exp(-hours / tau)


def advance(
    spec: ThermalSpec,
    state: ThermalState,
    *,
    ambient_c: float,
    door_open: bool,
    hours: float,
    cooling_works: bool = True,
) -> ThermalState:
    """The state `hours` later; the thermostat decides every `MAX_STEP_HOURS`.

    With `cooling_works` False (a failed compressor or a stuck damper) the thermostat may ask for
    cooling, and `cooling` says it does, but no heat is removed.
    """
    if hours < 0:
        raise ValueError("time does not run backwards in the thermal model")
    remaining = hours
    while remaining > 1e-12:
        step = min(remaining, MAX_STEP_HOURS)
        calling = state.cooling
        if state.temp_c >= spec.cut_in_c:
            calling = True
        elif state.temp_c <= spec.cut_out_c:
            calling = False
        state = ThermalState(state.temp_c, calling)
        effective = state if cooling_works else replace(state, cooling=False)
        state = ThermalState(_exact(spec, effective, ambient_c, door_open, step), calling)
        remaining -= step
    return state
