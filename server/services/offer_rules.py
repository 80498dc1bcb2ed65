"""Reading the offer rules' inputs from the database: offers as `OfferRule`s, households as contexts.

The planner (services/proposals.py) and the merchant's preview (services/offers.py) read the same
way, so that a preview says exactly what the planner would do.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, false, func
from sqlmodel import Session, col, or_, select

from freshtap.server.domain.offers import (
    WEEK,
    Dismissal,
    HouseholdContext,
    OfferRule,
    PastProposal,
    TriggerKind,
)
from freshtap.server.store.models import Household, Offer, Product, Proposal

__all__ = ["household_context", "household_zone", "matching_clause", "offer_rule", "offer_rules_for"]


def _hhmm(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def household_zone(household: Household | None) -> ZoneInfo:
    try:
        return ZoneInfo(household.timezone) if household else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def offer_rule(offer: Offer, product: Product, default_cooldown_hours: float) -> OfferRule:
    """The pure rule of a stored offer (its list price falls back to the product's)."""
    cooldown = offer.cooldown_hours_after_dismissal
    return OfferRule(
        offer_id=offer.id,
        merchant_id=offer.merchant_id,
        product_id=offer.product_id,
        match_gtin=offer.match_gtin,
        match_category=offer.match_category,
        match_foodkeeper=offer.match_foodkeeper_id,
        trigger_kind=cast(TriggerKind, offer.trigger_kind),
        within_hours=offer.trigger_within_hours,
        below=offer.trigger_below,
        price_minor=offer.price_minor if offer.price_minor is not None else product.price_minor,
        currency=offer.currency or product.currency,
        created_at=offer.created_at,
        max_per_household_per_week=offer.max_per_household_per_week,
        quiet_start=_hhmm(offer.quiet_start),
        quiet_end=_hhmm(offer.quiet_end),
        discount_percent=offer.discount_percent,
        discount_minor=offer.discount_minor,
        valid_from=offer.valid_from,
        valid_until=offer.valid_until,
        cooldown_hours=cooldown if cooldown is not None else default_cooldown_hours,
    )


def matching_clause(
    gtins: Collection[str], categories: Collection[str], foodkeeper: Collection[int]
) -> ColumnElement[bool]:
    """Offers that match any item with one of these GTINs, (lower-case) categories or FoodKeeper products."""
    clauses: list[ColumnElement[bool]] = []
    if gtins:
        clauses.append(col(Offer.match_gtin).in_(gtins))
    if categories:
        clauses.append(func.lower(col(Offer.match_category)).in_(categories))
    if foodkeeper:
        clauses.append(col(Offer.match_foodkeeper_id).in_(foodkeeper))
    return or_(*clauses) if clauses else false()


def offer_rules_for(
    session: Session,
    gtins: Collection[str],
    categories: Collection[str],
    foodkeeper: Collection[int],
    default_cooldown_hours: float,
) -> list[OfferRule]:
    """The active offers that could match items with these GTINs, categories or FoodKeeper products."""
    rows = session.exec(
        select(Offer, Product)
        .join(Product, col(Product.id) == col(Offer.product_id))
        .where(col(Offer.active), matching_clause(gtins, {c.lower() for c in categories}, foodkeeper))
    ).all()
    return [offer_rule(offer, product, default_cooldown_hours) for offer, product in rows]


def household_context(
    session: Session, household: Household | None, rules: Sequence[OfferRule], now: datetime
) -> HouseholdContext:
    """What the rules need to know about one household: its zone, choices and recent history."""
    if household is None:
        return HouseholdContext()
    offer_ids = {r.offer_id for r in rules}
    recent: tuple[PastProposal, ...] = ()
    dismissals: tuple[Dismissal, ...] = ()
    if offer_ids:
        made = session.exec(
            select(Proposal.offer_id, Proposal.created_at).where(
                Proposal.household_id == household.id,
                col(Proposal.offer_id).in_(offer_ids),
                col(Proposal.created_at) >= now - WEEK,
            )
        ).all()
        recent = tuple(PastProposal(offer_id, created_at) for offer_id, created_at in made)
        longest = max(r.cooldown_hours for r in rules)
        dismissed = session.exec(
            select(Proposal.offer_id, Proposal.item_key, Proposal.closed_at).where(
                Proposal.household_id == household.id,
                Proposal.status == "dismissed",
                col(Proposal.offer_id).in_(offer_ids),
                col(Proposal.closed_at) >= now - timedelta(hours=longest),
            )
        ).all()
        dismissals = tuple(
            Dismissal(offer_id, key, at) for offer_id, key, at in dismissed if key is not None and at is not None
        )
    return HouseholdContext(
        zone=household_zone(household),
        opted_in=household.offers_opted_in,
        muted_categories=frozenset(c.lower() for c in household.offers_muted_categories or ()),
        recent=recent,
        dismissals=dismissals,
    )
