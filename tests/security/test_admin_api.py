"""The admin API: off without a token, 401/403 without the right one, the CLI's calls with it,
and the admin token never in a log line or a response."""

from __future__ import annotations

import hashlib
import logging

import pytest

from tests.security.conftest import ADMIN_TOKEN, MakeApi
from tests.server.conftest import Api

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
"""Authentication does not depend on the database; the SQLite lane is enough here."""

pytestmark = SQLITE_ONLY

ADMIN_CALLS = [
    ("POST", "/api/v1/admin/merchants", {"name": "x"}),
    ("POST", "/api/v1/admin/fridges", {"household": "x"}),
    ("POST", "/api/v1/admin/fridges/f-1/rotate", None),
    ("POST", "/api/v1/admin/fridges/f-1/revoke", None),
    ("POST", "/api/v1/admin/merchants/m_1/rotate", None),
    ("POST", "/api/v1/admin/merchants/m_1/revoke", None),
]


def test_every_admin_call_is_listed_here(secure_api: Api) -> None:
    spec = secure_api.client.app.openapi()  # type: ignore[attr-defined]
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item if p.startswith("/api/v1/admin/")}
    listed = {(m, p.replace("f-1", "{fridge_id}").replace("m_1", "{merchant_id}")) for m, p, _ in ADMIN_CALLS}
    assert documented == listed


def test_without_an_admin_token_configured_the_admin_api_is_404(make_api: MakeApi) -> None:
    api = make_api()
    for method, path, body in ADMIN_CALLS:
        response = api.client.request(method, path, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert response.status_code == 404, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_missing_wrong_and_non_admin_tokens_are_refused(secure_api: Api) -> None:
    merchant, fridge = secure_api.merchant(), secure_api.fridge()
    for method, path, body in ADMIN_CALLS:
        for headers, status in (
            ({}, 401),
            ({"Authorization": "Bearer " + ADMIN_TOKEN + "x"}, 401),
            ({"Authorization": "Basic " + ADMIN_TOKEN}, 401),
            (secure_api.as_(merchant.api_key), 403),
            (secure_api.as_(fridge.password), 403),
        ):
            response = secure_api.client.request(method, path, json=body, headers=headers)
            assert response.status_code == status, (path, headers, response.text)
            assert response.headers["content-type"] == "application/problem+json"


def test_the_admin_does_what_the_cli_does(secure_api: Api) -> None:
    api, admin = secure_api, {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    made = api.client.post("/api/v1/admin/merchants", headers=admin, json={"name": "Dairy"})
    assert made.status_code == 201, made.text
    key = made.json()["api_key"]
    assert api.client.get("/api/v1/products", headers=api.as_(key)).status_code == 200

    fridge = api.client.post(
        "/api/v1/admin/fridges", headers=admin, json={"household": "Home", "payment_method": "pm_sandbox_ok"}
    )
    assert fridge.status_code == 201, fridge.text
    out = fridge.json()
    assert set(out) == {"fridge_id", "household_id", "username", "password", "mqtt_url"}
    inventory = f"/api/v1/fridges/{out['fridge_id']}/inventory"
    assert api.client.get(inventory, headers=api.as_(out["password"])).status_code == 200
    second = api.client.post(
        "/api/v1/admin/fridges", headers=admin, json={"household_id": out["household_id"], "fridge_id": "kitchen-2"}
    )
    assert second.status_code == 201 and second.json()["household_id"] == out["household_id"]
    card = api.client.post("/api/v1/admin/fridges", headers=admin, json={"household": "x", "payment_method": "4242424242424242"})
    assert card.status_code == 422

    rotated = api.client.post(f"/api/v1/admin/fridges/{out['fridge_id']}/rotate", headers=admin)
    assert rotated.status_code == 200
    assert api.client.get(inventory, headers=api.as_(out["password"])).status_code == 401
    assert api.client.get(inventory, headers=api.as_(rotated.json()["secret"])).status_code == 200

    revoked = api.client.post(f"/api/v1/admin/fridges/{out['fridge_id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked"] == 1
    assert api.client.get(inventory, headers=api.as_(rotated.json()["secret"])).status_code == 401
    merchant_id = made.json()["merchant_id"]
    assert api.client.post(f"/api/v1/admin/merchants/{merchant_id}/revoke", headers=admin).json()["revoked"] == 1
    assert api.client.get("/api/v1/products", headers=api.as_(key)).status_code == 401
    assert api.client.post("/api/v1/admin/merchants/m_nobody/rotate", headers=admin).status_code == 404


def test_only_the_digest_may_be_configured(make_api: MakeApi) -> None:
    api = make_api(admin_token_sha256=hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest())
    ok = api.client.post("/api/v1/admin/merchants", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, json={"name": "x"})
    assert ok.status_code == 201
    assert api.client.post("/api/v1/admin/merchants", headers={"Authorization": "Bearer nope"}, json={"name": "x"}).status_code == 401


def test_the_admin_token_is_never_logged(secure_api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    responses = [secure_api.client.request(m, p, json=b, headers=admin) for m, p, b in ADMIN_CALLS]
    responses += [secure_api.client.request(m, p, json=b, headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"}) for m, p, b in ADMIN_CALLS]
    assert any(r.status_code == 201 for r in responses)
    assert caplog.records, "admin calls are logged (without the token)"
    for record in caplog.records:
        assert ADMIN_TOKEN not in record.getMessage()
    for response in responses:
        assert ADMIN_TOKEN not in response.text
    assert ADMIN_TOKEN not in repr(secure_api.services.settings)
