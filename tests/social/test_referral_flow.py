"""The referral flow end to end over HTTP (SQLite and PostgreSQL): approved post -> /r/{code} -> an order
by another household -> a reward only after the order's cancellation window; self and same-household
referrals earn nothing; a cancelled referred order earns nothing."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlmodel import func, select

from freshtap.contract import Channel
from freshtap.server.services import accounts
from freshtap.server.services.social_funnel import referral_orders, reviewed_orders
from freshtap.server.store.social_models import ReferralLink, ReferralOrder, Reward
from tests.server.conftest import Api
from tests.social.conftest import Home, Reviewed, draft_of


def _approve(api: Api, reviewed: Reviewed) -> str:
    draft = draft_of(api, reviewed)
    approved = api.client.post(
        f"/api/v1/review-drafts/{draft['draft_id']}/approve",
        headers=reviewed.home.headers,
        json={"channels": ["local"], "language": "en", "shown_text": draft["preview"]["en"]},
    )
    assert approved.status_code == 200, approved.text
    url: str = approved.json()["draft"]["referral_url"]
    return url.rsplit("/", 1)[1]


def _order(api: Api, home: Home, code: str, key: str) -> dict[str, Any]:
    made = api.client.post(f"/api/v1/referrals/{code}/orders", headers={**home.headers, "Idempotency-Key": key})
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def _rewards(api: Api) -> list[Reward]:
    with api.services.sessions() as session:
        return list(session.exec(select(Reward)).all())


def _reward_notices(api: Api, fridge_id: str) -> list[dict[str, Any]]:
    bodies = [json.loads(p)["body"] for f, c, p, _ in api.publisher.sent if f == fridge_id and c == Channel.NOTICES]
    return [b for b in bodies if b["kind"] == "reward"]


def test_a_newcomer_buys_through_the_link_and_the_reward_follows_the_window(api: Api, reviewed: Reviewed) -> None:
    code = _approve(api, reviewed)
    page = api.client.get(f"/r/{code}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Whole milk 1 L" in html and "CNY 12.90" in html and "I bought Whole milk 1 L on" in html
    assert "【广告】Ad" in html and "I receive a reward for sharing this." in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and "style=" not in html  # nothing inline for the CSP
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert api.client.get("/r/assets/referral.js").status_code == 200
    assert api.client.get("/r/nosuchcode").status_code == 404
    with api.services.sessions() as session:
        assert session.get(ReferralLink, code).clicks == 1  # type: ignore[union-attr]

    newcomer = Home(api.fridge())
    bought = _order(api, newcomer, code, "ref-1")
    assert bought["attributed"] is True and bought["order"]["status"] == "paid"
    assert bought["order"]["household_id"] == newcomer.fridge.household_id
    assert bought["order"]["amount"] == {"amount_minor": 1290, "currency": "CNY"}
    assert _order(api, newcomer, code, "ref-1")["order"]["order_id"] == bought["order"]["order_id"]

    window = timedelta(seconds=api.services.settings.payments.cancel_window_seconds)
    assert api.services.rewards.grant_due() == 0
    api.clock.advance(window - timedelta(seconds=1))
    assert api.services.rewards.grant_due() == 0 and _rewards(api) == []
    api.clock.advance(timedelta(seconds=1))
    assert api.services.rewards.grant_due() == 1
    assert api.services.rewards.grant_due() == 0  # once
    [reward] = _rewards(api)
    assert reward.household_id == reviewed.home.fridge.household_id and reward.order_id == bought["order"]["order_id"]
    assert (reward.kind, reward.amount_minor, reward.currency) == ("cashback_credit", 500, "CNY")
    assert _reward_notices(api, reviewed.home.fridge.fridge_id)[0]["reward_id"] == reward.id
    earnings = api.client.get("/api/v1/households/me/referrals", headers=reviewed.home.headers).json()
    assert [(e["reward_status"], e["reward"]) for e in earnings] == [
        ("granted", {"amount_minor": 500, "currency": "CNY"})
    ]
    assert api.client.get("/api/v1/households/me/referrals", headers=newcomer.headers).json() == []
    with api.services.sessions() as session:
        since = api.clock.now() - timedelta(days=30)
        assert referral_orders(session, reviewed.merchant.merchant_id, since) == 1
        assert reviewed_orders(session, reviewed.merchant.merchant_id, since) == 1
        assert referral_orders(session, "m_other", since) == 0


def test_self_and_same_household_referrals_earn_nothing(api: Api, reviewed: Reviewed) -> None:
    code = _approve(api, reviewed)
    own = _order(api, reviewed.home, code, "self-1")
    assert own["attributed"] is True and own["order"]["status"] == "paid"
    second = accounts.provision_fridge(api.services.sessions, api.clock, household_id=reviewed.home.fridge.household_id)
    garage = _order(api, Home(second), code, "garage-1")
    assert garage["order"]["status"] == "paid"
    api.clock.advance(timedelta(days=1))
    assert api.services.rewards.grant_due() == 0 and _rewards(api) == []
    with api.services.sessions() as session:
        rows = {r.order_id: r for r in session.exec(select(ReferralOrder)).all()}
    assert (rows[own["order"]["order_id"]].reason, rows[own["order"]["order_id"]].reward_status) == (
        "self_referral",
        "none",
    )
    assert rows[garage["order"]["order_id"]].reason == "same_household"
    assert _reward_notices(api, reviewed.home.fridge.fridge_id) == []


def test_a_cancelled_referred_order_earns_nothing_and_late_orders_are_not_attributed(
    api: Api, reviewed: Reviewed
) -> None:
    code = _approve(api, reviewed)
    newcomer = Home(api.fridge())
    bought = _order(api, newcomer, code, "ref-1")
    cancelled = api.client.post(f"/api/v1/orders/{bought['order']['order_id']}/cancel", headers=newcomer.headers)
    assert cancelled.json()["status"] == "refunded"
    api.clock.advance(timedelta(hours=1))
    assert api.services.rewards.grant_due() == 0 and _rewards(api) == []
    with api.services.sessions() as session:
        row = session.get(ReferralOrder, bought["order"]["order_id"])
        assert row is not None and (row.reward_status, row.reason) == ("none", "order_cancelled")

    api.clock.advance(timedelta(days=api.services.settings.referrals.attribution_days))
    late = _order(api, Home(api.fridge()), code, "late-1")
    assert late["attributed"] is False and late["order"]["status"] == "paid"
    api.clock.advance(timedelta(hours=1))
    assert api.services.rewards.grant_due() == 0
    with api.services.sessions() as session:
        assert session.exec(select(func.count()).select_from(ReferralOrder).where(ReferralOrder.attributed)).one() == 1


def test_a_link_needs_an_approved_review_and_a_household(api: Api, reviewed: Reviewed) -> None:
    draft = draft_of(api, reviewed)
    with api.services.sessions() as session:
        assert session.exec(select(func.count()).select_from(ReferralLink)).one() == 0
    assert draft["referral_url"] is None
    code = _approve(api, reviewed)
    anonymous = api.client.post(f"/api/v1/referrals/{code}/orders", headers={"Idempotency-Key": "k"})
    assert anonymous.status_code == 401
    merchant = api.client.post(
        f"/api/v1/referrals/{code}/orders",
        headers={"Authorization": f"Bearer {reviewed.merchant.api_key}", "Idempotency-Key": "k"},
    )
    assert merchant.status_code == 404
    missing_key = api.client.post(f"/api/v1/referrals/{code}/orders", headers=Home(api.fridge()).headers)
    assert missing_key.status_code == 422 and missing_key.headers["content-type"] == "application/problem+json"
    unknown = api.client.post(
        "/api/v1/referrals/zzzzzz/orders", headers={**Home(api.fridge()).headers, "Idempotency-Key": "k"}
    )
    assert unknown.status_code == 404
