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

import pytest

POSTGRES_ADMIN_URL = os.environ.get("FRESHTAP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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
