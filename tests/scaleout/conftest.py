"""The scale-out lane: ingest as several workers see it, on SQLite and on PostgreSQL.

`Ingest` is the real ingest service on a fresh database with a manual clock (no broker: messages
are handed over exactly as the MQTT link hands them), plus what the tests compare at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from freshtap.clock import ManualClock
from freshtap.server.api.schemas import OfferCreate, ProductCreate
from freshtap.server.container import Services, build_services
from freshtap.server.services import accounts
from freshtap.server.services.publisher import RecordingPublisher
from freshtap.server.store.db import create_db_engine, migrate
from freshtap.server.store.models import Fridge, Household, InventoryRecord, Proposal
from freshtap.settings import Settings
from tests.scaleout.timeline import MILK_GTIN, START


@dataclass
class Ingest:
    services: Services
    clock: ManualClock

    def handle(self, topic: str, payload: bytes) -> str:
        return self.services.ingest.handle(topic, payload).outcome

    def add_fridge(self, fridge_id: str) -> str:
        """A fridge row (and its household) without credentials: hashing a password costs ~0.1 s."""
        with self.services.sessions() as session:
            household = Household(id=f"h-{fridge_id}", name=fridge_id, created_at=self.clock.now())
            session.add(household)
            session.flush()
            session.add(Fridge(id=fridge_id, household_id=household.id, username=fridge_id, created_at=self.clock.now()))
            session.commit()
        return fridge_id

    def milk_offer(self) -> str:
        merchant = accounts.create_merchant(self.services.sessions, self.clock, "Dairy")
        catalog = self.services.catalog
        catalog.create_product(
            merchant.merchant_id,
            ProductCreate.model_validate(
                {"gtin": MILK_GTIN, "name": "Whole milk 1 L", "category": "dairy",
                 "price": {"amount_minor": 1290, "currency": "CNY"}}
            ),
        )
        offer = catalog.create_offer(
            merchant.merchant_id,
            OfferCreate.model_validate(
                {"gtin": MILK_GTIN, "match": {"gtin": MILK_GTIN}, "trigger": {"kind": "expiring", "within_hours": 48}}
            ),
        )
        return offer.id

    def present(self, fridge_id: str) -> dict[str, datetime | None]:
        """item id -> opened at, for what the server says is in the fridge now."""
        with self.services.sessions() as session:
            records = session.exec(
                select(InventoryRecord).where(InventoryRecord.fridge_id == fridge_id, col(InventoryRecord.present))
            ).all()
        return {r.item_id: _aware(r.opened_at) for r in records}

    def inventory_seq(self, fridge_id: str) -> int | None:
        with self.services.sessions() as session:
            fridge = session.get(Fridge, fridge_id)
            assert fridge is not None
            return fridge.inventory_seq

    def live_proposals(self, fridge_id: str) -> list[tuple[str, str]]:
        with self.services.sessions() as session:
            rows = session.exec(
                select(Proposal.item_id, Proposal.offer_id).where(
                    Proposal.fridge_id == fridge_id, Proposal.status == "live"
                )
            ).all()
        return sorted((item_id, offer_id) for item_id, offer_id in rows)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'scaleout.db'}"


def make_ingest(database_url: str) -> Iterator[Ingest]:
    clock = ManualClock(START)
    engine = create_db_engine(database_url)
    migrate(engine)
    services = build_services(Settings(_env_file=None), clock, engine, RecordingPublisher())  # type: ignore[call-arg]
    try:
        yield Ingest(services, clock)
    finally:
        engine.dispose()


@pytest.fixture
def ingest(database_url: str) -> Iterator[Ingest]:
    yield from make_ingest(database_url)


@pytest.fixture
def pg_ingest(postgres_url: str) -> Iterator[Ingest]:
    yield from make_ingest(postgres_url)
