"""freshtap's pytest plugin: a server, its embedded broker and a simulated fleet for your own tests.

Installed with freshtap (a `pytest11` entry point), so a merchant's or integrator's test can say
"with these offers, over a simulated week, 20 households order N times" without starting anything
by hand. docs/testing-with-the-simulator.md walks through a complete example.

Fixtures (function-scoped; override any of them in your own `conftest.py`):

- `freshtap_clock_speed` — simulated seconds per real second (ini option `freshtap_clock_speed`,
  default 3600: an hour a second).
- `freshtap_clock` — the `AcceleratedClock` shared by the server and the fleet, starting on
  Monday 2026-11-23 08:00 UTC.
- `freshtap_settings` — `Settings` for a server on a fresh SQLite file in `tmp_path`, the
  embedded broker and HTTP on free ports.
- `freshtap_server` — a running `ServerRuntime` (`FreshtapServer`).
- `freshtap_broker` — its embedded MQTT broker (`FreshtapBroker`), with a bus observer factory.
- `freshtap_merchant` — a new merchant and an `httpx.Client` holding its API key (`FreshtapMerchant`).
- `freshtap_fleet` — a factory: `freshtap_fleet(20, seed=7)` provisions 20 households with a fridge
  each and starts `freshtap.simulator.Fleet` on them (`FreshtapFleet`); `run_for(timedelta(days=7))`
  returns a `SimulationResult` to assert on.

This module is loaded into every pytest run of an environment where freshtap is installed, so it
imports nothing heavy at import time: the server, the simulator and the database come in inside
the fixtures. Like the CLI, it is a composition root: it wires the server and the simulator
together, which neither of them does.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

    from freshtap.clock import AcceleratedClock
    from freshtap.server.runtime import ServerRuntime
    from freshtap.settings import Settings
    from freshtap.simulator.fleet import Fleet
    from freshtap.simulator.observer import BusObserver
    from freshtap.simulator.virtual_fridge import SimFridge

__all__ = [
    "SIMULATION_START",
    "FleetFactory",
    "FreshtapBroker",
    "FreshtapFleet",
    "FreshtapMerchant",
    "FreshtapServer",
    "SimulationResult",
    "freshtap_broker",
    "freshtap_clock",
    "freshtap_clock_speed",
    "freshtap_fleet",
    "freshtap_merchant",
    "freshtap_server",
    "freshtap_settings",
]

SIMULATION_START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
"""When simulated time starts (a Monday morning), so runs with one seed see the same calendar."""

_DEFAULT_SPEED = 3600.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "freshtap_clock_speed",
        "simulated seconds per real second for freshtap's fixtures (default 3600)",
        default=str(_DEFAULT_SPEED),
    )


# ---- what the fixtures hand out ----------------------------------------------------------------


@dataclass(frozen=True)
class SimulationResult:
    """What a simulated fleet did, from both sides of the contract.

    Fleet side (what the households saw and did): `messages_published`, `offers_seen`,
    `orders_placed` (taps the server answered with an order), `taps_failed`. Server side (what
    it stored for these households' fridges): `messages_ingested`, `offers_proposed`,
    `orders_paid`, `orders_declined`, and the waste the fridges reported: `items_wasted` (thrown
    away past their date) and `items_used_up`.
    """

    households: int
    simulated: timedelta
    messages_published: int
    messages_ingested: int
    offers_proposed: int
    offers_seen: int
    orders_placed: int
    orders_paid: int
    orders_declined: int
    taps_failed: int
    items_wasted: int
    items_used_up: int
    publish_errors: int = 0
    tap_failures: dict[str, int] = field(default_factory=dict)

    @property
    def orders_per_household(self) -> float:
        return self.orders_paid / self.households if self.households else 0.0


@dataclass
class FreshtapServer:
    """A running server (`runtime`) on the shared accelerated `clock`."""

    runtime: ServerRuntime
    clock: AcceleratedClock
    settings: Settings
    server_password: str

    @property
    def http_url(self) -> str:
        return self.runtime.http_url

    @property
    def mqtt_url(self) -> str:
        return self.runtime.mqtt_url

    def client(self, token: str | None = None) -> httpx.Client:
        """An `httpx.Client` on the API, with `token` (an API key or a fridge's password) as bearer."""
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.http_url, headers=headers, timeout=30)


@dataclass(frozen=True)
class FreshtapBroker:
    """The server's embedded broker; `username`/`password` are the server's own account."""

    host: str
    port: int
    username: str
    password: str

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def observer(self, fridge_id: str | None = None) -> BusObserver:
        """A `BusObserver` (not started; use it as a context manager) on every fridge's reports, or one's.

        It logs in with the server's account, so it sees the device -> server channels.
        """
        from freshtap.contract import DEVICE_TO_SERVER
        from freshtap.simulator.observer import BusObserver

        return BusObserver(
            self.url,
            fridge_id=fridge_id,
            channels=tuple(sorted(DEVICE_TO_SERVER)),
            username=self.username,
            password=self.password,
        )


@dataclass
class FreshtapMerchant:
    """A merchant and an API client holding its key; `product()` and `offer()` raise on refusal."""

    merchant_id: str
    api_key: str
    client: httpx.Client

    def product(
        self, gtin: str, name: str, category: str, price_minor: int, currency: str = "CNY"
    ) -> dict[str, Any]:
        """`POST /api/v1/products`; the created product."""
        body = {
            "gtin": gtin,
            "name": name,
            "category": category,
            "price": {"amount_minor": price_minor, "currency": currency},
        }
        return _created(self.client.post("/api/v1/products", json=body))

    def offer(self, product: dict[str, Any] | str, trigger: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """`POST /api/v1/offers` for `product` (a product or its id), matching its GTIN unless `match=` is given."""
        if isinstance(product, str):
            body: dict[str, Any] = {"product_id": product, "match": fields.pop("match", None)}
        else:
            body = {"product_id": product["id"], "match": fields.pop("match", {"gtin": product["gtin"]})}
        if body["match"] is None:
            raise ValueError("give match= when passing a product id")
        body.update(trigger=trigger, **fields)
        return _created(self.client.post("/api/v1/offers", json=body))


def _created(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 201:
        raise AssertionError(f"{response.request.method} {response.request.url.path}: "
                             f"{response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


class FreshtapFleet:
    """A running simulated fleet: provisioned households and fridges driven by `Fleet`."""

    def __init__(
        self, server: FreshtapServer, fleet: Fleet, fridges: list[SimFridge], household_ids: list[str]
    ) -> None:
        self.server = server
        self.fleet = fleet
        self.fridges = fridges
        self.household_ids = household_ids
        self.started_at = server.clock.now()
        self._stopped = threading.Event()

    @property
    def fridge_ids(self) -> list[str]:
        return [f.fridge_id for f in self.fridges]

    def run_for(self, simulated: timedelta) -> SimulationResult:
        """Let the fleet live until `simulated` time has passed since it started, stop it, and report."""
        clock = self.server.clock
        until = self.started_at + simulated
        while not self._stopped.is_set():
            left = (until - clock.now()).total_seconds()
            if left <= 0:
                break
            # Waiting for simulated time to pass is the point; there is no event to wait for instead.
            self._stopped.wait(clock.real_seconds(left))
        self.stop()
        return self.result()

    def wait_until(self, condition: Callable[[SimulationResult], bool], timeout: float) -> SimulationResult:
        """Block until `condition(result())` holds (checked every 0.1 s); `TimeoutError` after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.result()
            if condition(result):
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s; last result: {result}")
            self._stopped.wait(0.1)

    def stop(self) -> None:
        """Stop the fleet (pending taps are finished or counted); the server keeps running."""
        self._stopped.set()
        self.fleet.stop()

    def result(self) -> SimulationResult:
        stats = self.fleet.stats
        counts = _server_counts(self.server.runtime, self.fridge_ids)
        return SimulationResult(
            households=len(self.household_ids),
            simulated=self.server.clock.now() - self.started_at,
            messages_published=stats.published,
            messages_ingested=counts["ingested"],
            offers_proposed=counts["proposals"],
            offers_seen=stats.offers_seen,
            orders_placed=stats.accepts_ok,
            orders_paid=counts["paid"],
            orders_declined=counts["declined"],
            taps_failed=stats.accepts_failed,
            items_wasted=counts["wasted"],
            items_used_up=counts["used_up"],
            publish_errors=stats.publish_errors,
            tap_failures=dict(stats.accept_failures),
        )


FleetFactory = Callable[..., FreshtapFleet]
"""The type of the `freshtap_fleet` fixture: `freshtap_fleet(households, *, seed=0, ...)`."""


def _server_counts(runtime: ServerRuntime, fridge_ids: list[str]) -> dict[str, int]:
    from sqlmodel import col, func, select

    from freshtap.server.store.models import AppliedMessage, FridgeEvent, Order, Proposal

    with runtime.services.sessions() as session:

        def count(query: Any) -> int:
            return int(session.exec(query).one())

        ingested = count(
            select(func.count()).select_from(AppliedMessage).where(col(AppliedMessage.fridge_id).in_(fridge_ids))
        )
        proposals = count(select(func.count()).select_from(Proposal).where(col(Proposal.fridge_id).in_(fridge_ids)))
        statuses = dict(
            session.exec(
                select(Order.status, func.count()).where(col(Order.fridge_id).in_(fridge_ids)).group_by(Order.status)
            ).all()
        )
        removals = session.exec(
            select(FridgeEvent.detail).where(
                col(FridgeEvent.fridge_id).in_(fridge_ids), FridgeEvent.kind == "item_removed"
            )
        ).all()
    reasons = [detail.get("reason") if isinstance(detail, dict) else None for detail in removals]
    return {
        "ingested": ingested,
        "proposals": proposals,
        "paid": int(statuses.get("paid", 0)),
        "declined": int(statuses.get("declined", 0)),
        "wasted": reasons.count("expired"),
        "used_up": reasons.count("used_up"),
    }


# ---- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def freshtap_clock_speed(request: pytest.FixtureRequest) -> float:
    """Simulated seconds per real second; override this fixture, or set the ini option, to change it."""
    return float(request.config.getini("freshtap_clock_speed") or _DEFAULT_SPEED)


@pytest.fixture
def freshtap_clock(freshtap_clock_speed: float) -> AcceleratedClock:
    from freshtap.clock import AcceleratedClock

    return AcceleratedClock(freshtap_clock_speed, start=SIMULATION_START)


@pytest.fixture
def freshtap_settings(tmp_path: Path, freshtap_clock_speed: float) -> Settings:
    """A server on a fresh SQLite file, the embedded broker and HTTP on free local ports."""
    from freshtap.settings import Settings

    data = tmp_path / "freshtap"
    return Settings(
        _env_file=None,
        environment="development",
        data_dir=data,
        database_url=f"sqlite:///{(data / 'freshtap.db').as_posix()}",
        mqtt_url=None,
        share_group=None,
        embedded_mqtt_host="127.0.0.1",
        embedded_mqtt_port=0,
        http_host="127.0.0.1",
        http_port=0,
        public_url=None,
        server_mqtt_password=secrets.token_urlsafe(24),
        clock_speed=freshtap_clock_speed,
    )


@pytest.fixture
def freshtap_server(freshtap_settings: Settings, freshtap_clock: AcceleratedClock) -> Iterator[FreshtapServer]:
    from freshtap.server.runtime import ServerRuntime

    runtime = ServerRuntime(freshtap_settings, freshtap_clock)
    runtime.start()
    password = freshtap_settings.server_mqtt_password
    assert password is not None
    try:
        yield FreshtapServer(runtime, freshtap_clock, freshtap_settings, password.get_secret_value())
    finally:
        runtime.stop()


@pytest.fixture
def freshtap_broker(freshtap_server: FreshtapServer) -> FreshtapBroker:
    endpoint = freshtap_server.runtime.mqtt_endpoint
    assert endpoint is not None
    return FreshtapBroker(
        endpoint.host, endpoint.port, freshtap_server.settings.server_mqtt_username, freshtap_server.server_password
    )


@pytest.fixture
def freshtap_merchant(freshtap_server: FreshtapServer) -> Iterator[FreshtapMerchant]:
    from freshtap.server.services import accounts

    runtime = freshtap_server.runtime
    made = accounts.create_merchant(runtime.services.sessions, freshtap_server.clock, "Test Merchant")
    client = freshtap_server.client(made.api_key)
    try:
        yield FreshtapMerchant(made.merchant_id, made.api_key, client)
    finally:
        client.close()


@pytest.fixture
def freshtap_fleet(freshtap_server: FreshtapServer, tmp_path: Path) -> Iterator[FleetFactory]:
    """`freshtap_fleet(n, *, seed=0, accept_probability=0.7, payment_method="pm_sandbox_ok", ...)`.

    Provisions `n` households with one fridge each, starts a `Fleet` on them and waits until every
    fridge is connected. Keyword arguments `inventory_every` and `telemetry_every` (simulated time,
    default 6 h each) set how often each fridge reports; `online_timeout` (real seconds, 30) bounds
    the wait. Every fleet is stopped at teardown, before the server.
    """
    from freshtap.server.services import accounts
    from freshtap.simulator import Fleet, SimFridge

    made: list[FreshtapFleet] = []

    def start(
        households: int,
        *,
        seed: int = 0,
        accept_probability: float = 0.7,
        payment_method: str = "pm_sandbox_ok",
        inventory_every: timedelta = timedelta(hours=6),
        telemetry_every: timedelta = timedelta(hours=6),
        online_timeout: float = 30.0,
    ) -> FreshtapFleet:
        if households < 1:
            raise ValueError("a fleet needs at least one household")
        runtime = freshtap_server.runtime
        number = len(made)
        sims: list[SimFridge] = []
        household_ids: list[str] = []
        for index in range(households):
            fridge = accounts.provision_fridge(
                runtime.services.sessions,
                freshtap_server.clock,
                household_name=f"household {number}-{index + 1}",
                payment_method=payment_method,
                fridge_id=f"sim{number}-{seed}-{index + 1:04d}",
            )
            sims.append(SimFridge(fridge.fridge_id, fridge.username, fridge.password))
            household_ids.append(fridge.household_id)
        fleet = Fleet(
            sims,
            freshtap_server.mqtt_url,
            freshtap_server.http_url,
            freshtap_server.clock,
            seed=seed,
            accept_probability=accept_probability,
            state_dir=tmp_path / f"fleet-{number}",
            inventory_every=inventory_every,
            telemetry_every=telemetry_every,
        )
        handle = FreshtapFleet(freshtap_server, fleet, sims, household_ids)
        made.append(handle)
        fleet.start()
        if not fleet.wait_online(online_timeout):
            raise TimeoutError(f"the simulated fridges did not all connect within {online_timeout} s")
        return handle

    try:
        yield start
    finally:
        for handle in made:
            handle.stop()
