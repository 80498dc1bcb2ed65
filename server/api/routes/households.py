"""The household's own settings: its one-tap spending limits and PIN."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from freshtap.contract import Money
from freshtap.server.api.deps import CurrentHousehold, ServicesDep
from freshtap.server.api.payment_responses import LIMITS_RESPONSES
from freshtap.server.api.schemas import LimitsPublic, LimitsUpdate
from freshtap.server.domain.limits import Limits
from freshtap.server.services.spending import LimitsView, PinChange

router = APIRouter(prefix="/api/v1/households/me", tags=["household"])


def _public(view: LimitsView) -> LimitsPublic:
    limits = view.limits
    per_order = per_week = spent = None
    if limits.per_order_minor is not None and limits.per_order_currency is not None:
        per_order = Money(amount_minor=limits.per_order_minor, currency=limits.per_order_currency)
    if limits.per_week_minor is not None and limits.per_week_currency is not None:
        per_week = Money(amount_minor=limits.per_week_minor, currency=limits.per_week_currency)
        spent = Money(amount_minor=view.spent_this_week_minor or 0, currency=limits.per_week_currency)
    return LimitsPublic(
        per_order=per_order,
        per_week=per_week,
        spent_this_week=spent,
        pin_set=view.pin_set,
        pin_locked_until=view.pin_locked_until,
    )


@router.get("/limits")
def get_limits(household: CurrentHousehold, services: ServicesDep) -> LimitsPublic:
    """The household's one-tap limits, what the week has used of the weekly one, and whether a PIN is set."""
    return _public(services.orders.limits.get(household.household_id))


@router.put("/limits", responses=LIMITS_RESPONSES)
def put_limits(
    update: LimitsUpdate,
    household: CurrentHousehold,
    services: ServicesDep,
    pin_header: Annotated[str | None, Header(alias="X-Freshtap-PIN", max_length=16)] = None,
) -> LimitsPublic:
    """Replace the one-tap limits; set (`pin`), keep (leave `pin` out) or remove (`"pin": null`) the PIN.

    With a PIN set, the current PIN is needed (`X-Freshtap-PIN` or `current_pin`): 403 `pin-required`
    or `pin-wrong`, 429 `pin-locked` after too many wrong ones.
    """
    limits = Limits(
        per_order_minor=update.per_order.amount_minor if update.per_order else None,
        per_order_currency=update.per_order.currency if update.per_order else None,
        per_week_minor=update.per_week.amount_minor if update.per_week else None,
        per_week_currency=update.per_week.currency if update.per_week else None,
    )
    if "pin" not in update.model_fields_set:
        change = PinChange("keep")
    elif update.pin is None:
        change = PinChange("remove")
    else:
        change = PinChange("set", update.pin)
    current = update.current_pin if update.current_pin is not None else pin_header
    return _public(services.orders.limits.put(household.household_id, limits, change, current))
