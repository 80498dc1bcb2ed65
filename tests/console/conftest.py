"""The console lane: the API lane's `api` fixture (the real app over SQLite and PostgreSQL), a
SQLite-only `sqlite_api` for the checks where the database does not matter, and signing in to the
console with a cookie the way a browser on the same origin does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from freshtap.clock import ManualClock
from freshtap.server.app import create_app
from freshtap.server.container import build_services
from freshtap.server.services.publisher import RecordingPublisher
from freshtap.server.store.db import create_db_engine, migrate
from freshtap.settings import Settings
from tests.server.conftest import Api, api, database_url

__all__ = ["ORIGIN", "Api", "api", "database_url", "sign_in", "sqlite_api"]

ORIGIN = "http://testserver"


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    clock = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    engine = create_db_engine(f"sqlite:///{tmp_path / 'console.db'}")
    migrate(engine)
    publisher = RecordingPublisher()
    services = build_services(Settings(_env_file=None), clock, engine, publisher)  # type: ignore[call-arg]
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield Api(services, client, clock, publisher)
    engine.dispose()


def sign_in(client: TestClient, api_key: str) -> dict[str, Any]:
    """Sign `client` in to the console (its cookie jar keeps the session); returns the session body."""
    response = client.post("/console/session", json={"api_key": api_key}, headers={"Origin": ORIGIN})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
