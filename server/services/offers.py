"""The offer rules' writes and reads beyond creation: edits, previews, dismissals, household preferences.

Whatever changes what a fridge may be shown is reassessed at once for the fridges it can touch
(dismissal: that fridge; preferences: the household's fridges; an offer edit: the fridges showing
that offer), under the same per-fridge lock as ingest, and their retained `offers` list is
republished. Items a new or edited offer could newly match are woken for the scheduler's next
tick (`next_check_at` = now) rather than reassessed inside the request, since there can be many.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, update
from sqlmodel import Session, col, or_, select

from freshtap.clock import Clock
from freshtap.server.api.schemas import OfferCreate, OfferUpdate
from freshtap.server.domain.errors import Conflict, NotFound
from freshtap.server.domain.offers import HouseholdContext, OfferRule, PreviewItem, PreviewMatch, preview_offer
from freshtap.server.services.freshness import catalog_references
from freshtap.server.services.offer_rules import household_context, offer_rule, offer_rules_for
from freshtap.server.services.proposals import item_view, publish_offers, refresh_fridge
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.store.models import Fridge, Household, InventoryRecord, Offer, Product, Proposal
from freshtap.settings import Settings
from freshtap.shelflife import product_by_id

__all__ = ["OfferService", "PreviewResult"]

# `SELECT ... FOR NO KEY UPDATE` of the fridge's row on PostgreSQL, as ingest takes it.
_FRIDGE_LOCK = {"key_share": True}
_PREVIEW_SCAN = 20_000
"""The most present items one preview reads; a preview of an offer matching more is partial."""


@dataclass(frozen=True)
class PreviewResult:
    evaluated_at: datetime
    eligible: int
    total: int
    matches: list[PreviewMatch]


def _item_clause(offer: Offer) -> ColumnElement[bool]:
    """Present inventory items this offer matches (by GTIN, category, or a GTIN listed as its FoodKeeper product)."""
    if offer.match_gtin is not None:
        return col(InventoryRecord.gtin) == offer.match_gtin
    if offer.match_category is not None:
        return func.lower(col(InventoryRecord.category)) == offer.match_category.lower()
    listed = select(Product.gtin).where(
        Product.foodkeeper_product_id == offer.match_foodkeeper_id, col(Product.gtin).is_not(None)
    )
    return col(InventoryRecord.gtin).in_(listed)


class OfferService:
    def __init__(
        self, sessions: Callable[[], Session], clock: Clock, settings: Settings, publisher: FridgePublisher
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._publisher = publisher

    # --- reassessing -------------------------------------------------------------------------

    def _reassess(self, fridge_ids: Iterable[str], always_publish: Sequence[str] = ()) -> None:
        for fridge_id in sorted(set(fridge_ids) | set(always_publish)):
            now = self._clock.now()
            with self._sessions() as session:
                if session.get(Fridge, fridge_id, with_for_update=_FRIDGE_LOCK) is None:
                    continue
                changed = refresh_fridge(session, fridge_id, now, self._settings)
                session.commit()
                if changed or fridge_id in always_publish:
                    publish_offers(session, self._publisher, fridge_id, now)

    def wake_matching(self, offer: Offer) -> int:
        """Make the scheduler reassess, on its next tick, every present item `offer` matches."""
        now = self._clock.now()
        with self._sessions() as session:
            woken = session.execute(
                update(InventoryRecord)
                .where(
                    col(InventoryRecord.present),
                    _item_clause(offer),
                    or_(col(InventoryRecord.next_check_at).is_(None), col(InventoryRecord.next_check_at) > now),
                )
                .values(next_check_at=now)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        return int(woken.rowcount)  # type: ignore[attr-defined]

    # --- merchants ---------------------------------------------------------------------------

    def update_offer(self, merchant_id: str, offer_id: str, data: OfferUpdate) -> Offer:
        """Apply the allow-listed fields sent; withdraw at once what no longer applies."""
        sent = data.model_fields_set
        with self._sessions() as session:
            offer = session.get(Offer, offer_id)
            if offer is None or offer.merchant_id != merchant_id:
                raise NotFound(f"no offer {offer_id}")
            if "active" in sent:
                offer.active = data.active
            if "price" in sent:
                offer.price_minor = data.price.amount_minor if data.price else None
                offer.currency = data.price.currency if data.price else None
            if "discount" in sent:
                offer.discount_percent = getattr(data.discount, "percent", None)
                offer.discount_minor = getattr(data.discount, "amount_minor", None)
            if "valid_from" in sent:
                offer.valid_from = data.valid_from
            if "valid_until" in sent:
                offer.valid_until = data.valid_until
            if "max_per_household_per_week" in sent:
                offer.max_per_household_per_week = data.max_per_household_per_week
            if "quiet_hours" in sent:
                offer.quiet_start = data.quiet_hours.start if data.quiet_hours else None
                offer.quiet_end = data.quiet_hours.end if data.quiet_hours else None
            if "cooldown_hours_after_dismissal" in sent:
                offer.cooldown_hours_after_dismissal = data.cooldown_hours_after_dismissal
            offer.updated_at = self._clock.now()
            session.add(offer)
            session.commit()
            session.refresh(offer)
            showing = set(
                session.exec(
                    select(Proposal.fridge_id).where(Proposal.offer_id == offer.id, Proposal.status == "live")
                ).all()
            )
        self._reassess(showing)
        if offer.active:
            self.wake_matching(offer)
        return offer

    def preview_saved(self, merchant_id: str, offer_id: str) -> PreviewResult:
        """What a saved offer would do now (evaluated as if active, with its real history)."""
        with self._sessions() as session:
            offer = session.get(Offer, offer_id)
            if offer is None or offer.merchant_id != merchant_id:
                raise NotFound(f"no offer {offer_id}")
            product = session.get(Product, offer.product_id)
            if product is None:
                raise NotFound(f"no product {offer.product_id}")
            return self._preview(session, offer, product)

    def preview_draft(self, merchant_id: str, data: OfferCreate) -> PreviewResult:
        """What an offer with this body would do now if it were created; nothing is written."""
        with self._sessions() as session:
            if data.product_id is not None:
                product = session.get(Product, data.product_id)
                if product is None or product.merchant_id != merchant_id:
                    raise NotFound(f"no product {data.product_id}")
            else:
                found = session.exec(
                    select(Product).where(Product.merchant_id == merchant_id, Product.gtin == data.gtin)
                ).first()
                if found is None:
                    raise NotFound(f"you have no product with GTIN {data.gtin}; create it first")
                product = found
            match_foodkeeper = getattr(data.match, "foodkeeper_product_id", None)
            if match_foodkeeper is not None and product_by_id(match_foodkeeper) is None:
                raise NotFound(f"no FoodKeeper product {match_foodkeeper}")
            trigger = data.trigger
            draft = Offer(
                id="draft",
                merchant_id=merchant_id,
                product_id=product.id,
                match_gtin=data.match.gtin,
                match_category=data.match.category.lower() if data.match.category else None,
                match_foodkeeper_id=match_foodkeeper,
                trigger_kind=trigger.kind,
                trigger_within_hours=getattr(trigger, "within_hours", None),
                trigger_below=getattr(trigger, "below", None),
                price_minor=data.price.amount_minor if data.price else None,
                currency=data.price.currency if data.price else None,
                max_per_household_per_week=data.max_per_household_per_week,
                quiet_start=data.quiet_hours.start if data.quiet_hours else None,
                quiet_end=data.quiet_hours.end if data.quiet_hours else None,
                discount_percent=getattr(data.discount, "percent", None),
                discount_minor=getattr(data.discount, "amount_minor", None),
                valid_from=data.valid_from,
                valid_until=data.valid_until,
                cooldown_hours_after_dismissal=data.cooldown_hours_after_dismissal,
                created_at=self._clock.now(),
            )
            return self._preview(session, draft, product)

    def _preview(self, session: Session, offer: Offer, product: Product) -> PreviewResult:
        now = self._clock.now()
        default_cooldown = self._settings.offers.cooldown_hours_after_dismissal
        rule = offer_rule(offer, product, default_cooldown)
        records = session.exec(
            select(InventoryRecord)
            .where(col(InventoryRecord.present), _item_clause(offer))
            .order_by(col(InventoryRecord.fridge_id), col(InventoryRecord.item_id))
            .limit(_PREVIEW_SCAN)
        ).all()
        if not records:
            return PreviewResult(now, 0, 0, [])
        fridge_ids = {r.fridge_id for r in records}
        references = catalog_references(session, {r.gtin for r in records if r.gtin})
        competitors = [
            c
            for c in offer_rules_for(
                session,
                {r.gtin for r in records if r.gtin},
                {r.category for r in records},
                set(references.values()),
                default_cooldown,
            )
            if c.offer_id != offer.id
        ]
        live = {
            (fridge_id, item_id): offer_id
            for fridge_id, item_id, offer_id in session.exec(
                select(Proposal.fridge_id, Proposal.item_id, Proposal.offer_id).where(
                    col(Proposal.fridge_id).in_(fridge_ids), Proposal.status == "live"
                )
            ).all()
        }
        bought = self._bought(session, records)
        households = self._contexts(session, fridge_ids, [rule, *competitors], now)
        entries = [
            PreviewItem(
                fridge_id=r.fridge_id,
                item=item_view(r, references.get(r.gtin or "")),
                household=households[r.fridge_id],
                competitors=tuple(competitors),
                live_offer_id=live.get((r.fridge_id, r.item_id)),
            )
            for r in records
            if (r.fridge_id, r.item_id) not in bought
        ]
        matches = preview_offer(rule, entries, now)
        matches.sort(key=lambda m: (not m.eligible, m.fridge_id, m.item.item_id))
        eligible = sum(1 for m in matches if m.eligible)
        return PreviewResult(now, eligible, len(matches), matches[: self._settings.offers.preview_max_matches])

    @staticmethod
    def _bought(session: Session, records: Sequence[InventoryRecord]) -> set[tuple[str, str]]:
        """(fridge, item) pairs the household already bought a replacement for since the item was added."""
        added = {(r.fridge_id, r.item_id): r.added_at for r in records}
        accepted = session.exec(
            select(Proposal.fridge_id, Proposal.item_id, Proposal.created_at).where(
                col(Proposal.fridge_id).in_({r.fridge_id for r in records}), Proposal.status == "accepted"
            )
        ).all()
        return {
            (fridge_id, item_id)
            for fridge_id, item_id, created_at in accepted
            if (fridge_id, item_id) in added and created_at >= added[(fridge_id, item_id)]
        }

    @staticmethod
    def _contexts(
        session: Session, fridge_ids: set[str], rules: list[OfferRule], now: datetime
    ) -> dict[str, HouseholdContext]:
        """Each fridge's household context (loaded once per household)."""
        pairs = session.exec(
            select(Fridge.id, Household).join(Household, col(Household.id) == col(Fridge.household_id)).where(
                col(Fridge.id).in_(fridge_ids)
            )
        ).all()
        by_household: dict[str, HouseholdContext] = {}
        out: dict[str, HouseholdContext] = {}
        for fridge_id, household in pairs:
            if household.id not in by_household:
                by_household[household.id] = household_context(session, household, rules, now)
            out[fridge_id] = by_household[household.id]
        return out

    # --- households --------------------------------------------------------------------------

    def dismiss(self, household_id: str, proposal_id: str) -> Proposal:
        """Close a live proposal as dismissed (again: the same answer); its offer then cools down."""
        now = self._clock.now()
        with self._sessions() as session:
            proposal = session.get(Proposal, proposal_id)
            if proposal is None or proposal.household_id != household_id:
                raise NotFound(f"no proposal {proposal_id}")
            if proposal.status == "dismissed":
                return proposal
            if proposal.status != "live":
                raise Conflict(f"proposal {proposal_id} is {proposal.status}, not live")
            session.get(Fridge, proposal.fridge_id, with_for_update=_FRIDGE_LOCK)
            claimed = session.execute(
                update(Proposal)
                .where(col(Proposal.id) == proposal_id, col(Proposal.status) == "live")
                .values(status="dismissed", closed_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                current = session.get(Proposal, proposal_id)
                if current is not None and current.status == "dismissed":
                    return current
                raise Conflict(f"proposal {proposal_id} is no longer live")
            session.commit()
            fridge_id = proposal.fridge_id
        self._reassess([], always_publish=[fridge_id])
        with self._sessions() as session:
            closed = session.get(Proposal, proposal_id)
        assert closed is not None
        return closed

    def preferences(self, household_id: str) -> Household:
        with self._sessions() as session:
            household = session.get(Household, household_id)
        if household is None:
            raise NotFound(f"no household {household_id}")
        return household

    def set_preferences(self, household_id: str, opted_in: bool, muted: Iterable[str]) -> Household:
        """Replace the household's offer choices; live proposals they now exclude close at once."""
        with self._sessions() as session:
            household = session.get(Household, household_id)
            if household is None:
                raise NotFound(f"no household {household_id}")
            household.offers_opted_in = opted_in
            household.offers_muted_categories = sorted({c.strip().lower() for c in muted if c.strip()})
            session.add(household)
            session.commit()
            session.refresh(household)
            fridges = session.exec(select(Fridge.id).where(Fridge.household_id == household_id)).all()
        self._reassess(fridges)
        return household
