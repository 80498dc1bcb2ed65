"""`GET /readyz`: ready only while the database answers and the MQTT link is connected."""

from __future__ import annotations

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
from tests.conftest import free_port


class FakeLink(RecordingPublisher):
    """A publisher that, like the MQTT link, says whether it is connected."""

    def __init__(self) -> None:
        super().__init__()
        self.connected = False


def _client(database_url: str, publisher: RecordingPublisher, *, migrate_first: bool = True) -> Iterator[TestClient]:
    engine = create_db_engine(database_url)
    if migrate_first:
        migrate(engine)
    services = build_services(Settings(_env_file=None), ManualClock(), engine, publisher)  # type: ignore[call-arg]
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield client
    engine.dispose()


@pytest.fixture
def link() -> FakeLink:
    return FakeLink()


@pytest.fixture
def client(tmp_path: Path, link: FakeLink) -> Iterator[TestClient]:
    yield from _client(f"sqlite:///{tmp_path / 'ready.db'}", link)


def test_ready_follows_the_mqtt_link(client: TestClient, link: FakeLink) -> None:
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json() == {"status": "not_ready", "checks": {"database": "ok", "mqtt": "disconnected"}}

    link.connected = True
    up = client.get("/readyz")
    assert up.status_code == 200
    assert up.json() == {"status": "ready", "checks": {"database": "ok", "mqtt": "connected"}}

    link.connected = False
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200  # alive all along


def test_a_process_without_a_broker_link_is_ready_on_its_database_alone(tmp_path: Path) -> None:
    for client in _client(f"sqlite:///{tmp_path / 'nolink.db'}", RecordingPublisher()):
        answer = client.get("/readyz")
        assert answer.status_code == 200
        assert answer.json() == {"status": "ready", "checks": {"database": "ok", "mqtt": "absent"}}


def test_an_unreachable_database_makes_it_not_ready_without_leaking_where(link: FakeLink) -> None:
    link.connected = True
    url = f"postgresql+psycopg://freshtap:secret-pw@127.0.0.1:{free_port()}/nowhere"
    for client in _client(url, link, migrate_first=False):
        answer = client.get("/readyz")
        assert answer.status_code == 503
        body = answer.json()
        assert body["checks"] == {"database": "error: OperationalError", "mqtt": "connected"}
        assert "secret-pw" not in answer.text and "127.0.0.1" not in answer.text


def test_readiness_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "503" in paths["/readyz"]["get"]["responses"]
