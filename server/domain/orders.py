"""The order state machine: pure functions over the order's payment state, with `now` passed in.

The payment state is what the provider said about the money; the order status shown to people
follows from it (`status_of`):

    payment state       order status
    pending          -> pending           the tap is recorded; the provider has not answered yet
    requires_action  -> requires_action   the bank wants the owner to authenticate on the phone
    authorized       -> paid              the money is held; captured when the cancel window closes
    succeeded        -> paid              the money is taken
    declined         -> declined
    voided           -> cancelled         nothing was taken (cancelled in time, or never authenticated)
    refunded         -> refunded          taken, then given back (cancelled in time after capture)

Provider events move the payment state (`advance`):

    pending ──succeeded──▶ succeeded ──refunded──▶ refunded
       │ ├───authorized──▶ authorized ──succeeded (captured)──▶ succeeded
       │ │                     └──────voided─────▶ voided
       │ ├───requires_action──▶ requires_action ──succeeded | authorized | declined | voided──▶ ...
       │ ├───declined──▶ declined
       │ └───voided────▶ voided

An event that names the state the order is already in changes nothing (a redelivered webhook, a
replayed response). An event that would go back (a late `succeeded` for a refunded order) or
sideways (a `succeeded` for a declined one) raises `Conflict`: the caller logs it and keeps the order.

The household's cancel (`cancel_action`) is a void while nothing was taken, a refund after, and is
allowed until `cancellable_until`; an order still waiting for authentication may be abandoned at
any time, because no money moved.

What happens to the goods after `paid` (shipped, delivered, restocked, out of stock) is the
fulfilment side, in `domain/fulfilment.py`; it refines the status shown only while the payment
is `paid` (`combined_status`), and never changes the payment state kept here (docs/orders.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from freshtap.server.domain.errors import Conflict

__all__ = [
    "CancelAction",
    "OrderStatus",
    "PaymentOutcome",
    "PaymentState",
    "advance",
    "cancel_action",
    "capture_due",
    "is_final",
    "next_status",
    "status_of",
]

OrderStatus = Literal["pending", "requires_action", "paid", "declined", "cancelled", "refunded"]
PaymentState = Literal["pending", "requires_action", "authorized", "succeeded", "declined", "voided", "refunded"]
PaymentOutcome = Literal["succeeded", "authorized", "requires_action", "declined", "voided", "refunded"]
CancelAction = Literal["void", "refund"]

_STATUS: dict[PaymentState, OrderStatus] = {
    "pending": "pending",
    "requires_action": "requires_action",
    "authorized": "paid",
    "succeeded": "paid",
    "declined": "declined",
    "voided": "cancelled",
    "refunded": "refunded",
}

_TRANSITIONS: dict[PaymentState, frozenset[PaymentOutcome]] = {
    "pending": frozenset({"succeeded", "authorized", "requires_action", "declined", "voided"}),
    "requires_action": frozenset({"succeeded", "authorized", "declined", "voided"}),
    "authorized": frozenset({"succeeded", "voided"}),
    "succeeded": frozenset({"refunded"}),
    "declined": frozenset(),
    "voided": frozenset(),
    "refunded": frozenset(),
}

_FINAL: frozenset[PaymentState] = frozenset({"declined", "voided", "refunded"})


def status_of(state: PaymentState) -> OrderStatus:
    """The order status people see for a payment state."""
    return _STATUS[state]


def is_final(state: PaymentState) -> bool:
    """True when no provider event can move the payment any more."""
    return state in _FINAL


def advance(current: PaymentState, outcome: PaymentOutcome) -> PaymentState | None:
    """The payment state after the provider reports `outcome`; None when it changes nothing."""
    if outcome == current:
        return None
    if outcome in _TRANSITIONS[current]:
        return outcome
    raise Conflict(f"a payment that is {current} cannot become {outcome}")


def next_status(current: PaymentState, outcome: PaymentOutcome) -> OrderStatus:
    """The order status after `outcome` (the status stays when the outcome changes nothing)."""
    after = advance(current, outcome)
    return status_of(after if after is not None else current)


def cancel_action(state: PaymentState, now: datetime, cancellable_until: datetime) -> CancelAction | None:
    """What cancelling needs from the provider: None when the order is already cancelled or refunded.

    Raises `Conflict` when the order cannot be cancelled: the charge is still in flight, it was
    declined, or the window has closed.
    """
    if state in ("voided", "refunded"):
        return None
    if state == "requires_action":
        return "void"
    if state == "pending":
        raise Conflict("the payment is still being processed; try again in a moment")
    if state == "declined":
        raise Conflict("a declined order has nothing to cancel")
    if now >= cancellable_until:
        raise Conflict(f"the cancellation window closed at {cancellable_until.isoformat()}")
    return "void" if state == "authorized" else "refund"


def capture_due(state: PaymentState, now: datetime, cancellable_until: datetime, cancel_requested: bool) -> bool:
    """A held authorisation is captured once the window has closed, unless a cancel came first."""
    return state == "authorized" and now >= cancellable_until and not cancel_requested
