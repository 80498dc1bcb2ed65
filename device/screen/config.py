"""How the door screen is served and behaves: one frozen settings object per screen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from freshtap.settings import FreshnessSettings

from .catalog import LANGUAGES

__all__ = ["ScreenConfig"]

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class ScreenConfig:
    host: str = "127.0.0.1"
    """Where the page is served. Loopback by default: the screen is for the fridge's own display."""
    port: int = 8180
    """0 picks a free port (see `DoorScreen.url` after `start()`)."""
    server_url: str | None = None
    """The freshtap server (`https://...`); None runs the screen on what the fridge knows alone, without Buy."""
    password: str | None = None
    """The fridge's credential (its MQTT password), sent as `Authorization: Bearer` to the server."""
    state_dir: Path | None = None
    """Where committed taps (and their idempotency keys) are kept across restarts; None keeps them in memory."""
    undo_seconds: float = 5.0
    """How long a Buy tap waits, with an Undo button, before it is sent."""
    language: str = "en"
    """The language the page opens in; the toggle switches between `LANGUAGES`."""
    freshness: FreshnessSettings = field(default_factory=FreshnessSettings)
    poll_seconds: float = 1.0
    """How often the fridge's own inventory and connection are re-read (offers arrive at once)."""
    server_refresh_seconds: float = 20.0
    """How often the server's inventory (with its freshness explanations) is fetched while reachable."""
    order_poll_seconds: float = 3.0
    """How often an order that is not final yet is re-read."""
    retry_min_seconds: float = 1.0
    retry_max_seconds: float = 30.0
    """A tap that could not reach the server is retried, with the same key, after 1, 2, 4 ... up to this."""
    heartbeat_seconds: float = 15.0
    """An idle event stream gets a comment this often, so proxies and the browser keep it open."""
    http_timeout: float = 10.0
    orders_kept: int = 8
    allow_remote: bool = False
    """Serve on a non-loopback host (a screen on another device). Off: such a `host` is refused."""

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {sorted(LANGUAGES)}")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be 0..65535")
        if self.undo_seconds < 0:
            raise ValueError("undo_seconds must not be negative")
        for name in ("poll_seconds", "server_refresh_seconds", "order_poll_seconds", "heartbeat_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not 0 < self.retry_min_seconds <= self.retry_max_seconds:
            raise ValueError("need 0 < retry_min_seconds <= retry_max_seconds")
        if self.host not in _LOOPBACK and not self.allow_remote:
            raise ValueError(f"the door screen binds to loopback only unless allow_remote is set (got {self.host!r})")
        if self.server_url is not None and not self.server_url.startswith(("http://", "https://")):
            raise ValueError("server_url must be an http:// or https:// URL")
        if self.server_url is not None and not self.password:
            raise ValueError("a server_url needs the fridge's password")
