"""The embedded broker's per-client limits: publish quotas, connection rates and bans.

One `Gatekeeper` per broker, used only from the broker's event loop. It applies the rules of
`limits.py` with the settings' `BrokerLimitSettings`, reads time from an injected monotonic
clock, counts what it refuses through the broker policy's counters, and logs usernames and
addresses (never credentials):

- at a new socket: a banned address is closed at once; an address (outside the exempt networks)
  that connects more than `connects_per_ip_per_window` times in a window is banned;
- at a CONNECT, before any authentication work: a banned username is refused (CONNACK "not
  authorized");
- after a fridge has authenticated: a username that connects more than `connects_per_window`
  times in a window (a reconnect loop) is banned and refused;
- per publish of a fridge (the server's own account is never limited): `hold` for QoS 1 says how
  long to hold the socket before reading the message (backpressure: what is acknowledged is
  never lost), `admit` for QoS 0 says whether to pass or drop it; a fridge over quota for
  `flood_ban_after_seconds` without a break is banned (`Banned`).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable

from freshtap.server.broker.limits import BanList, PublishQuota, WindowCounter
from freshtap.settings import BrokerLimitSettings

__all__ = ["Banned", "Gatekeeper"]

logger = logging.getLogger(__name__)

_SWEEP_EVERY = 1000  # publishes between two passes that forget idle quotas


class Banned(Exception):
    """The client was banned just now (flooding); the caller closes its connection."""


class Gatekeeper:
    """Limits and bans for one broker; `count(kind)` hears of every refusal (see plugins.COUNTERS)."""

    def __init__(
        self,
        limits: BrokerLimitSettings,
        count: Callable[[str], None],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self._count = count
        self._now = monotonic
        self._exempt = [ipaddress.ip_network(net, strict=False) for net in limits.connect_rate_exempt]
        self._bans = BanList()
        self._user_connects = WindowCounter(limits.connect_window_seconds, limits.connects_per_window)
        self._ip_connects = WindowCounter(limits.connect_window_seconds, limits.connects_per_ip_per_window)
        self._quotas: dict[str, PublishQuota] = {}
        self._publishes = 0

    # -- connections -----------------------------------------------------------------------------

    def socket_refused(self, address: str | None) -> bool:
        """At a new socket, before anything is read: whether to close it (a banned or looping address)."""
        if not address:
            return False
        now = self._now()
        key = f"ip:{address}"
        if self._bans.banned(key, now):
            self._count("banned")
            return True
        if self._is_exempt(address):
            return False
        if self._ip_connects.hit(address, now):
            self._ban(key, now, "connect_rate", f"address {address} connected too often")
            return True
        return False

    def connect_refused(self, username: str | None) -> bool:
        """At a CONNECT, before its credentials are checked: whether its username is banned."""
        if username and self._bans.banned(f"user:{username}", self._now()):
            self._count("banned")
            logger.info("refused CONNECT of banned user %r", username)
            return True
        return False

    def fridge_connected(self, username: str) -> bool:
        """After a fridge authenticated: False (and banned) when it connects in a loop."""
        now = self._now()
        if self._user_connects.hit(username, now):
            self._ban(f"user:{username}", now, "connect_rate", f"fridge {username!r} reconnects in a loop")
            return False
        return True

    def banned(self, username: str) -> bool:
        """Whether `username` is banned now."""
        return self._bans.banned(f"user:{username}", self._now())

    def lift(self, username: str) -> bool:
        """End the ban of `username` early (an operator's decision)."""
        return self._bans.lift(f"user:{username}")

    # -- publishes -------------------------------------------------------------------------------

    def hold(self, username: str) -> float:
        """A fridge's QoS 1 PUBLISH is arriving: seconds to hold its socket first. `Banned` when flooding."""
        now = self._now()
        quota = self._quota(username, now)
        wait = quota.reserve(now)
        if wait > 0:
            self._check_flood(username, quota, now)
        return wait

    def admit(self, username: str) -> bool:
        """A fridge's QoS 0 PUBLISH: pass it (True) or drop it (counted). `Banned` when flooding."""
        now = self._now()
        quota = self._quota(username, now)
        if quota.admit(now):
            return True
        self._count("rate_limited")
        self._check_flood(username, quota, now)
        return False

    def _quota(self, username: str, now: float) -> PublishQuota:
        quota = self._quotas.get(username)
        if quota is None:
            quota = self._quotas[username] = PublishQuota(self.limits.publish_rate, self.limits.publish_burst, now)
        self._publishes += 1
        if self._publishes % _SWEEP_EVERY == 0:
            self.sweep()
        return quota

    def _check_flood(self, username: str, quota: PublishQuota, now: float) -> None:
        after = self.limits.flood_ban_after_seconds
        if after > 0 and quota.flooding_for(now) >= after:
            del self._quotas[username]
            why = f"fridge {username!r} over its publish quota for {after:g} s"
            self._ban(f"user:{username}", now, "flood_banned", why)
            raise Banned(username)

    # -- housekeeping ----------------------------------------------------------------------------

    def sweep(self) -> None:
        """Forget full buckets, quiet windows and expired bans (bounded memory; call now and then)."""
        now = self._now()
        for username in [u for u, quota in self._quotas.items() if quota.idle(now)]:
            del self._quotas[username]
        self._user_connects.forget_idle(now)
        self._ip_connects.forget_idle(now)
        for key in self._bans.expired(now):
            logger.info("ban of %s has ended", key)

    def tracked(self) -> dict[str, int]:
        """How many quotas, connection windows and bans are held (for tests and diagnostics)."""
        return {
            "quotas": len(self._quotas),
            "user_windows": len(self._user_connects),
            "ip_windows": len(self._ip_connects),
            "bans": len(self._bans),
        }

    def _ban(self, key: str, now: float, kind: str, why: str) -> None:
        self._bans.ban(key, now, self.limits.ban_seconds)
        self._count(kind)
        logger.warning("banned %s for %g s: %s", key, self.limits.ban_seconds, why)

    def _is_exempt(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._exempt)
