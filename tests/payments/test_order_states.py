"""The order state machine (pure): every transition, the cancel and capture rules, and random runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshtap.server.domain.errors import Conflict
from freshtap.server.domain.orders import (
    PaymentOutcome,
    PaymentState,
    advance,
    cancel_action,
    capture_due,
    is_final,
    next_status,
    status_of,
)

STATES: tuple[PaymentState, ...] = get_args(PaymentState)
OUTCOMES: tuple[PaymentOutcome, ...] = get_args(PaymentOutcome)

# Written out by hand, independently of the module's table: (from, outcome) -> to.
ALLOWED: dict[tuple[str, str], str] = {
    ("pending", "succeeded"): "succeeded",
    ("pending", "authorized"): "authorized",
    ("pending", "requires_action"): "requires_action",
    ("pending", "declined"): "declined",
    ("pending", "voided"): "voided",
    ("requires_action", "succeeded"): "succeeded",
    ("requires_action", "authorized"): "authorized",
    ("requires_action", "declined"): "declined",
    ("requires_action", "voided"): "voided",
    ("authorized", "succeeded"): "succeeded",
    ("authorized", "voided"): "voided",
    ("succeeded", "refunded"): "refunded",
}

STATUS = {
    "pending": "pending",
    "requires_action": "requires_action",
    "authorized": "paid",
    "succeeded": "paid",
    "declined": "declined",
    "voided": "cancelled",
    "refunded": "refunded",
}

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_every_transition(state: PaymentState, outcome: PaymentOutcome) -> None:
    if state == outcome:
        assert advance(state, outcome) is None  # a redelivered event changes nothing
        assert next_status(state, outcome) == STATUS[state]
    elif (state, outcome) in ALLOWED:
        assert advance(state, outcome) == ALLOWED[(state, outcome)]
        assert next_status(state, outcome) == STATUS[ALLOWED[(state, outcome)]]
    else:
        with pytest.raises(Conflict):
            advance(state, outcome)


def test_status_of_every_state_and_which_are_final() -> None:
    assert {s: status_of(s) for s in STATES} == STATUS
    assert {s for s in STATES if is_final(s)} == {"declined", "voided", "refunded"}


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("requires_action", "void"),
        ("authorized", "void"),
        ("succeeded", "refund"),
        ("voided", None),
        ("refunded", None),
    ],
)
def test_cancel_within_the_window(state: PaymentState, expected: str | None) -> None:
    assert cancel_action(state, NOW, NOW + timedelta(seconds=1)) == expected


@pytest.mark.parametrize("state", ["pending", "declined"])
def test_cancel_is_refused_while_in_flight_or_when_declined(state: PaymentState) -> None:
    with pytest.raises(Conflict):
        cancel_action(state, NOW, NOW + timedelta(minutes=10))


@pytest.mark.parametrize("state", ["authorized", "succeeded"])
def test_cancel_is_refused_once_the_window_closed(state: PaymentState) -> None:
    with pytest.raises(Conflict, match="window closed"):
        cancel_action(state, NOW, NOW)


def test_waiting_for_authentication_can_be_abandoned_after_the_window() -> None:
    assert cancel_action("requires_action", NOW + timedelta(days=1), NOW) == "void"


def test_capture_is_due_only_for_held_money_after_the_window_without_a_cancel() -> None:
    until = NOW + timedelta(minutes=10)
    assert capture_due("authorized", until, until, cancel_requested=False)
    assert not capture_due("authorized", until - timedelta(seconds=1), until, cancel_requested=False)
    assert not capture_due("authorized", until, until, cancel_requested=True)
    for state in STATES:
        if state != "authorized":
            assert not capture_due(state, until, until, cancel_requested=False)


@given(st.lists(st.sampled_from(OUTCOMES), max_size=30))
def test_random_event_sequences_only_move_forward(outcomes: list[PaymentOutcome]) -> None:
    """Whatever the provider reports, in any order and repeated, money never un-moves."""
    rank = {"pending": 0, "requires_action": 1, "authorized": 2, "succeeded": 3, "declined": 3, "voided": 3}
    rank["refunded"] = 4
    state: PaymentState = "pending"
    for outcome in outcomes:
        try:
            after = advance(state, outcome)
        except Conflict:
            continue
        if after is None:
            assert outcome == state
            continue
        assert rank[after] > rank[state], (state, after)
        assert not is_final(state)
        state = after
    if is_final(state):
        assert all(advance(state, o) is None for o in OUTCOMES if o == state)
