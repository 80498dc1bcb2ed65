"""The order state machine.

    pending ──charge ok──────────▶ paid
       │  └──bank asks the owner──▶ requires_action ──ok──▶ paid
       │                                  └──fails────────▶ declined
       └──charge refused─────────▶ declined

Every transition not drawn here raises `Conflict`.
"""

from __future__ import annotations

from typing import Literal

from freshtap.server.domain.errors import Conflict

__all__ = ["OrderStatus", "PaymentOutcome", "next_status"]

OrderStatus = Literal["pending", "requires_action", "paid", "declined"]
PaymentOutcome = Literal["succeeded", "declined", "requires_action"]

_TRANSITIONS: dict[tuple[OrderStatus, PaymentOutcome], OrderStatus] = {
    ("pending", "succeeded"): "paid",
    ("pending", "declined"): "declined",
    ("pending", "requires_action"): "requires_action",
    ("requires_action", "succeeded"): "paid",
    ("requires_action", "declined"): "declined",
}


def next_status(current: OrderStatus, outcome: PaymentOutcome) -> OrderStatus:
    try:
        return _TRANSITIONS[(current, outcome)]
    except KeyError:
        raise Conflict(f"an order that is {current} cannot take a payment that {outcome}") from None
