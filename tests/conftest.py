"""Fixtures shared by every lane: outside services, free ports, a fresh PostgreSQL database.

A test that needs a service nobody started skips with the reason, unless
FRESHTAP_REQUIRE_SERVICES=1 (as .ci/run sets), where it fails instead.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from typing import Any

import pytest

POSTGRES_ADMIN_URL = os.environ.get("FRESHTAP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-faults", action="store_true", default=False, help="run the slow fault suite (tests marked faults)"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: slow fault-injection case; skipped unless --run-faults (make faults)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skipif(
        not config.getoption("--run-faults"), reason="slow fault case: run with --run-faults (make faults)"
    )
    for item in items:
        if item.get_closest_marker("faults") is not None:
            item.add_marker(skip)


def services_required() -> bool:
    return os.environ.get("FRESHTAP_REQUIRE_SERVICES") == "1"


def missing_service(reason: str) -> None:
    """Skip, or fail under FRESHTAP_REQUIRE_SERVICES=1."""
    if services_required():
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mosquitto_binary() -> str:
    path = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)
    if path is None:
        missing_service("mosquitto is not installed (apt-get install mosquitto)")
    assert path is not None
    return path


@pytest.fixture
def mosquitto_clients() -> tuple[str, str]:
    pub, sub = shutil.which("mosquitto_pub"), shutil.which("mosquitto_sub")
    if pub is None or sub is None:
        missing_service("mosquitto_pub/mosquitto_sub are not installed (apt-get install mosquitto-clients)")
    assert pub is not None and sub is not None
    return pub, sub


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (a `playwright.sync_api.Browser`); never `playwright install`.

    Module-scoped: Playwright's sync API keeps an event loop running in the main thread while it is
    open, which would break the asyncio tests of other modules.
    """
    if not os.path.exists(CHROMIUM):
        missing_service("chromium is not installed (apt-get install chromium fonts-wqy-microhei)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    name = f"freshtap_t_{secrets.token_hex(5)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        missing_service(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc.orig}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class _FailOnLoggedError(logging.Handler):
    """Errors a worker thread would only log fail the test (Home Assistant's fail_on_log_exception)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("freshtap") and record.exc_info:
            self.records.append(record)


@pytest.fixture(autouse=True)
def fail_on_logged_exception() -> Iterator[None]:
    handler = _FailOnLoggedError()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    if handler.records:
        first = handler.records[0]
        pytest.fail(f"an exception was logged by {first.name}: {first.getMessage()}", pytrace=False)
