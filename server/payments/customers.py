"""A household's customer at a payment provider, and the check that a token is only a token.

Stripe charges off-session a payment method saved on a customer (`cus_...`); the household's
`payment_method` holds the method's token (`pm_...`). Neither is card data, and anything that
looks like a card number is refused before it can be stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlmodel import Session

from freshtap.clock import Clock
from freshtap.server.domain.errors import InvalidRequest, NotFound
from freshtap.server.store.models import Household
from freshtap.server.store.payments_models import PaymentCustomer

__all__ = ["customer_for", "looks_like_card_number", "set_customer", "validate_token"]

_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]{1,250}$")
# A run of digits standing on its own (random ids mix digits with letters, card numbers do not).
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d[\d -]{11,}\d(?![0-9A-Za-z])")


def looks_like_card_number(text: str) -> bool:
    """True when `text` holds 13-19 digits (spaces or dashes between) that pass the Luhn check."""
    for match in _DIGIT_RUN.finditer(text):
        digits = [int(c) for c in match.group() if c.isdigit()]
        for size in range(19, 12, -1):
            for start in range(0, len(digits) - size + 1):
                if _luhn(digits[start : start + size]):
                    return True
    return False


def _luhn(digits: list[int]) -> bool:
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def validate_token(value: str) -> str:
    """A provider token (`pm_...`, `cus_...`), or `InvalidRequest`: never card data."""
    if looks_like_card_number(value) or not _TOKEN.match(value):
        raise InvalidRequest("give a payment provider's token (e.g. pm_..., cus_...), never card details")
    return value


def set_customer(
    sessions: Callable[[], Session], clock: Clock, household_id: str, provider: str, customer: str
) -> None:
    with sessions() as session:
        if session.get(Household, household_id) is None:
            raise NotFound(f"no household {household_id}")
        row = session.get(PaymentCustomer, (household_id, provider))
        if row is None:
            row = PaymentCustomer(household_id=household_id, provider=provider, customer="", created_at=clock.now())
        row.customer = validate_token(customer)
        session.add(row)
        session.commit()


def customer_for(session: Session, household_id: str, provider: str) -> str | None:
    row = session.get(PaymentCustomer, (household_id, provider))
    return row.customer if row is not None else None
