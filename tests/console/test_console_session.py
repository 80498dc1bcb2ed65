"""Console sign-in and the CSRF defence of cookie-authenticated API writes (issues #5 and #9).

The real app; over SQLite and PostgreSQL where the database takes part (signing in, a refused
write that must change nothing, revocation), over SQLite for the rest. A browser sends the session cookie with any request to
the server, including a form a foreign site submits, so every unsafe cookie request must carry the
session's CSRF token and come from the server's own origin; Bearer-token callers are unaffected.
"""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from freshtap.server.services.accounts import rotate_credentials
from freshtap.server.store.models import Product
from tests.console.conftest import ORIGIN, Api, sign_in

PRODUCT = {"name": "Whole milk 1 L", "category": "dairy", "price": {"amount_minor": 1290, "currency": "CNY"}}


def _products(api: Api) -> int:
    with Session(api.services.engine) as session:
        return int(session.exec(select(func.count()).select_from(Product)).one())


def _cookie(set_cookie: str) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    jar.load(set_cookie)
    return jar


def test_signing_in_sets_a_strict_http_only_session_cookie(api: Api) -> None:
    merchant = api.merchant("Corner Dairy")
    response = api.client.post("/console/session", json={"api_key": merchant.api_key}, headers={"Origin": ORIGIN})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["merchant_id"] == merchant.merchant_id and body["merchant_name"] == "Corner Dairy"
    assert body["csrf_header"] == "X-CSRF-Token" and len(body["csrf_token"]) >= 40
    morsel = _cookie(response.headers["set-cookie"])["freshtap_console"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/"
    assert not morsel["secure"]  # plain http here; see the https test
    assert merchant.api_key not in response.headers["set-cookie"]
    assert response.headers["cache-control"] == "no-store"

    again = api.client.get("/console/session")
    assert again.status_code == 200
    assert again.json()["csrf_token"] == body["csrf_token"]
    # The cookie alone reads the merchant's own API.
    assert api.client.get("/api/v1/products").status_code == 200


def test_the_cookie_is_secure_over_https(sqlite_api: Api) -> None:
    api = sqlite_api
    merchant = api.merchant()
    with TestClient(api.client.app, base_url="https://console.example") as client:
        response = client.post(
            "/console/session", json={"api_key": merchant.api_key}, headers={"Origin": "https://console.example"}
        )
    assert response.status_code == 200, response.text
    assert _cookie(response.headers["set-cookie"])["freshtap_console"]["secure"] is True


def test_a_wrong_key_or_a_fridge_credential_cannot_sign_in(sqlite_api: Api) -> None:
    api = sqlite_api
    merchant = api.merchant()
    fridge = api.fridge()
    for key in (merchant.api_key + "x", "nonsense", fridge.password, merchant.api_key.split(".")[0] + ".guess"):
        response = api.client.post("/console/session", json={"api_key": key}, headers={"Origin": ORIGIN})
        assert response.status_code == 401, key
        assert response.headers["content-type"] == "application/problem+json"
        assert "set-cookie" not in response.headers
    assert api.client.get("/console/session").status_code == 401
    malformed = api.client.post("/console/session", json={"key": merchant.api_key}, headers={"Origin": ORIGIN})
    assert malformed.status_code == 422 and malformed.headers["content-type"] == "application/problem+json"


def test_a_foreign_page_cannot_sign_a_browser_in(sqlite_api: Api) -> None:
    api = sqlite_api
    merchant = api.merchant()
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {}):
        response = api.client.post("/console/session", json={"api_key": merchant.api_key}, headers=headers)
        assert response.status_code == 403, headers
        assert "set-cookie" not in response.headers


def test_a_cross_site_post_with_the_cookie_but_no_token_changes_nothing(api: Api) -> None:
    merchant = api.merchant()
    session = sign_in(api.client, merchant.api_key)
    # What a foreign page's auto-submitting form (or fetch) sends: the cookie, its own Origin, no token.
    forged = api.client.post("/api/v1/products", json=PRODUCT, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert forged.headers["content-type"] == "application/problem+json"
    assert forged.json()["status"] == 403 and "X-CSRF-Token" in forged.json()["detail"]
    assert _products(api) == 0

    # The token alone is not enough from another origin, nor the origin alone without the token.
    token = {"X-CSRF-Token": session["csrf_token"]}
    assert api.client.post("/api/v1/products", json=PRODUCT, headers={**token, "Origin": "https://evil.example"}
                           ).status_code == 403
    assert api.client.post("/api/v1/products", json=PRODUCT, headers={**token, "Referer": "https://evil.example/x"}
                           ).status_code == 403
    assert api.client.post("/api/v1/products", json=PRODUCT, headers=token).status_code == 403  # no origin at all
    assert api.client.post("/api/v1/products", json=PRODUCT, headers={"Origin": ORIGIN}).status_code == 403
    wrong = {"X-CSRF-Token": session["csrf_token"][:-2] + "AA", "Origin": ORIGIN}
    assert api.client.post("/api/v1/products", json=PRODUCT, headers=wrong).status_code == 403
    assert _products(api) == 0

    # The console itself: its own origin (or Referer, when a browser sends no Origin) and the token.
    made = api.client.post("/api/v1/products", json=PRODUCT, headers={**token, "Origin": ORIGIN})
    assert made.status_code == 201, made.text
    assert made.json()["merchant_id"] == merchant.merchant_id
    by_referer = api.client.post("/api/v1/products", json={**PRODUCT, "gtin": "09506000134352"},
                                 headers={**token, "Referer": f"{ORIGIN}/console#products"})
    assert by_referer.status_code == 201, by_referer.text
    assert _products(api) == 2


def test_a_token_belongs_to_its_own_session(sqlite_api: Api) -> None:
    api = sqlite_api
    first, second = api.merchant("One"), api.merchant("Two")
    other_client = TestClient(api.client.app)
    other = sign_in(other_client, second.api_key)
    sign_in(api.client, first.api_key)
    stolen = api.client.post("/api/v1/products", json=PRODUCT,
                             headers={"X-CSRF-Token": other["csrf_token"], "Origin": ORIGIN})
    assert stolen.status_code == 403
    assert _products(api) == 0


def test_bearer_calls_are_unaffected_by_the_console(sqlite_api: Api) -> None:
    api = sqlite_api
    console_merchant, api_merchant = api.merchant("Console"), api.merchant("Script")
    sign_in(api.client, console_merchant.api_key)  # the client's jar now holds a console cookie too
    made = api.client.post("/api/v1/products", json=PRODUCT,
                           headers={**api.as_(api_merchant.api_key), "Origin": "https://evil.example"})
    assert made.status_code == 201, made.text
    assert made.json()["merchant_id"] == api_merchant.merchant_id  # the token, not the cookie, decides
    bad = api.client.post("/api/v1/products", json=PRODUCT, headers=api.as_("nope.nope"))
    assert bad.status_code == 401  # a wrong token is not rescued by the cookie
    fridge = api.fridge()
    plain = TestClient(api.client.app)
    assert plain.get(f"/api/v1/fridges/{fridge.fridge_id}/offers", headers=api.as_(fridge.password)).status_code == 200


def test_the_console_session_is_a_merchant_and_nothing_else(sqlite_api: Api) -> None:
    api = sqlite_api
    merchant = api.merchant()
    fridge = api.fridge()
    sign_in(api.client, merchant.api_key)
    # Household routes treat a merchant's cookie exactly as a merchant's token: not found.
    assert api.client.get(f"/api/v1/fridges/{fridge.fridge_id}/offers").status_code == 404


def test_revoking_the_api_key_ends_its_console_sessions(api: Api) -> None:
    merchant = api.merchant()
    sign_in(api.client, merchant.api_key)
    assert api.client.get("/api/v1/offers").status_code == 200
    new_key = rotate_credentials(api.services.sessions, api.clock, "merchant", merchant.merchant_id)
    ended = api.client.get("/api/v1/offers")
    assert ended.status_code == 401 and "revoked" in ended.json()["detail"]
    assert api.client.get("/console/session").status_code == 401
    sign_in(api.client, new_key)
    assert api.client.get("/api/v1/offers").status_code == 200


def test_a_session_expires_after_its_lifetime(sqlite_api: Api) -> None:
    api = sqlite_api
    merchant = api.merchant()
    sign_in(api.client, merchant.api_key)
    hours = api.services.settings.console_session_hours
    api.clock.advance(timedelta(hours=hours) - timedelta(minutes=1))
    assert api.client.get("/api/v1/products").status_code == 200
    api.clock.advance(timedelta(minutes=2))
    expired = api.client.get("/api/v1/products")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_a_forged_or_altered_cookie_is_refused(sqlite_api: Api) -> None:
    api = sqlite_api
    merchant = api.merchant()
    sign_in(api.client, merchant.api_key)
    real = api.client.cookies["freshtap_console"]
    version, key_id, expires, nonce, signature = real.split(".")
    forgeries = [
        f"{version}.{key_id}.{int(expires) + 86_400}.{nonce}.{signature}",  # a longer life
        f"{version}.{key_id}.{expires}.{nonce}.{signature[:-3]}abc",  # another signature
        f"{version}.{key_id}.{expires}.{nonce}",  # none
        "garbage",
        "x" * 5000,
    ]
    for forged in forgeries:
        client = TestClient(api.client.app, cookies={"freshtap_console": forged})
        response = client.get("/api/v1/products")
        assert response.status_code == 401, forged[:40]
        assert response.headers["content-type"] == "application/problem+json"


def test_signing_out_needs_the_token_and_clears_the_cookie(sqlite_api: Api) -> None:
    api = sqlite_api
    merchant = api.merchant()
    session = sign_in(api.client, merchant.api_key)
    refused = api.client.delete("/console/session", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert api.client.get("/console/session").status_code == 200
    done = api.client.delete("/console/session", headers={"X-CSRF-Token": session["csrf_token"], "Origin": ORIGIN})
    assert done.status_code == 204
    morsel = _cookie(done.headers["set-cookie"])["freshtap_console"]
    assert morsel.value == "" and morsel["max-age"] == "0"
    assert api.client.get("/console/session").status_code == 401
    # Signing out without a session is harmless.
    assert api.client.delete("/console/session").status_code == 204
