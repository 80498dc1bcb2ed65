"""End to end through the review part: an owner approves a review for the local sink over HTTP; the
relay (with the real consent check) posts it once, and `/feed` shows it with its disclosure."""

from __future__ import annotations

from sqlmodel import select

from freshtap.server.store.social_outbox_models import SocialLocalPost, SocialOutboxEntry
from tests.server.conftest import Api
from tests.social.conftest import Reviewed, draft_of


def test_approved_review_is_posted_once_to_the_local_feed(api: Api, reviewed: Reviewed) -> None:
    draft = draft_of(api, reviewed)
    approved = api.client.post(
        f"/api/v1/review-drafts/{draft['draft_id']}/approve",
        headers=reviewed.home.headers,
        json={"channels": ["local"], "language": "zh", "shown_text": draft["preview"]["zh"]},
    )
    assert approved.status_code == 200, approved.text
    relay = api.services.social_relay
    assert relay.run_once().sent == 1
    assert relay.run_once().claimed == 0
    with api.services.sessions() as session:
        [entry] = session.exec(select(SocialOutboxEntry)).all()
        [posted] = session.exec(select(SocialLocalPost)).all()
    assert (entry.status, entry.approval_id, entry.remote_id) == ("sent", draft["draft_id"], posted.id)
    assert draft["text"]["zh"].strip() in posted.text and "/r/" in posted.text
    feed = api.client.get("/feed")
    assert feed.status_code == 200 and posted.id in feed.text
