"""The arithmetic of per-client limits: a publish quota, a connection-rate window, a ban list.

Pure: every call takes `now` (seconds on a monotonic clock the caller reads) and nothing here
does I/O or reads a clock, so the rules are tested without a broker. The embedded broker
(`gatekeeper.py`) and the server's ingest guard (`freshtap.server.ingest.rate_limit`) apply them.

- `PublishQuota`: a token bucket (`rate` per second, up to `burst` at once) that also tells how
  long its client has been over quota without a break, so a flood can be told from a burst.
- `WindowCounter`: how many events each key had in the last `window` seconds (connections per
  username or IP address).
- `BanList`: keys refused until a deadline.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["BanList", "PublishQuota", "WindowCounter"]


@dataclass
class PublishQuota:
    """A token bucket for one client's publishes, and how long it has been flooding.

    `reserve` takes a token even when none is left and says how long to wait for it: the broker
    holds the client's socket that long (backpressure, nothing lost). `admit` takes a token only
    when one is there: what is refused is dropped. Either way, a client that finds the bucket
    empty is *over quota*; it stays so until it finds a token to spare (two in the bucket: one
    for this message and one more), which a client that keeps sending faster than `rate` never
    does, even though a token trickles in now and then. `flooding_for` is how long it has been
    over quota without a break.
    """

    rate: float
    burst: float
    now: float
    tokens: float = field(init=False)
    _stamp: float = field(init=False)
    _over_since: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a quota needs a positive rate and a burst of at least 1")
        self.tokens = self.burst
        self._stamp = self.now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self.tokens = min(self.burst, self.tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def _mark(self, now: float) -> None:
        # Called after refilling, before taking this message's token.
        if self.tokens >= min(2.0, self.burst):
            self._over_since = None  # a token to spare: not flooding
        elif self.tokens < 1.0 and self._over_since is None:
            self._over_since = now

    def reserve(self, now: float) -> float:
        """Take a token; return how many seconds to wait before using it (0.0: at once)."""
        self._refill(now)
        self._mark(now)
        self.tokens -= 1.0
        return -self.tokens / self.rate if self.tokens < 0 else 0.0

    def admit(self, now: float) -> bool:
        """Take a token if one is there; False (nothing taken) when the client is over quota."""
        self._refill(now)
        self._mark(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def forgive(self) -> None:
        """Forget that the client was over quota (what it sent was not a flood after all)."""
        self._over_since = None

    def flooding_for(self, now: float) -> float:
        """Seconds the client has been over quota without a break (0.0 when it is not)."""
        return 0.0 if self._over_since is None else max(0.0, now - self._over_since)

    def idle(self, now: float) -> bool:
        """Whether the bucket is full again, so forgetting it changes nothing."""
        self._refill(now)
        return self.tokens >= self.burst


class WindowCounter:
    """Events per key in a sliding window of `window` seconds (at most `limit` + 1 kept per key)."""

    def __init__(self, window: float, limit: int) -> None:
        if window <= 0 or limit < 1:
            raise ValueError("a window needs a positive length and a limit of at least 1")
        self.window = window
        self.limit = limit
        self._events: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float) -> bool:
        """Count one event of `key`; True when that makes more than `limit` in the window."""
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque(maxlen=self.limit + 1)
        events.append(now)
        while events and events[0] <= now - self.window:
            events.popleft()
        return len(events) > self.limit

    def forget_idle(self, now: float) -> None:
        """Drop keys with no event in the window (call now and then: it bounds memory)."""
        for key in [k for k, events in self._events.items() if not events or events[-1] <= now - self.window]:
            del self._events[key]

    def __len__(self) -> int:
        return len(self._events)


class BanList:
    """Keys refused until a deadline; an expired ban is forgotten when next looked at."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    def ban(self, key: str, now: float, seconds: float) -> float:
        """Ban `key` for `seconds` from `now` (extending a shorter ban); returns the deadline."""
        until = max(self._until.get(key, now), now + seconds)
        self._until[key] = until
        return until

    def banned(self, key: str, now: float) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if until <= now:
            del self._until[key]
            return False
        return True

    def lift(self, key: str) -> bool:
        """End a ban early; False if `key` was not banned."""
        return self._until.pop(key, None) is not None

    def expired(self, now: float) -> list[str]:
        """Forget every ban that has run out; return their keys."""
        gone = [key for key, until in self._until.items() if until <= now]
        for key in gone:
            del self._until[key]
        return gone

    def __len__(self) -> int:
        return len(self._until)
