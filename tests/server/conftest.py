"""The API lane: the real app and services on a fresh database (SQLite, and PostgreSQL), no broker.

Offers that would go to fridges are caught by a `RecordingPublisher`; inventory reaches the
server through the real ingest service, exactly as the MQTT link would hand it over.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from freshtap.clock import ManualClock
from freshtap.contract import Channel, topic
from freshtap.server.app import create_app
from freshtap.server.container import Services, build_services
from freshtap.server.services import accounts
from freshtap.server.services.publisher import RecordingPublisher
from freshtap.server.store.db import create_db_engine, migrate
from freshtap.settings import Settings

MILK_GTIN = "09506000134352"


@dataclass
class Api:
    services: Services
    client: TestClient
    clock: ManualClock
    publisher: RecordingPublisher

    def as_(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def merchant(self, name: str = "Dairy") -> accounts.MerchantCreated:
        return accounts.create_merchant(self.services.sessions, self.clock, name)

    def fridge(self, payment_method: str = "pm_sandbox_ok") -> accounts.ProvisionedFridge:
        return accounts.provision_fridge(
            self.services.sessions, self.clock, household_name="home", payment_method=payment_method
        )

    def publish_inventory(self, fridge_id: str, seq: int, items: list[dict[str, Any]]) -> str:
        payload = {
            "v": 1,
            "type": "inventory",
            "fridge_id": fridge_id,
            "seq": seq,
            "at": _z(self.clock.now()),
            "body": {"items": items},
        }
        return self.services.ingest.handle(topic(fridge_id, Channel.INVENTORY), json.dumps(payload).encode()).outcome

    def milk(self, expires_in: timedelta, item_id: str = "milk-1") -> dict[str, Any]:
        now = self.clock.now()
        return {
            "item_id": item_id,
            "gtin": MILK_GTIN,
            "name": "Whole milk 1 L",
            "category": "dairy",
            "quantity": 1,
            "unit": "pcs",
            "fill": 0.5,
            "compartment": "fridge",
            "added_at": _z(now - timedelta(days=2)),
            "label_expiry": (now + expires_in).date().isoformat(),
            "expiry_kind": "expiry",
        }

    def milk_offer(self, merchant: accounts.MerchantCreated, price: int = 1290) -> dict[str, Any]:
        headers = self.as_(merchant.api_key)
        product = self.client.post(
            "/api/v1/products",
            headers=headers,
            json={
                "gtin": MILK_GTIN,
                "name": "Whole milk 1 L",
                "category": "dairy",
                "price": {"amount_minor": price, "currency": "CNY"},
            },
        )
        assert product.status_code == 201, product.text
        offer = self.client.post(
            "/api/v1/offers",
            headers=headers,
            json={"gtin": MILK_GTIN, "match": {"gtin": MILK_GTIN}, "trigger": {"kind": "expiring", "within_hours": 48}},
        )
        assert offer.status_code == 201, offer.text
        result: dict[str, Any] = offer.json()
        return result


def _z(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'api.db'}"


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    clock = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    engine = create_db_engine(database_url)
    migrate(engine)
    publisher = RecordingPublisher()
    services = build_services(Settings(_env_file=None), clock, engine, publisher)  # type: ignore[call-arg]
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield Api(services, client, clock, publisher)
    engine.dispose()
