"""Every response carries security headers; oversized bodies are refused before they are read."""

from __future__ import annotations

from tests.server.conftest import Api


def test_security_headers_on_api_responses_and_errors(api: Api) -> None:
    for response in (api.client.get("/healthz"), api.client.get("/api/v1/products")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"


def test_a_body_over_the_cap_is_413_problem_json(api: Api) -> None:
    merchant = api.merchant()
    response = api.client.post(
        "/api/v1/products",
        headers={**api.as_(merchant.api_key), "Content-Type": "application/json"},
        content=b'{"name": "' + b"x" * 300_000 + b'"}',
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413


def test_page_sizes_are_capped(api: Api) -> None:
    merchant = api.merchant()
    response = api.client.get("/api/v1/products?limit=100000", headers=api.as_(merchant.api_key))
    assert response.status_code == 422
