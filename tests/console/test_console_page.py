"""The console's page and assets: security headers and a strict CSP on every response, no inline
code the CSP would have to allow, nothing from another origin, and every asset the page names served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from freshtap.clock import ManualClock
from freshtap.server.app import create_app
from freshtap.server.container import build_services
from freshtap.server.services.publisher import RecordingPublisher
from freshtap.server.store.db import create_db_engine, migrate
from freshtap.settings import Settings

ASSETS = Path(__file__).resolve().parents[2] / "server" / "console" / "assets"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    engine = create_db_engine(f"sqlite:///{tmp_path_factory.mktemp('console') / 'page.db'}")
    migrate(engine)
    services = build_services(Settings(_env_file=None), ManualClock(), engine, RecordingPublisher())  # type: ignore[call-arg]
    with TestClient(create_app(services), raise_server_exceptions=False) as made:
        yield made
    engine.dispose()


def _csp(value: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in value.split(";") if part.strip()}


def _referenced(client: TestClient) -> set[str]:
    """Every asset path the page loads, and every module those modules import."""
    html = client.get("/console").text
    found = set(re.findall(r'(?:src|href)="/console/assets/([^"]+)"', html))
    for name in [n for n in found if n.endswith(".js") and not n.startswith("vendor/")]:
        found |= set(re.findall(r'from "\./([^"]+)"', client.get(f"/console/assets/{name}").text))
    return found


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/assets/console.js", "/console/session"])
def test_console_responses_carry_the_csp_and_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    csp = _csp(response.headers["content-security-policy"])
    assert csp["default-src"] == "default-src 'self'"
    assert csp["script-src"] == "script-src 'self'" and csp["style-src"] == "style-src 'self'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert csp["object-src"] == "object-src 'none'" and csp["base-uri"] == "base-uri 'none'"
    assert csp["form-action"] == "form-action 'self'" and csp["connect-src"] == "connect-src 'self'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert response.status_code == 401 or response.headers["cache-control"] == "no-store"


def test_every_asset_the_page_names_is_served_with_its_type(client: TestClient) -> None:
    referenced = _referenced(client)
    assert {"console.css", "console.js", "vendor/chart.umd.min.js", "offers.js", "orders.js", "funnel.js"} <= referenced
    for name in referenced:
        response = client.get(f"/console/assets/{name}")
        assert response.status_code == 200, name
        expected = "text/css" if name.endswith(".css") else "text/javascript"
        assert response.headers["content-type"].startswith(expected), name
    for name in ("nope.js", "../routes.py", "__init__.py", "vendor/LICENSE.md", "vendor/README.md"):
        response = client.get(f"/console/assets/{name}")
        assert response.status_code == 404, name
        assert response.headers["content-type"] == "application/problem+json"


def test_the_page_has_no_inline_code_and_loads_nothing_from_elsewhere() -> None:
    html = (ASSETS / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html and " style=" not in html and re.search(r"\son[a-z]+=", html) is None
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    for script in ASSETS.glob("*.js"):
        code = script.read_text()
        # Text goes in with textContent; nothing is parsed as HTML or code.
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write",
                       "setAttribute(\"style\"", "http://", "https://"):
            assert banned not in code, f"{script.name} uses {banned}"


def test_the_vendored_chart_js_is_the_documented_version() -> None:
    vendor = ASSETS / "vendor"
    header = (vendor / "chart.umd.min.js").read_text()[:200]
    version = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", header)
    assert version is not None
    assert f"| {version.group(1)} |" in (vendor / "README.md").read_text()
    assert "MIT" in (vendor / "LICENSE.md").read_text()
