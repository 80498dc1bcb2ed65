"""The security lane: the real app and services on a fresh database (SQLite and PostgreSQL), with
an admin token configured, plus a `World` of two households and two merchants with live objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from freshtap.clock import ManualClock
from freshtap.server.app import create_app
from freshtap.server.container import build_services
from freshtap.server.services.publisher import RecordingPublisher
from freshtap.server.store.db import create_db_engine, migrate
from freshtap.settings import Settings
from tests.security.world import World, build_world
from tests.server.conftest import Api, database_url  # noqa: F401  (the SQLite/PostgreSQL parametrised fixture)

ADMIN_TOKEN = "adm-4f1c0b0e6d2a47b8a9c3e5f7d1b2c3a4-never-logged"


MakeApi = Callable[..., Api]


@pytest.fixture
def make_api(database_url: str) -> Iterator[MakeApi]:  # noqa: F811
    """Build the app over the test's database with settings of the test's choosing (once per test)."""
    made: list[tuple[Any, TestClient]] = []

    def make(**settings: Any) -> Api:
        clock = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
        engine = create_db_engine(database_url)
        migrate(engine)
        publisher = RecordingPublisher()
        config = Settings(_env_file=None, **settings)  # type: ignore[call-arg]
        services = build_services(config, clock, engine, publisher)
        client = TestClient(create_app(services), raise_server_exceptions=False)
        client.__enter__()
        made.append((engine, client))
        return Api(services, client, clock, publisher)

    yield make
    for engine, client in made:
        client.__exit__(None, None, None)
        engine.dispose()


@pytest.fixture
def secure_api(make_api: MakeApi) -> Api:
    return make_api(admin_token=ADMIN_TOKEN)


@pytest.fixture
def world(secure_api: Api) -> World:
    return build_world(secure_api, ADMIN_TOKEN)
