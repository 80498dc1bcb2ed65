"""The compartment thermal model: exact between thermostat looks, hysteresis, door and failure."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshtap.firmware_mock import DEFAULT_SPECS, ThermalSpec, ThermalState, advance

FRIDGE = DEFAULT_SPECS["fridge"]


def run(spec: ThermalSpec, state: ThermalState, hours: float, step: float, **kw: object) -> list[ThermalState]:
    out = [state]
    for _ in range(round(hours / step)):
        state = advance(spec, state, ambient_c=22.0, hours=step, **kw)  # type: ignore[arg-type]
        out.append(state)
    return out


def test_the_fridge_cycles_within_its_band_and_runs_a_sensible_duty() -> None:
    states = run(FRIDGE, ThermalState(4.0), hours=12, step=1 / 60, door_open=False)
    temps = [s.temp_c for s in states[60:]]  # after the first hour
    assert FRIDGE.cut_out_c - 0.2 <= min(temps) and max(temps) <= FRIDGE.cut_in_c + 0.2
    duty = sum(s.cooling for s in states) / len(states)
    assert 0.2 < duty < 0.6
    switches = sum(a.cooling != b.cooling for a, b in pairwise(states))
    assert 12 <= switches <= 30  # cycles of roughly 40-100 minutes


def test_an_open_door_warms_far_faster_than_a_closed_one() -> None:
    shut = advance(FRIDGE, ThermalState(4.0), ambient_c=22.0, door_open=False, hours=2 / 60)
    open_ = advance(FRIDGE, ThermalState(4.0), ambient_c=22.0, door_open=True, hours=2 / 60)
    assert open_.temp_c - 4.0 > 5 * (shut.temp_c - 4.0 + 0.01)
    assert open_.temp_c < 22.0


def test_without_cooling_it_drifts_to_ambient_and_still_calls_for_cold() -> None:
    state = advance(FRIDGE, ThermalState(4.0), ambient_c=22.0, door_open=False, hours=48, cooling_works=False)
    assert 21.0 < state.temp_c <= 22.0
    assert state.cooling  # the thermostat asks; nothing comes


def test_the_freezer_holds_its_setpoint() -> None:
    spec = DEFAULT_SPECS["freezer"]
    states = run(spec, ThermalState(spec.setpoint_c), hours=6, step=0.1, door_open=False)
    assert all(abs(s.temp_c - spec.setpoint_c) < 1.5 for s in states)


@settings(max_examples=60, deadline=None)
@given(
    start=st.floats(-25, 30),
    hours=st.floats(0.0, 3.0),
    door=st.booleans(),
    cooling=st.booleans(),
)
def test_one_long_step_equals_many_short_ones(start: float, hours: float, door: bool, cooling: bool) -> None:
    spec = DEFAULT_SPECS["crisper"]
    one = advance(spec, ThermalState(start, cooling), ambient_c=20.0, door_open=door, hours=hours)
    state = ThermalState(start, cooling)
    pieces = 7
    for _ in range(pieces):
        state = advance(spec, state, ambient_c=20.0, door_open=door, hours=hours / pieces)
    # The thermostat looks every 30 s; splitting moves where it looks, so allow its band's worth.
    assert one.temp_c == pytest.approx(state.temp_c, abs=spec.hysteresis_c / 2 + 0.3)


def test_time_does_not_run_backwards_and_specs_are_checked() -> None:
    with pytest.raises(ValueError):
        advance(FRIDGE, ThermalState(4.0), ambient_c=22.0, door_open=False, hours=-1)
    with pytest.raises(ValueError):
        ThermalSpec(setpoint_c=4.0, hysteresis_c=0)
