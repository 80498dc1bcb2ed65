"""Review drafts over HTTP on SQLite and PostgreSQL: drafting once, facts, edit, approve with consent, skip."""

from __future__ import annotations

import json

from sqlmodel import func, select

from freshtap.contract import Channel
from freshtap.server.store.social_models import ReferralLink, ReviewConsent, ReviewDraft
from freshtap.server.store.social_outbox_models import SocialOutboxEntry
from tests.server.conftest import Api
from tests.social.conftest import Home, Reviewed, draft_of, reviewed_order


def _notices(api: Api, fridge_id: str, kind: str) -> list[dict[str, object]]:
    bodies = [json.loads(p)["body"] for f, c, p, _ in api.publisher.sent if f == fridge_id and c == Channel.NOTICES]
    return [b for b in bodies if b["kind"] == kind]


def test_a_restocked_order_gets_one_draft_from_its_facts(api: Api, reviewed: Reviewed) -> None:
    assert api.services.reviews.create_due_drafts() == 1
    assert api.services.reviews.create_due_drafts() == 0  # idempotent per order
    draft = draft_of(api, reviewed)
    assert _notices(api, reviewed.home.fridge.fridge_id, "review_draft") == [
        {"kind": "review_draft", "draft_id": draft["draft_id"], "order_id": reviewed.order_id,
         "gtin": "09506000134352", "product_name": draft["product_name"]}
    ]
    kinds = {f["kind"]: f for f in draft["facts"]}
    assert set(kinds) == {"product", "bought_at", "lasted", "storage_temp", "excursion", "freshness_end"}
    assert kinds["lasted"]["values"] == {"days": 2}
    assert kinds["storage_temp"]["values"] == {"min_c": 3.0, "max_c": 5.0, "mean_c": 3.1}
    assert kinds["excursion"]["values"]["hours"] == 2.0
    assert kinds["freshness_end"]["values"] == {"state": "expiring"}
    assert "owner_rating" not in kinds
    ids = {f["id"] for f in draft["facts"]}
    for language in ("zh", "en"):
        sentences = draft["sentences"][language]
        assert sentences and all(s["facts"] and set(s["facts"]) <= ids for s in sentences)
    assert draft["text"]["en"].startswith("I bought Whole milk 1 L on 2026-11-25. The one before lasted 2 days")
    assert "2天" in draft["text"]["zh"]
    assert draft["incentive"] is True
    assert draft["disclosure"]["zh"]["label"] == "【广告】"
    assert draft["preview"]["zh"].startswith("【广告】\n" + draft["text"]["zh"])
    assert "local" in draft["channels"] and draft["status"] == "draft"
    assert draft["referral_url"] is None


def test_only_the_household_sees_and_decides_its_draft(api: Api, reviewed: Reviewed) -> None:
    draft = draft_of(api, reviewed)
    stranger = Home(api.fridge())
    merchant = {"Authorization": f"Bearer {reviewed.merchant.api_key}"}
    path = f"/api/v1/review-drafts/{draft['draft_id']}"
    for headers in (stranger.headers, merchant):
        assert api.client.get(path, headers=headers).status_code == 404
        assert api.client.get(f"{path}/poster.png", headers=headers).status_code == 404
        assert api.client.post(f"{path}/skip", headers=headers).status_code == 404
        denied = api.client.post(
            f"{path}/approve",
            headers=headers,
            json={"channels": ["local"], "language": "zh", "shown_text": draft["preview"]["zh"]},
        )
        assert denied.status_code == 404 and denied.headers["content-type"] == "application/problem+json"
    assert api.client.get("/api/v1/households/me/review-drafts", headers=stranger.headers).json() == []
    assert api.client.get(path, headers=reviewed.home.headers).json()["status"] == "draft"


def test_the_owner_adds_a_note_and_rating_as_facts_and_may_reword(api: Api, reviewed: Reviewed) -> None:
    draft = draft_of(api, reviewed)
    path = f"/api/v1/review-drafts/{draft['draft_id']}"
    edited = api.client.post(f"{path}/edit", headers=reviewed.home.headers, json={"note": "Creamy!", "rating": 4})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    facts = {f["kind"]: f for f in body["facts"]}
    assert facts["owner_note"]["values"] == {"text": "Creamy!"} and facts["owner_note"]["source"] == "owner"
    assert facts["owner_rating"]["values"] == {"stars": 4, "of": 5}
    assert body["text"]["en"].endswith("My rating: 4 out of 5. Creamy!")
    reworded = api.client.post(f"{path}/edit", headers=reviewed.home.headers, json={"text_en": "Best milk around."})
    assert reworded.json()["text"]["en"] == "Best milk around."
    assert reworded.json()["sentences"]["en"] == [{"text": "Best milk around.", "facts": [], "source": "owner"}]
    assert reworded.json()["owner_rating"] == 4  # fields not sent stay
    cleared = api.client.post(f"{path}/edit", headers=reviewed.home.headers, json={"rating": None, "text_en": None})
    assert "owner_rating" not in {f["kind"] for f in cleared.json()["facts"]}
    assert "rating" not in cleared.json()["text"]["en"]
    for bad in ({"rating": 6}, {"rating": 0}, {"nope": 1}, {"note": "x" * 501}):
        refused = api.client.post(f"{path}/edit", headers=reviewed.home.headers, json=bad)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"


def test_approval_stores_consent_per_channel_links_and_enqueues_once(api: Api, reviewed: Reviewed) -> None:
    draft = draft_of(api, reviewed)
    path = f"/api/v1/review-drafts/{draft['draft_id']}/approve"
    headers = reviewed.home.headers
    stale = api.client.post(
        path, headers=headers, json={"channels": ["local"], "language": "zh", "shown_text": draft["text"]["zh"]}
    )
    assert stale.status_code == 409 and "shown" in stale.json()["detail"]
    unknown = api.client.post(
        path, headers=headers, json={"channels": ["myspace"], "language": "zh", "shown_text": draft["preview"]["zh"]}
    )
    assert unknown.status_code == 422 and "myspace" in unknown.json()["detail"]
    bad_language = api.client.post(
        path, headers=headers, json={"channels": ["local"], "language": "fr", "shown_text": draft["preview"]["zh"]}
    )
    assert bad_language.status_code == 422
    with api.services.sessions() as session:
        assert session.exec(select(func.count()).select_from(ReviewConsent)).one() == 0
        assert session.exec(select(func.count()).select_from(SocialOutboxEntry)).one() == 0

    body = {"channels": ["local", "xiaohongshu"], "language": "zh", "shown_text": draft["preview"]["zh"]}
    approved = api.client.post(path, headers=headers, json=body)
    assert approved.status_code == 200, approved.text
    result = approved.json()
    assert len(result["outbox_ids"]) == 2
    assert result["draft"]["status"] == "approved" and result["draft"]["approved_text"] == draft["text"]["zh"]
    assert result["draft"]["referral_url"].endswith(f"/r/{result['draft']['referral_url'].rsplit('/', 1)[1]}")
    consents = result["draft"]["consents"]
    assert [c["channel"] for c in consents] == ["local", "xiaohongshu"]
    assert all(c["shown_text"] == draft["preview"]["zh"] and c["given_at"] for c in consents)

    again = api.client.post(path, headers=headers, json=body)
    assert again.status_code == 200 and again.json()["outbox_ids"] == []
    other = api.client.post(path, headers=headers, json={**body, "channels": ["local"]})
    assert other.status_code == 409
    with api.services.sessions() as session:
        entries = session.exec(select(SocialOutboxEntry)).all()
        assert sorted(e.channel for e in entries) == ["local", "xiaohongshu"]
        assert {e.id for e in entries} == set(result["outbox_ids"])
        payload = entries[0].payload
        assert payload["approval_id"] == draft["draft_id"] and payload["incentive"] is True
        assert payload["text"] == draft["text"]["zh"] and payload["referral_url"] == result["draft"]["referral_url"]
        assert session.exec(select(func.count()).select_from(ReviewConsent)).one() == 2
        assert session.exec(select(func.count()).select_from(ReferralLink)).one() == 1
    skip = api.client.post(f"/api/v1/review-drafts/{draft['draft_id']}/skip", headers=headers)
    assert skip.status_code == 409


def test_a_skipped_draft_posts_nothing(api: Api, reviewed: Reviewed) -> None:
    draft = draft_of(api, reviewed)
    path = f"/api/v1/review-drafts/{draft['draft_id']}"
    skipped = api.client.post(f"{path}/skip", headers=reviewed.home.headers)
    assert skipped.status_code == 200 and skipped.json()["status"] == "skipped"
    approve = api.client.post(
        f"{path}/approve",
        headers=reviewed.home.headers,
        json={"channels": ["local"], "language": "en", "shown_text": draft["preview"]["en"]},
    )
    assert approve.status_code == 409
    listed = api.client.get("/api/v1/households/me/review-drafts?status=draft", headers=reviewed.home.headers)
    assert listed.json() == []
    with api.services.sessions() as session:
        assert session.exec(select(func.count()).select_from(SocialOutboxEntry)).one() == 0
        assert session.get(ReviewDraft, draft["draft_id"]).status == "skipped"  # type: ignore[union-attr]


def test_a_delivered_order_waits_for_restock_then_gets_its_draft(api: Api) -> None:
    from datetime import timedelta

    from tests.social.conftest import deliver

    reviewed = reviewed_order(api, restock=False)
    assert api.services.reviews.create_due_drafts() == 0  # paid, not delivered
    deliver(api, reviewed.merchant, reviewed.order_id)
    assert api.services.reviews.create_due_drafts() == 0
    api.clock.advance(timedelta(days=api.services.settings.reviews.draft_after_delivered_days, seconds=1))
    assert api.services.reviews.create_due_drafts() == 1


def test_the_poster_is_a_png_with_the_link(api: Api, reviewed: Reviewed) -> None:
    draft = draft_of(api, reviewed)
    poster = api.client.get(
        f"/api/v1/review-drafts/{draft['draft_id']}/poster.png?language=en", headers=reviewed.home.headers
    )
    assert poster.status_code == 200, poster.text
    assert poster.headers["content-type"] == "image/png" and poster.content.startswith(b"\x89PNG")
    bad = api.client.get(
        f"/api/v1/review-drafts/{draft['draft_id']}/poster.png?language=fr", headers=reviewed.home.headers
    )
    assert bad.status_code == 422
