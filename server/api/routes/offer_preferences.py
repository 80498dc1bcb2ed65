"""The household's offer choices: whether it sees offers at all, and the categories it muted."""

from __future__ import annotations

from fastapi import APIRouter

from freshtap.server.api.deps import CurrentHousehold, ServicesDep
from freshtap.server.api.offer_schemas import OfferPreferencesPublic, OfferPreferencesUpdate
from freshtap.server.store.models import Household

router = APIRouter(prefix="/api/v1/households/me", tags=["household"])


def _public(household: Household) -> OfferPreferencesPublic:
    return OfferPreferencesPublic(
        opted_in=household.offers_opted_in, muted_categories=list(household.offers_muted_categories or [])
    )


@router.get("/offer-preferences")
def get_offer_preferences(household: CurrentHousehold, services: ServicesDep) -> OfferPreferencesPublic:
    """Whether the household sees offers, and the categories it wants none for."""
    return _public(services.offers.preferences(household.household_id))


@router.put("/offer-preferences")
def put_offer_preferences(
    update: OfferPreferencesUpdate, household: CurrentHousehold, services: ServicesDep
) -> OfferPreferencesPublic:
    """Replace the household's offer choices (categories are kept lower-case).

    Opting out, or muting a category, withdraws the matching live offers from its fridges at once.
    """
    chosen = services.offers.set_preferences(household.household_id, update.opted_in, update.muted_categories)
    return _public(chosen)
