"""Referral links: the public product page behind `/r/{code}`, and orders placed through it.

A newcomer who followed a link buys through the ordinary one-tap path: the link makes a proposal
for the buyer's fridge (the reviewed product at its current list price, under the offer the
reviewer's own order came from, `item_id` `referral-<code>`), and `OrderService.accept` charges it
with the buyer's `Idempotency-Key`, limits and cancellation window. The order is then recorded as a
`ReferralOrder` with its attribution (`domain/referrals.py`): outside the window it is not
attributed; an order from the reviewer's own fridge, or from another fridge of its household,
earns nothing, and the reason is kept. Rewards are granted later (`rewards.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.server.domain.errors import Conflict, DomainError, IdempotencyMismatch, NotFound
from freshtap.server.domain.referrals import Buyer, attribute
from freshtap.server.security.credentials import FridgeCaller
from freshtap.server.services.orders import OrderService, OrderView
from freshtap.server.services.reviews import REFERRAL_ITEM_PREFIX
from freshtap.server.social.disclosure import Disclosure, disclosure_for
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import Merchant, Offer, Order, Product, Proposal
from freshtap.server.store.social_models import ReferralLink, ReferralOrder, ReviewDraft
from freshtap.settings import Settings

__all__ = ["ReferralPage", "ReferralService"]

_PROPOSAL_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class ReferralPage:
    code: str
    product: Product
    merchant: Merchant
    language: str
    review_text: str
    disclosure: Disclosure
    reviewed_at: str


class ReferralService:
    def __init__(self, sessions: Callable[[], Session], clock: Clock, settings: Settings, orders: OrderService) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._orders = orders

    @property
    def window(self) -> timedelta:
        return timedelta(days=self._settings.referrals.attribution_days)

    def page(self, code: str, count_click: bool = True) -> ReferralPage:
        """What `/r/{code}` shows; each view counts as a click."""
        with self._sessions() as session:
            link = session.get(ReferralLink, code)
            if link is None:
                raise NotFound("no such referral link")
            draft = session.get(ReviewDraft, link.draft_id)
            product = session.get(Product, link.product_id)
            merchant = session.get(Merchant, link.merchant_id)
            assert draft is not None and product is not None and merchant is not None
            if count_click:
                session.execute(
                    update(ReferralLink)
                    .execution_options(synchronize_session=False)
                    .where(col(ReferralLink.code) == code)
                    .values(clicks=col(ReferralLink.clicks) + 1)
                )
                session.commit()
            language = draft.approved_language or "en"
            return ReferralPage(
                code=code,
                product=product,
                merchant=merchant,
                language=language,
                review_text=draft.approved_text or "",
                disclosure=disclosure_for(
                    self._settings.reviews.jurisdiction, language, self._settings.referrals.reward_minor > 0
                ),
                reviewed_at=(draft.decided_at or draft.created_at).date().isoformat(),
            )

    def order(self, caller: FridgeCaller, code: str, idempotency_key: str) -> tuple[OrderView, ReferralOrder]:
        """Buy the product of link `code` as `caller`; the same key returns the same order."""
        now = self._clock.now()
        with self._sessions() as session:
            link = session.get(ReferralLink, code)
            if link is None:
                raise NotFound("no such referral link")
            existing = session.exec(
                select(Order).where(Order.household_id == caller.household_id, Order.idempotency_key == idempotency_key)
            ).first()
            if existing is None:
                proposal_id = self._proposal(session, caller, link, now)
            else:
                proposal = session.get(Proposal, existing.proposal_id)
                if proposal is None or proposal.item_id != f"{REFERRAL_ITEM_PREFIX}{code}"[:64]:
                    raise IdempotencyMismatch("this Idempotency-Key was used for a different purchase")
                proposal_id = proposal.id
        try:
            view = self._orders.accept(caller, proposal_id, idempotency_key)
        except DomainError:
            self._close(proposal_id, now)
            raise
        return view, self._record(view.order, link, now)

    def _proposal(self, session: Session, caller: FridgeCaller, link: ReferralLink, now: datetime) -> str:
        draft = session.get(ReviewDraft, link.draft_id)
        product = session.get(Product, link.product_id)
        assert draft is not None and product is not None
        source = session.get(Order, draft.order_id)
        source_proposal = session.get(Proposal, source.proposal_id) if source is not None else None
        offer = session.get(Offer, source_proposal.offer_id) if source_proposal is not None else None
        if offer is None:
            raise Conflict("this product cannot be ordered through the link any more")
        item_id = f"{REFERRAL_ITEM_PREFIX}{link.code}"[:64]
        live = session.exec(
            select(Proposal).where(
                Proposal.fridge_id == caller.fridge_id, Proposal.item_id == item_id, Proposal.status == "live"
            )
        ).first()
        if live is not None and live.expires_at > now:
            return live.id
        if live is not None:
            live.status, live.closed_at = "expired", now
            session.add(live)
            session.flush()
        proposal = Proposal(
            id=new_id("pr"),
            offer_id=offer.id,
            fridge_id=caller.fridge_id,
            household_id=caller.household_id,
            item_id=item_id,
            merchant_id=link.merchant_id,
            product_id=product.id,
            price_minor=product.price_minor,
            currency=product.currency,
            reason_kind=offer.trigger_kind,
            reason_text=f"Recommended in a review: {product.name}"[:300],
            status="live",
            created_at=now,
            expires_at=now + _PROPOSAL_TTL,
        )
        session.add(proposal)
        session.commit()
        return proposal.id

    def _close(self, proposal_id: str, now: datetime) -> None:
        """A referral proposal whose purchase was refused must not linger on the fridge's offers."""
        with self._sessions() as session:
            session.execute(
                update(Proposal)
                .execution_options(synchronize_session=False)
                .where(col(Proposal.id) == proposal_id, col(Proposal.status) == "live")
                .values(status="expired", closed_at=now)
            )
            session.commit()

    def _record(self, order: Order, link: ReferralLink, now: datetime) -> ReferralOrder:
        with self._sessions() as session:
            existing = session.get(ReferralOrder, order.id)
            if existing is not None:
                return existing
            draft = session.get(ReviewDraft, link.draft_id)
            assert draft is not None
            verdict = attribute(
                Buyer(link.household_id, draft.fridge_id),
                Buyer(order.household_id, order.fridge_id),
                link.created_at,
                order.created_at,
                self.window,
            )
            row = ReferralOrder(
                order_id=order.id,
                code=link.code,
                referrer_household_id=link.household_id,
                household_id=order.household_id,
                merchant_id=order.merchant_id,
                attributed=verdict.attributed,
                eligible=verdict.eligible,
                reason=verdict.reason,
                reward_status="pending" if verdict.eligible else "none",
                created_at=now,
                decided_at=None if verdict.eligible else now,
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # the same order recorded at the same moment by a retry
                session.rollback()
                again = session.get(ReferralOrder, order.id)
                if again is None:
                    raise
                return again
            session.refresh(row)
            return row
