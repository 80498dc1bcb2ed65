"""Review drafts, seen and decided by the household that bought: list, read, edit, approve, skip,
poster; and the fridge's upload of the approved review's video (`PUT .../video`)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from freshtap.contract import Money
from freshtap.media.errors import MediaError
from freshtap.media.poster import render_poster
from freshtap.server.api.deps import CurrentHousehold, OwnedReviewDraft, ServicesDep
from freshtap.server.api.middleware import RouteBodyLimit
from freshtap.server.api.review_media_schemas import ReviewMediaPublic
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
from freshtap.server.services.review_media import MediaTooLarge, StoredMedia
from freshtap.server.services.reviews import DraftEdit, ReviewView, poster_spec
from freshtap.server.social.video_probe import VideoRejected
from freshtap.settings import Settings

router = APIRouter(tags=["reviews"])

VIDEO_PATH = re.compile(r"/api/v1/review-drafts/[A-Za-z0-9_-]{1,40}/video")


def body_limits(settings: Settings) -> list[RouteBodyLimit]:
    """The video upload may send up to `reviews.video_max_bytes` (the app's default cap is 256 KiB)."""
    return [("PUT", VIDEO_PATH, settings.reviews.video_max_bytes)]


class VideoInvalid(DomainError):
    status = 422
    title = "Not a review video"
    type_slug = "invalid-video"


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
    spec = poster_spec(view, lang, referral_url(services, view.draft.referral_code))  # type: ignore[arg-type]
    try:
        png = await run_in_threadpool(render_poster, spec)
    except MediaError as exc:
        raise MediaUnavailable(f"the poster could not be made: {exc}") from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})


def media_public(media: StoredMedia, services: Services) -> ReviewMediaPublic:
    public_url = services.settings.resolved_public_url.rstrip("/")
    return ReviewMediaPublic(
        media_id=media.media_id,
        draft_id=media.draft_id,
        kind=media.kind,
        content_type=media.content_type,
        size_bytes=media.size_bytes,
        sha256=media.sha256,
        width=media.width,
        height=media.height,
        duration_s=media.duration_s,
        created_at=media.created_at,
        url=f"{public_url}/review-media/{media.media_id}",
    )


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, read chunk by chunk into a buffer that never grows past `limit`."""
    buffer = bytearray()
    try:
        async for chunk in request.stream():
            if len(buffer) + len(chunk) > limit:
                raise MediaTooLarge(f"review videos are limited to {limit} bytes")
            buffer += chunk
    except ClientDisconnect:  # the size cap cut the body off (or the fridge went away)
        raise MediaTooLarge(f"review videos are limited to {limit} bytes") from None
    return bytes(buffer)


@router.put(
    "/api/v1/review-drafts/{draft_id}/video",
    status_code=201,
    openapi_extra={"requestBody": {"required": True, "content": {
        "video/webm": {"schema": {"type": "string", "format": "binary"}},
        "video/mp4": {"schema": {"type": "string", "format": "binary"}},
    }}},
    responses={200: {"description": "the same video was uploaded before"}, 409: {}, 413: {}, 415: {}, 422: {}},
)
async def upload_video(
    draft: OwnedReviewDraft, request: Request, response: Response, services: ServicesDep
) -> ReviewMediaPublic:
    """The fridge's video of an approved review (`video/webm` or `video/mp4`, 720x1280, 8-15 s, at most
    `FRESHTAP_REVIEWS__VIDEO_MAX_BYTES`). 201 when stored, 200 when this same file was stored before
    (409 for another file, or before the owner approved). It joins the review's posts still waiting."""
    media = services.review_media
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    media.check_upload(content_type, int(declared) if declared and declared.isdigit() else None)
    await run_in_threadpool(media.draft_for_upload, draft.household_id, draft.id)
    data = await _bounded_body(request, media.max_video_bytes)
    try:
        stored, created = await run_in_threadpool(media.put_video, draft.household_id, draft.id, data, content_type)
    except VideoRejected as exc:
        raise VideoInvalid(str(exc)) from None
    if not created:
        response.status_code = 200
    return media_public(stored, services)
