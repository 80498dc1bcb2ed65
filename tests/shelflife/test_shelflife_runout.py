"""Run-out forecasts from shelf load-cell fill levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freshtap.shelflife import forecast_runout
from freshtap.shelflife.runout import RUNOUT_MIN_POINTS, RUNOUT_REFILL_JUMP

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
H = timedelta(hours=1)


def test_linear_consumption() -> None:
    fills = [(T0 + i * 10 * H, 1.0 - 0.02 * i * 10) for i in range(4)]  # 2 % an hour
    assert forecast_runout(fills, T0 + 30 * H) == T0 + 50 * H


def test_order_of_readings_does_not_matter() -> None:
    fills = [(T0 + i * H, 0.9 - 0.1 * i) for i in range(4)]
    assert forecast_runout(list(reversed(fills)), T0 + 3 * H) == forecast_runout(fills, T0 + 3 * H)


def test_a_refill_starts_a_new_series() -> None:
    before = [(T0 + i * H, 0.5 - 0.1 * i) for i in range(4)]  # fast, then refilled
    after = [(T0 + (10 + i) * H, 1.0 - 0.01 * i) for i in range(4)]  # 1 % an hour
    assert forecast_runout(before + after, T0 + 13 * H) == T0 + 110 * H


def test_small_upward_noise_is_not_a_refill() -> None:
    fills = [(T0, 0.8), (T0 + H, 0.7), (T0 + 2 * H, 0.7 + RUNOUT_REFILL_JUMP / 2), (T0 + 3 * H, 0.5)]
    result = forecast_runout(fills, T0 + 3 * H)
    assert result is not None and result > T0 + 3 * H


@pytest.mark.parametrize(
    "fills",
    [
        [],
        [(T0, 1.0)],
        [(T0 + i * H, 1.0 - 0.1 * i) for i in range(RUNOUT_MIN_POINTS - 1)],
        [(T0 + i * H, 0.5) for i in range(5)],  # flat
        [(T0 + i * H, 0.1 + 0.01 * i) for i in range(5)],  # creeping up
        [(T0, 0.9), (T0, 0.8), (T0, 0.7)],  # all at one instant
    ],
)
def test_no_forecast(fills: list[tuple[datetime, float]]) -> None:
    assert forecast_runout(fills, T0 + 10 * H) is None


def test_readings_after_now_are_ignored() -> None:
    fills = [(T0 + i * H, 1.0 - 0.1 * i) for i in range(3)] + [(T0 + 50 * H, 0.0)]
    assert forecast_runout(fills, T0 + 2 * H) == T0 + 10 * H


def test_a_past_run_out_is_now() -> None:
    fills = [(T0 + i * H, 0.3 - 0.1 * i) for i in range(3)]
    assert forecast_runout(fills, T0 + 24 * H) == T0 + 24 * H


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.001, 0.2),
    st.floats(0.3, 1.0),
    st.lists(st.floats(0.1, 6), min_size=RUNOUT_MIN_POINTS - 1, max_size=8),
)
def test_exact_on_a_straight_line(rate: float, start: float, steps: list[float]) -> None:
    times = [0.0]
    for step in steps:
        times.append(times[-1] + step)
    fills = [(T0 + t * H, start - rate * t) for t in times]
    now = T0 + times[-1] * H
    result = forecast_runout(fills, now)
    assert result is not None
    expected = max(T0 + (start / rate) * H, now)
    assert abs(result - expected) < timedelta(seconds=1)
