"""The payments lane: the real app and services on SQLite and PostgreSQL, with the sandbox or with
Stripe's API faked on loopback; a live uvicorn server where real HTTP and webhooks are needed.
"""

from __future__ import annotations

import itertools
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import func, select

from freshtap.clock import ManualClock
from freshtap.server.app import create_app
from freshtap.server.container import Services, build_services
from freshtap.server.payments.customers import set_customer
from freshtap.server.payments.provider import ChargeRequest, ChargeResult, PaymentProvider
from freshtap.server.payments.stripe_provider import StripeProvider
from freshtap.server.services import accounts
from freshtap.server.services.publisher import RecordingPublisher
from freshtap.server.store.db import create_db_engine, migrate
from freshtap.server.store.ids import new_id
from freshtap.server.store.models import Order, Proposal, SandboxCharge
from freshtap.settings import PaymentSettings, Settings
from tests.payments.fake_stripe import VISA, FakeStripe
from tests.server.conftest import Api

WEBHOOK_SECRET = "whsec_test_0123456789"
API_KEY = "sk_test_0123456789"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to the newest schema; each test starts from a copy of it."""
    path = tmp_path_factory.mktemp("payments-template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _fresh_sqlite(template: Path, tmp_path: Path) -> str:
    target = tmp_path / "payments.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path) -> str:
    """Both databases: for what depends on their locking, constraints and isolation."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return _fresh_sqlite(migrated_sqlite, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_sqlite: Path) -> str:
    """SQLite only: for flows whose database behaviour the two-database tests already cover."""
    return _fresh_sqlite(migrated_sqlite, tmp_path)


class SimulatedCrash(BaseException):
    """The process dies: nothing catches it, nothing after it runs."""


class CrashAfterCharge:
    """A provider wrapper that charges, then 'crashes' before the caller can record the result."""

    def __init__(self, inner: PaymentProvider) -> None:
        self.inner = inner
        self.name = inner.name
        self.armed = True

    def charge(self, request: ChargeRequest) -> ChargeResult:
        result = self.inner.charge(request)
        if self.armed:
            raise SimulatedCrash(f"crashed after charging {request.idempotency_key}")
        return result

    def retrieve(self, reference: str) -> ChargeResult:
        return self.inner.retrieve(reference)

    def capture(self, reference: str, idempotency_key: str) -> ChargeResult:
        return self.inner.capture(reference, idempotency_key)

    def void(self, reference: str, idempotency_key: str) -> ChargeResult:
        return self.inner.void(reference, idempotency_key)

    def refund(self, reference: str, amount_minor: int, idempotency_key: str) -> ChargeResult:
        return self.inner.refund(reference, amount_minor, idempotency_key)


@dataclass
class PayStack(Api):
    """`Api` plus what payments need: a way to make fresh proposals, counters, the Stripe fake."""

    stripe: FakeStripe | None = None
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _merchant: accounts.MerchantCreated | None = None

    def household(self, payment_method: str | None = None) -> accounts.ProvisionedFridge:
        method = payment_method or ("pm_sandbox_ok" if self.stripe is None else VISA)
        made = self.fridge(method)
        if self.stripe is not None:
            customer = f"cus_{made.household_id}"
            self.stripe.add_customer(customer, method)
            set_customer(self.services.sessions, self.clock, made.household_id, "stripe", customer)
        return made

    def proposal(self, fridge: accounts.ProvisionedFridge, price: int = 1290) -> str:
        """A new live proposal on `fridge` (a milk bottle seen expiring), through the real ingest."""
        if self._merchant is None:
            self._merchant = self.merchant()
            self.milk_offer(self._merchant, price=price)
        n = next(self._seq)
        outcome = self.publish_inventory(fridge.fridge_id, n, [self.milk(timedelta(hours=20), item_id=f"milk-{n}")])
        assert outcome == "applied", outcome
        offers = self.client.get(f"/api/v1/fridges/{fridge.fridge_id}/offers", headers=self.as_(fridge.password))
        live = [o for o in offers.json()["body"]["offers"] if o["item_id"] == f"milk-{n}"]
        assert len(live) == 1, offers.text
        proposal_id: str = live[0]["proposal_id"]
        return proposal_id

    def proposal_like(self, template_id: str) -> str:
        """A copy of an existing proposal for a new item, written directly (fast, for loops of 100)."""
        n = next(self._seq)
        with self.services.sessions() as session:
            template = session.get(Proposal, template_id)
            assert template is not None
            copy = Proposal.model_validate(
                {
                    **template.model_dump(),
                    "id": new_id("prp"),
                    "item_id": f"milk-{n}",
                    "status": "live",
                    "closed_at": None,
                }
            )
            session.add(copy)
            session.commit()
            return copy.id

    def tap(self, fridge: accounts.ProvisionedFridge, proposal_id: str, key: str, **body: Any) -> Any:
        headers = {**self.as_(fridge.password), "Idempotency-Key": key}
        return self.client.post(f"/api/v1/proposals/{proposal_id}/accept", headers=headers, json=body or None)

    def order(self, fridge: accounts.ProvisionedFridge, order_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/orders/{order_id}", headers=self.as_(fridge.password))
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def sandbox_charges(self, key: str | None = None) -> int:
        with self.services.sessions() as session:
            query = select(func.count()).select_from(SandboxCharge)
            if key is not None:
                query = query.where(SandboxCharge.idempotency_key == key)
            return int(session.exec(query).one())

    def orders_for(self, proposal_id: str) -> list[Order]:
        with self.services.sessions() as session:
            return list(session.exec(select(Order).where(Order.proposal_id == proposal_id)).all())


def start_clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))


def payment_settings(provider: str = "sandbox", **overrides: Any) -> Settings:
    config: dict[str, Any] = {"provider": provider, **overrides}
    if provider == "stripe":
        config.setdefault("stripe_api_key", SecretStr(API_KEY))
        config.setdefault("stripe_webhook_secret", SecretStr(WEBHOOK_SECRET))
    elif "stripe_webhook_secret" not in config:
        config["stripe_webhook_secret"] = SecretStr(WEBHOOK_SECRET)
    return Settings(_env_file=None, payments=PaymentSettings(**config))  # type: ignore[call-arg]


def stripe_provider(fake: FakeStripe, capture: str = "manual", **kwargs: Any) -> StripeProvider:
    options: dict[str, Any] = {"timeout_seconds": 5.0, "max_network_retries": 2, "retry_delay_seconds": 0.01}
    options.update(kwargs)
    return StripeProvider(
        fake.api_key,
        return_url="http://127.0.0.1:9/pay/return",
        api_base=fake.url,
        capture=capture,  # type: ignore[arg-type]
        **options,
    )


@contextmanager
def pay_stack(
    database_url: str,
    settings: Settings | None = None,
    payments: PaymentProvider | None = None,
    stripe: FakeStripe | None = None,
    clock: ManualClock | None = None,
) -> Iterator[PayStack]:
    clock = clock or start_clock()
    engine = create_db_engine(database_url)
    migrate(engine)
    publisher = RecordingPublisher()
    services = build_services(settings or payment_settings(), clock, engine, publisher, payments)
    try:
        with TestClient(create_app(services), raise_server_exceptions=False) as client:
            yield PayStack(services, client, clock, publisher, stripe=stripe)
    finally:
        engine.dispose()


@pytest.fixture
def stripe_fake() -> Iterator[FakeStripe]:
    fake = FakeStripe(api_key=API_KEY, webhook_secret=WEBHOOK_SECRET).start()
    try:
        yield fake
    finally:
        fake.stop()


@contextmanager
def live_server(services: Services) -> Iterator[str]:
    """The app on uvicorn on a free loopback port, in a thread; yields its base URL."""
    config = uvicorn.Config(
        create_app(services), host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="payments-http", daemon=True)
    thread.start()
    try:
        started = threading.Event()
        for _ in range(400):
            if server.started or not thread.is_alive():
                break
            started.wait(0.025)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
