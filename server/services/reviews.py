"""Review drafts: made from an order's facts, shown to the owner, edited, approved (with consent) or skipped.

- `create_due_drafts` (a scheduler job) drafts one review per paid order whose goods were
  restocked (the fridge saw the item, `OrderFulfilment.status`), or delivered
  `reviews.draft_after_delivered_days` ago and never seen restocked; the order id is
  unique in `review_draft`, so two workers or two ticks never draft twice. Each new draft sends a
  `review_draft` notice to the fridge.
- `edit` takes the owner's note and rating (they become facts and the sentences are drafted
  again) and the owner's own wording of the whole text per language.
- `approve` records, in one transaction: the decision, a `ReviewConsent` per channel with the
  exact text the owner was shown, the referral link, the poster (drawn with that link,
  `review_media`), and one social outbox entry per channel (`social_outbox.enqueue_post`) whose
  post carries the poster and waits up to `reviews.video_wait_minutes` for the fridge's video
  (`services/review_media.py`). The text shown must be the text that will be posted (the
  preview of `view`), or nothing is approved. Approving again returns the first approval.
- `skip` closes the draft; nothing is ever posted from it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from freshtap.clock import Clock
from freshtap.contract import Channel, NoticeBody, NoticeMessage, encode
from freshtap.media.errors import MediaError
from freshtap.media.poster import PosterSpec, render_poster
from freshtap.server.domain.errors import Conflict, InvalidRequest, NotFound
from freshtap.server.domain.review_drafts import LANGUAGES, Language, compose, fact_chips
from freshtap.server.domain.review_facts import (
    Fact,
    OwnerInput,
    Purchase,
    StayRecord,
    TempSpan,
    facts_from_json,
    facts_to_json,
    gather_facts,
)
from freshtap.server.domain.social_posts import MediaRef, PostContent
from freshtap.server.services.freshness import temperature_history
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.services.review_media import store_poster
from freshtap.server.services.social_outbox import enqueue_post
from freshtap.server.social.disclosure import Disclosure, disclosure_for
from freshtap.server.store.history_models import ItemHistory
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import Household, InventoryRecord, Order, Product, Proposal
from freshtap.server.store.shipment_models import OrderFulfilment
from freshtap.server.store.social_models import ReferralLink, ReviewConsent, ReviewDraft
from freshtap.settings import Settings

__all__ = [
    "REFERRAL_ITEM_PREFIX",
    "Approval",
    "DraftEdit",
    "ReviewService",
    "ReviewView",
    "available_channels",
    "poster_spec",
    "send_notice",
]

log = logging.getLogger(__name__)

REFERRAL_ITEM_PREFIX = "referral-"
"""The `item_id` of a proposal made for a referral order: no item in any fridge stands behind it."""

_DEAD_ORDER_STATUSES = ("declined", "cancelled", "refunded")


def available_channels(settings: Settings) -> tuple[str, ...]:
    """Channels a post can go to: the local feed and the Xiaohongshu package always, others once configured."""
    social = settings.social_channels
    channels = ["local"]
    if social.webhook.url and social.webhook.secret is not None:
        channels.append("webhook")
    if social.weibo.access_token is not None:
        channels.append("weibo")
    if social.wechat_oa.app_id and social.wechat_oa.app_secret is not None:
        channels.append("wechat_oa")
    if social.douyin.client_key and social.douyin.client_secret is not None:
        channels.append("douyin")
    channels.append("xiaohongshu")
    if social.mastodon.base_url and social.mastodon.access_token is not None:
        channels.append("mastodon")
    return tuple(channels)


def send_notice(publisher: FridgePublisher, fridge_id: str, now: datetime, fields: dict[str, object]) -> None:
    """A courtesy notice to a fridge; a broker that is away loses it, the door screen polls anyway."""
    message = NoticeMessage(
        v=1,
        type="notice",
        fridge_id=fridge_id,
        at=now.replace(microsecond=0),
        body=NoticeBody.model_validate(fields),
    )
    try:
        publisher.publish(fridge_id, Channel.NOTICES, encode(message), retain=False)
    except Exception as exc:
        log.warning("could not send a %s notice to fridge %s: %s", fields.get("kind"), fridge_id, exc)


@dataclass(frozen=True)
class DraftEdit:
    """What the owner changed; a field left out (not in `fields_set`) stays as it was."""

    note: str | None = None
    rating: int | None = None
    text_zh: str | None = None
    text_en: str | None = None
    fields_set: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ReviewView:
    draft: ReviewDraft
    product: Product
    facts: tuple[Fact, ...]
    texts: dict[Language, str]
    """The text per language: the owner's own wording when edited, else the drafted sentences."""
    sentences: dict[Language, list[dict[str, Any]]]
    incentive: bool
    disclosures: dict[Language, Disclosure]
    previews: dict[Language, str]
    """Exactly what the owner must be shown to approve: label, text and note, one per line."""
    channels: tuple[str, ...]
    referral_code: str | None
    consents: list[ReviewConsent]


@dataclass(frozen=True)
class Approval:
    view: ReviewView
    outbox_ids: list[str]


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def preview(disclosure: Disclosure, text: str) -> str:
    return "\n".join(part for part in (disclosure.label, text, disclosure.note) if part)


def poster_spec(view: ReviewView, language: Language, referral_url: str) -> PosterSpec:
    """The poster of `view` in `language`: the approved text once approved in it, else the draft's."""
    draft = view.draft
    approved = draft.approved_text if draft.approved_language == language and draft.approved_text else None
    return PosterSpec(
        product_name=view.product.name,
        review=approved or view.texts[language],
        referral_url=referral_url,
        facts=fact_chips(view.facts, language),
        disclosure=view.disclosures[language].label or None,
        qr_caption="扫码购买 · Scan to buy",
    )


class ReviewService:
    def __init__(
        self, sessions: Callable[[], Session], clock: Clock, settings: Settings, publisher: FridgePublisher
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._publisher = publisher

    @property
    def incentive(self) -> bool:
        return self._settings.referrals.reward_minor > 0

    # -- drafting ------------------------------------------------------------------------------

    def create_due_drafts(self, limit: int = 200) -> int:
        """Draft reviews for orders that are due; returns how many were made."""
        now = self._clock.now()
        delivered_before = now - timedelta(days=self._settings.reviews.draft_after_delivered_days)
        with self._sessions() as session:
            # The goods side (shipment_models.OrderFulfilment) says restocked or delivered; the
            # payment side must still be paid (a refunded order is not reviewed).
            due = session.exec(
                select(Order.id)
                .join(OrderFulfilment, col(OrderFulfilment.order_id) == col(Order.id))
                .join(ReviewDraft, col(ReviewDraft.order_id) == col(Order.id), isouter=True)
                .where(col(ReviewDraft.id).is_(None), col(Order.status) == "paid")
                .where(
                    (col(OrderFulfilment.status) == "restocked")
                    | (
                        (col(OrderFulfilment.status) == "delivered")
                        & (col(OrderFulfilment.delivered_at) <= delivered_before)
                    )
                )
                .order_by(col(OrderFulfilment.updated_at))
                .limit(limit)
            ).all()
        made = 0
        for order_id in due:
            draft = self._draft_one(order_id, now)
            if draft is not None:
                made += 1
                notice: dict[str, object] = {"kind": "review_draft", "draft_id": draft.id, "order_id": draft.order_id}
                with self._sessions() as session:
                    product = session.get(Product, draft.product_id)
                if product is not None:  # what the fridge's video is about: its frames of this GTIN
                    notice.update(gtin=product.gtin, product_name=product.name)
                send_notice(self._publisher, draft.fridge_id, now, notice)
        return made

    def _draft_one(self, order_id: str, now: datetime) -> ReviewDraft | None:
        with self._sessions() as session:
            order = session.get(Order, order_id)
            if order is None:
                return None
            facts = self._gather(session, order, OwnerInput(), now)
            draft = ReviewDraft(
                id=new_id("rvd"),
                order_id=order.id,
                household_id=order.household_id,
                fridge_id=order.fridge_id,
                merchant_id=order.merchant_id,
                product_id=order.product_id,
                status="draft",
                referral_code=secrets.token_urlsafe(9),
                facts=facts_to_json(facts),
                sentences=_sentences(facts),
                created_at=now,
                updated_at=now,
            )
            session.add(draft)
            try:
                session.commit()
            except IntegrityError:  # another worker drafted it first
                session.rollback()
                return None
            session.refresh(draft)
            return draft

    def _gather(self, session: Session, order: Order, owner: OwnerInput, now: datetime) -> tuple[Fact, ...]:
        product = session.get(Product, order.product_id)
        household = session.get(Household, order.household_id)
        earlier = session.exec(
            select(func.count())
            .select_from(Order)
            .where(
                Order.household_id == order.household_id,
                Order.product_id == order.product_id,
                col(Order.created_at) < order.created_at,
                col(Order.status).not_in(_DEAD_ORDER_STATUSES),
            )
        ).one()
        purchase = Purchase(
            product_name=product.name if product is not None else "",
            bought_at=order.created_at,
            earlier_orders=int(earlier),
        )
        return gather_facts(
            purchase,
            self._stay(session, order),
            owner,
            now,
            _zone(household.timezone if household is not None else None),
        )

    @staticmethod
    def _stay(session: Session, order: Order) -> StayRecord | None:
        """The item the order replaced (the one its offer was made for): its stay and how it ended."""
        proposal = session.get(Proposal, order.proposal_id)
        if proposal is None or proposal.item_id.startswith(REFERRAL_ITEM_PREFIX):
            return None
        record = session.get(InventoryRecord, (proposal.fridge_id, proposal.item_id))
        history = session.exec(
            select(ItemHistory)
            .where(ItemHistory.fridge_id == proposal.fridge_id, ItemHistory.item_id == proposal.item_id)
            .order_by(col(ItemHistory.removed_at).desc())
        ).first()
        if history is not None:
            added, removed = history.added_at, history.removed_at
            outcome, state = history.outcome, history.freshness_state
        elif record is not None:
            added, removed, outcome, state = record.added_at, None, None, None
        else:
            return None
        compartment = record.compartment if record is not None else "fridge"
        spans = temperature_history(session, proposal.fridge_id, added).get(compartment, [])
        return StayRecord(
            added_at=added,
            removed_at=removed,
            outcome=outcome,
            freshness_at_removal=state,
            temperatures=tuple(TempSpan(s.start, s.end, s.temp_c) for s in spans),
        )

    # -- reading -------------------------------------------------------------------------------

    def list_for(self, household_id: str, status: str | None = None) -> list[ReviewView]:
        with self._sessions() as session:
            query = select(ReviewDraft).where(ReviewDraft.household_id == household_id)
            if status is not None:
                query = query.where(ReviewDraft.status == status)
            drafts = session.exec(query.order_by(col(ReviewDraft.created_at).desc(), col(ReviewDraft.id))).all()
            return [self._view(session, d) for d in drafts]

    def get_for(self, household_id: str, draft_id: str) -> ReviewView:
        with self._sessions() as session:
            return self._view(session, self._owned(session, household_id, draft_id))

    @staticmethod
    def _owned(session: Session, household_id: str, draft_id: str, lock: bool = False) -> ReviewDraft:
        draft = session.get(ReviewDraft, draft_id, with_for_update=lock)
        if draft is None or draft.household_id != household_id:
            raise NotFound(f"no review draft {draft_id}")
        return draft

    def _view(self, session: Session, draft: ReviewDraft) -> ReviewView:
        product = session.get(Product, draft.product_id)
        assert product is not None
        facts = facts_from_json(draft.facts)
        texts: dict[Language, str] = {}
        sentences: dict[Language, list[dict[str, Any]]] = {}
        for language in LANGUAGES:
            edited = draft.edited_zh if language == "zh" else draft.edited_en
            drafted = [
                {"text": s["text"], "facts": list(s["facts"]), "source": "facts"}
                for s in draft.sentences.get(language, [])
            ]
            if edited:
                texts[language] = edited
                sentences[language] = [{"text": edited, "facts": [], "source": "owner"}]
            else:
                texts[language] = ("" if language == "zh" else " ").join(s["text"] for s in drafted)
                sentences[language] = drafted
        incentive = self.incentive
        jurisdiction = self._settings.reviews.jurisdiction
        disclosures = {lang: disclosure_for(jurisdiction, lang, incentive) for lang in LANGUAGES}
        link = session.exec(select(ReferralLink).where(ReferralLink.draft_id == draft.id)).first()
        consents = list(
            session.exec(
                select(ReviewConsent).where(ReviewConsent.draft_id == draft.id).order_by(col(ReviewConsent.channel))
            ).all()
        )
        return ReviewView(
            draft=draft,
            product=product,
            facts=facts,
            texts=texts,
            sentences=sentences,
            incentive=incentive,
            disclosures=disclosures,
            previews={lang: preview(disclosures[lang], texts[lang]) for lang in LANGUAGES},
            channels=available_channels(self._settings),
            referral_code=link.code if link is not None else None,
            consents=consents,
        )

    # -- the owner's decisions -----------------------------------------------------------------

    def edit(self, household_id: str, draft_id: str, change: DraftEdit) -> ReviewView:
        now = self._clock.now()
        with self._sessions() as session:
            draft = self._owned(session, household_id, draft_id, lock=True)
            if draft.status != "draft":
                raise Conflict(f"this review was already {draft.status}")
            if "note" in change.fields_set:
                draft.owner_note = change.note
            if "rating" in change.fields_set:
                draft.owner_rating = change.rating
            if {"note", "rating"} & change.fields_set:
                order = session.get(Order, draft.order_id)
                assert order is not None
                facts = self._gather(session, order, OwnerInput(draft.owner_note, draft.owner_rating), now)
                draft.facts = facts_to_json(facts)
                draft.sentences = _sentences(facts)
            if "text_zh" in change.fields_set:
                draft.edited_zh = (change.text_zh or "").strip() or None
            if "text_en" in change.fields_set:
                draft.edited_en = (change.text_en or "").strip() or None
            draft.updated_at = now
            session.add(draft)
            session.commit()
            session.refresh(draft)
            return self._view(session, draft)

    def skip(self, household_id: str, draft_id: str) -> ReviewView:
        now = self._clock.now()
        with self._sessions() as session:
            draft = self._owned(session, household_id, draft_id, lock=True)
            if draft.status == "approved":
                raise Conflict("this review was already approved")
            if draft.status == "draft":
                draft.status = "skipped"
                draft.decided_at = draft.updated_at = now
                session.add(draft)
                session.commit()
                session.refresh(draft)
            return self._view(session, draft)

    def approve(
        self, household_id: str, draft_id: str, channels: Sequence[str], language: str, shown_text: str
    ) -> Approval:
        """Approve for `channels` in `language`, consenting to exactly `shown_text`; once."""
        if language not in LANGUAGES:
            raise InvalidRequest("language is zh or en")
        wanted = list(dict.fromkeys(channels))
        if not wanted:
            raise InvalidRequest("choose at least one channel")
        now = self._clock.now()
        with self._sessions() as session:
            draft = self._owned(session, household_id, draft_id, lock=True)
            if draft.status == "approved":
                return self._replay(session, draft, wanted, language)
            if draft.status != "draft":
                raise Conflict(f"this review was already {draft.status}")
            view = self._view(session, draft)
            unknown = [c for c in wanted if c not in view.channels]
            if unknown:
                raise InvalidRequest(
                    f"channel(s) not available: {', '.join(unknown)}; choose from {list(view.channels)}"
                )
            lang = language
            if shown_text != view.previews[lang]:
                raise Conflict("the review changed since it was shown (or another text was sent); show it again")
            text = view.texts[lang]
            if not text.strip():
                raise InvalidRequest("the review is empty")
            draft.status = "approved"
            draft.approved_language = lang
            draft.approved_text = text
            draft.decided_at = draft.updated_at = now
            session.add(draft)
            link = ReferralLink(
                code=draft.referral_code,
                draft_id=draft.id,
                household_id=draft.household_id,
                merchant_id=draft.merchant_id,
                product_id=draft.product_id,
                created_at=now,
            )
            session.add(link)
            for channel in wanted:
                session.add(
                    ReviewConsent(
                        id=new_id("cns"),
                        draft_id=draft.id,
                        household_id=draft.household_id,
                        channel=channel,
                        language=lang,
                        shown_text=shown_text,
                        given_at=now,
                    )
                )
            session.flush()
            url = f"{self._settings.resolved_public_url.rstrip('/')}/r/{link.code}"
            media = self._poster(session, view, lang, url, now)
            video_until = now + timedelta(minutes=self._settings.reviews.video_wait_minutes)
            outbox_ids = [
                enqueue_post(
                    session,
                    PostContent(
                        approval_id=draft.id,
                        household_id=draft.household_id,
                        channel=channel,
                        language=lang,
                        text=text,
                        referral_url=url,
                        incentive=view.incentive,
                        jurisdiction=self._settings.reviews.jurisdiction,
                        media=media,
                        video_until=video_until.isoformat(),
                    ),
                    now,
                )
                for channel in wanted
            ]
            try:
                session.commit()
            except IntegrityError:  # approved at the same moment elsewhere
                session.rollback()
                draft = self._owned(session, household_id, draft_id)
                return self._replay(session, draft, wanted, language)
            session.refresh(draft)
            return Approval(self._view(session, draft), outbox_ids)

    def _poster(
        self, session: Session, view: ReviewView, language: Language, url: str, now: datetime
    ) -> tuple[MediaRef, ...]:
        """The approval's poster, drawn now with the post's link (none if it cannot be drawn)."""
        try:
            png = render_poster(poster_spec(view, language, url))
        except MediaError as exc:
            log.warning("review %s is posted without a poster: %s", view.draft.id, exc)
            return ()
        return (store_poster(session, view.draft, png, now),)

    def _replay(self, session: Session, draft: ReviewDraft, channels: list[str], language: str) -> Approval:
        view = self._view(session, draft)
        if draft.approved_language != language or sorted(c.channel for c in view.consents) != sorted(channels):
            raise Conflict("this review was already approved, for other channels or another language")
        return Approval(view, [])

    def counts(self) -> dict[str, int]:
        with self._sessions() as session:
            return {
                "review_drafts": int(session.exec(select(func.count()).select_from(ReviewDraft)).one()),
                "approved": int(
                    session.exec(
                        select(func.count()).select_from(ReviewDraft).where(ReviewDraft.status == "approved")
                    ).one()
                ),
            }


def _sentences(facts: Sequence[Fact]) -> dict[str, Any]:
    return {language: compose(facts, language).to_json() for language in LANGUAGES}
