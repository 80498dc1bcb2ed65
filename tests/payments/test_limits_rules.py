"""The one-tap limit rules (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from freshtap.server.domain.limits import Limits, above_limits


def test_no_limits_means_every_tap_is_one_tap() -> None:
    assert above_limits(Limits(), 10**8, "CNY", 10**9) == []


def test_per_order_limit_is_inclusive() -> None:
    limits = Limits(per_order_minor=5000, per_order_currency="CNY")
    assert above_limits(limits, 5000, "CNY", 0) == []
    assert above_limits(limits, 5001, "CNY", 0) == ["per_order"]


def test_the_weekly_limit_counts_this_tap_too() -> None:
    limits = Limits(per_week_minor=10000, per_week_currency="CNY")
    assert above_limits(limits, 3000, "CNY", 7000) == []
    assert above_limits(limits, 3001, "CNY", 7000) == ["per_week"]


def test_another_currency_cannot_be_compared_so_it_is_above() -> None:
    limits = Limits(per_order_minor=5000, per_order_currency="CNY", per_week_minor=9000, per_week_currency="CNY")
    assert above_limits(limits, 1, "EUR", 0) == ["per_order", "per_week"]


@given(
    per_order=st.integers(0, 10_000),
    per_week=st.integers(0, 50_000),
    amount=st.integers(0, 20_000),
    spent=st.integers(0, 60_000),
)
def test_within_both_limits_exactly_when_neither_is_exceeded(
    per_order: int, per_week: int, amount: int, spent: int
) -> None:
    limits = Limits(per_order, "CNY", per_week, "CNY")
    exceeded = above_limits(limits, amount, "CNY", spent)
    assert ("per_order" in exceeded) == (amount > per_order)
    assert ("per_week" in exceeded) == (spent + amount > per_week)
