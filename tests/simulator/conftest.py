"""Simulator lane fixtures: a plain Mosquitto on a free port and a tiny fake of the accept API.

Without the mosquitto binary the MQTT tests skip, unless FRESHTAP_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from freshtap.simulator.mosquitto import MosquittoBroker
from tests.simulator.fake_api import FakeApi


@pytest.fixture
def mosquitto(mosquitto_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A plain, anonymous Mosquitto on 127.0.0.1 at a free port, for one test."""
    broker = MosquittoBroker(tmp_path_factory.mktemp("mosquitto"), binary=mosquitto_binary)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    api.start()
    try:
        yield api
    finally:
        api.stop()
