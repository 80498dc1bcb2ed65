"""Review drafts, seen and decided by the household that bought: list, read, edit, approve, skip, poster."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from freshtap.contract import Money
from freshtap.media.errors import MediaError
from freshtap.media.poster import PosterSpec, render_poster
from freshtap.server.api.deps import CurrentHousehold, OwnedReviewDraft, ServicesDep
from freshtap.server.api.review_schemas import (
    ConsentPublic,
    DisclosurePublic,
    DraftApprove,
    DraftEditRequest,
    FactPublic,
    ReferralEarning,
    ReviewApproved,
    ReviewDraftPublic,
    ReviewDraftSummary,
    SentencePublic,
)
from freshtap.server.container import Services
from freshtap.server.domain.errors import DomainError
from freshtap.server.domain.review_drafts import fact_chips
from freshtap.server.services.reviews import DraftEdit, ReviewView

router = APIRouter(tags=["reviews"])


class MediaUnavailable(DomainError):
    status = 503
    title = "Media not available"
    type_slug = "media-unavailable"


def referral_url(services: Services, code: str) -> str:
    return f"{services.settings.resolved_public_url.rstrip('/')}/r/{code}"


def public(view: ReviewView, services: Services) -> ReviewDraftPublic:
    draft = view.draft
    return ReviewDraftPublic(
        draft_id=draft.id,
        order_id=draft.order_id,
        fridge_id=draft.fridge_id,
        product_id=draft.product_id,
        product_name=view.product.name,
        status=draft.status,
        created_at=draft.created_at,
        facts=[FactPublic(id=f.id, kind=f.kind, source=f.source, values=dict(f.values)) for f in view.facts],
        text=dict(view.texts),
        sentences={
            lang: [SentencePublic.model_validate(s) for s in sentences] for lang, sentences in view.sentences.items()
        },
        preview=dict(view.previews),
        poster_url=f"/api/v1/review-drafts/{draft.id}/poster.png",
        channels=list(view.channels),
        incentive=view.incentive,
        disclosure={lang: DisclosurePublic(label=d.label, note=d.note) for lang, d in view.disclosures.items()},
        owner_note=draft.owner_note,
        owner_rating=draft.owner_rating,
        approved_language=draft.approved_language,
        approved_text=draft.approved_text,
        referral_url=referral_url(services, view.referral_code) if view.referral_code else None,
        consents=[
            ConsentPublic(channel=c.channel, language=c.language, shown_text=c.shown_text, given_at=c.given_at)
            for c in view.consents
        ],
    )


@router.get("/api/v1/households/me/review-drafts")
def list_drafts(
    household: CurrentHousehold,
    services: ServicesDep,
    status: Annotated[Literal["draft", "approved", "skipped"] | None, Query()] = None,
) -> list[ReviewDraftSummary]:
    """The household's review drafts, newest first (`status=draft` for those waiting for a decision)."""
    return [
        ReviewDraftSummary(
            draft_id=v.draft.id,
            order_id=v.draft.order_id,
            fridge_id=v.draft.fridge_id,
            product_name=v.product.name,
            status=v.draft.status,
            created_at=v.draft.created_at,
        )
        for v in services.reviews.list_for(household.household_id, status)
    ]


@router.get("/api/v1/households/me/referrals")
def list_referrals(household: CurrentHousehold, services: ServicesDep) -> list[ReferralEarning]:
    """Orders placed through the household's referral links, and the reward each earned (or why not)."""
    return [
        ReferralEarning(
            code=r.code,
            order_id=r.order_id,
            placed_at=r.created_at,
            attributed=r.attributed,
            reward_status=r.reward_status,
            reason=r.reason,
            reward=Money(amount_minor=w.amount_minor, currency=w.currency) if w is not None else None,
            reward_kind=w.kind if w is not None else None,
        )
        for r, w in services.rewards.earnings_of(household.household_id)
    ]


@router.get("/api/v1/review-drafts/{draft_id}")
def get_draft(draft: OwnedReviewDraft, services: ServicesDep) -> ReviewDraftPublic:
    """The draft in zh and en, each sentence with the facts it states, the preview to show, the
    channels available, whether an incentive exists and the disclosure the post will carry."""
    return public(services.reviews.get_for(draft.household_id, draft.id), services)


@router.post("/api/v1/review-drafts/{draft_id}/edit")
def edit_draft(draft: OwnedReviewDraft, body: DraftEditRequest, services: ServicesDep) -> ReviewDraftPublic:
    """Add the owner's note and rating (they become facts; the sentences are drafted again), or
    replace the text of a language with the owner's own wording. Only the fields sent change."""
    change = DraftEdit(
        note=body.note,
        rating=body.rating,
        text_zh=body.text_zh,
        text_en=body.text_en,
        fields_set=frozenset(body.model_fields_set),
    )
    return public(services.reviews.edit(draft.household_id, draft.id, change), services)


@router.post("/api/v1/review-drafts/{draft_id}/approve")
def approve_draft(draft: OwnedReviewDraft, body: DraftApprove, services: ServicesDep) -> ReviewApproved:
    """Approve for the chosen channels: `shown_text` must be the draft's `preview` in `language`
    (409 when the draft changed since it was shown). Stores a consent per channel, makes the
    referral link and queues one post per channel, all at once; approving again returns the same."""
    approval = services.reviews.approve(draft.household_id, draft.id, body.channels, body.language, body.shown_text)
    return ReviewApproved(draft=public(approval.view, services), outbox_ids=approval.outbox_ids)


@router.post("/api/v1/review-drafts/{draft_id}/skip")
def skip_draft(draft: OwnedReviewDraft, services: ServicesDep) -> ReviewDraftPublic:
    """Nothing will be posted from this draft."""
    return public(services.reviews.skip(draft.household_id, draft.id), services)


@router.get(
    "/api/v1/review-drafts/{draft_id}/poster.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def poster(
    draft: OwnedReviewDraft,
    services: ServicesDep,
    language: Annotated[Literal["zh", "en"] | None, Query()] = None,
) -> Response:
    """The review poster (PNG): product, review text, measured facts, disclosure and the QR code of the link."""
    view = await run_in_threadpool(services.reviews.get_for, draft.household_id, draft.id)
    lang = language or view.draft.approved_language or "zh"
    disclosure = view.disclosures[lang]  # type: ignore[index]
    spec = PosterSpec(
        product_name=view.product.name,
        review=view.draft.approved_text
        if view.draft.approved_language == lang and view.draft.approved_text
        else view.texts[lang],  # type: ignore[index]
        referral_url=referral_url(services, view.draft.referral_code),
        facts=fact_chips(view.facts, lang),  # type: ignore[arg-type]
        disclosure=disclosure.label or None,
        qr_caption="扫码购买 · Scan to buy",
    )
    try:
        png = await run_in_threadpool(render_poster, spec)
    except MediaError as exc:
        raise MediaUnavailable(f"the poster could not be made: {exc}") from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
