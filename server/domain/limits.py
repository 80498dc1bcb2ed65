"""A household's one-tap spending limit, and the PIN that allows a tap above it.

Two limits, each optional and each in one currency:

- `per_order`: one tap may cost at most this much;
- `per_week`: the household's live orders (pending, waiting for authentication or paid, not
  declined, cancelled or refunded) over the rolling last seven days, this tap included, may cost at
  most this much.

A tap within every limit goes through with one tap. A tap above one needs the household's PIN; a
household that set no PIN cannot go above its limits at all. An order in another currency than a
limit cannot be compared with it, so it counts as above that limit (the safe side).

Errors (all `DomainError`s, mapped to problem+json in one place):

DomainError
├── OverLimit     403 — above a limit and no PIN is set
├── PinRequired   403 — above a limit: send the PIN (header `X-Freshtap-PIN` or body `pin`)
├── PinWrong      403 — the PIN does not match; `attempts_left` more before a lockout
└── PinLocked     429 — too many wrong PINs; try again later
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from freshtap.server.domain.errors import DomainError

__all__ = [
    "PIN_PATTERN",
    "WEEK",
    "Limits",
    "OverLimit",
    "PinLocked",
    "PinRequired",
    "PinWrong",
    "above_limits",
]

WEEK = timedelta(days=7)
PIN_PATTERN = re.compile(r"^[0-9]{4,8}$")


@dataclass(frozen=True)
class Limits:
    per_order_minor: int | None = None
    per_order_currency: str | None = None
    per_week_minor: int | None = None
    per_week_currency: str | None = None


def above_limits(limits: Limits, amount_minor: int, currency: str, spent_this_week_minor: int) -> list[str]:
    """Which limits a tap of `amount_minor` would exceed (empty: it is a one-tap purchase).

    `spent_this_week_minor` is what the household's live orders in the week's currency already cost
    over the rolling seven days, this tap not included.
    """
    exceeded: list[str] = []
    if limits.per_order_minor is not None and (
        currency != limits.per_order_currency or amount_minor > limits.per_order_minor
    ):
        exceeded.append("per_order")
    if limits.per_week_minor is not None and (
        currency != limits.per_week_currency or spent_this_week_minor + amount_minor > limits.per_week_minor
    ):
        exceeded.append("per_week")
    return exceeded


class OverLimit(DomainError):
    status = 403
    title = "Above the one-tap spending limit"
    type_slug = "over-limit"


class PinRequired(DomainError):
    status = 403
    title = "PIN required"
    type_slug = "pin-required"


class PinWrong(DomainError):
    status = 403
    title = "Wrong PIN"
    type_slug = "pin-wrong"


class PinLocked(DomainError):
    status = 429
    title = "Too many wrong PINs"
    type_slug = "pin-locked"
