"""Referral attribution and reward rules (pure): window, self and same-household referrals, the cancel window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from freshtap.server.domain.referrals import Buyer, attribute, reward_decision

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = timedelta(days=30)
REFERRER = Buyer("hh_ref", "f-ref-kitchen")


def test_an_order_by_another_household_inside_the_window_is_eligible() -> None:
    verdict = attribute(REFERRER, Buyer("hh_new", "f-new"), T0, T0 + timedelta(days=3), WINDOW)
    assert (verdict.attributed, verdict.eligible, verdict.reason) == (True, True, None)


def test_self_and_same_household_referrals_earn_nothing_but_count() -> None:
    self_ref = attribute(REFERRER, Buyer("hh_ref", "f-ref-kitchen"), T0, T0 + timedelta(hours=1), WINDOW)
    assert (self_ref.attributed, self_ref.eligible, self_ref.reason) == (True, False, "self_referral")
    twin = attribute(REFERRER, Buyer("hh_ref", "f-ref-garage"), T0, T0 + timedelta(hours=1), WINDOW)
    assert (twin.attributed, twin.eligible, twin.reason) == (True, False, "same_household")


def test_outside_the_window_is_not_attributed() -> None:
    late = attribute(REFERRER, Buyer("hh_new", "f-new"), T0, T0 + WINDOW + timedelta(seconds=1), WINDOW)
    assert (late.attributed, late.eligible, late.reason) == (False, False, "outside_window")
    edge = attribute(REFERRER, Buyer("hh_new", "f-new"), T0, T0 + WINDOW, WINDOW)
    assert edge.eligible


@given(
    status=st.sampled_from(
        ["pending", "requires_action", "paid", "shipped", "delivered", "restocked", "cancelled", "refunded", "declined"]
    ),
    offset=st.integers(-10_000, 10_000),
)
def test_a_reward_is_granted_only_after_the_cancellation_window_of_a_live_order(status: str, offset: int) -> None:
    until = T0 + timedelta(minutes=10)
    now = until + timedelta(seconds=offset)
    decision = reward_decision(status, until, now)
    if status in ("cancelled", "refunded", "declined"):
        assert decision == "none"
    elif status in ("pending", "requires_action") or now < until:
        assert decision == "wait"
    else:
        assert decision == "grant"
