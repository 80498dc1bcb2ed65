"""Where the broker is: `mqtt://host:port` parsed into a host and a port.

Only plain `mqtt://` (MQTT over TCP, default port 1883) is understood for now; anything else —
another scheme, credentials or a path in the URL, a missing host — is a `ValueError`, because the
fridge's credentials come from provisioning, not from the URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["BrokerAddress", "parse_mqtt_url"]

_DEFAULT_PORT = 1883


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mqtt://{host}:{self.port}"


def parse_mqtt_url(url: str) -> BrokerAddress:
    """Parse `mqtt://host[:port]`; `ValueError` on anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme != "mqtt":
        raise ValueError(f"unsupported broker URL scheme in {url!r} (expected mqtt://host:port)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the broker URL must not carry credentials")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"unexpected path or query in broker URL {url!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in broker URL {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"invalid port in broker URL {url!r}") from None
    if port == 0:
        raise ValueError(f"invalid port in broker URL {url!r}")
    return BrokerAddress(host=host, port=port if port is not None else _DEFAULT_PORT)
