"""Parsing `mqtt://host:port`."""

from __future__ import annotations

import pytest

from freshtap.device.broker_address import BrokerAddress, parse_mqtt_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1884", BrokerAddress("127.0.0.1", 1884)),
        ("mqtt://broker.example", BrokerAddress("broker.example", 1883)),
        ("mqtt://broker.example:8883/", BrokerAddress("broker.example", 8883)),
        (" mqtt://[::1]:1999 ", BrokerAddress("::1", 1999)),
    ],
)
def test_parses(url: str, expected: BrokerAddress) -> None:
    assert parse_mqtt_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://host:1883",
        "mqtts://host:8883",
        "mqtt://",
        "mqtt://host:0",
        "mqtt://host:99999",
        "mqtt://host:abc",
        "mqtt://user:pw@host:1883",
        "mqtt://host:1883/topic",
        "host:1883",
    ],
)
def test_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        parse_mqtt_url(url)


def test_renders_back() -> None:
    assert str(BrokerAddress("::1", 1999)) == "mqtt://[::1]:1999"
