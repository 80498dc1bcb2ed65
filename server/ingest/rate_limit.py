"""Each fridge's publish quota, enforced where the server ingests, for brokers that cannot (Mosquitto 2.0).

The embedded broker holds a fridge to its quota itself (server/broker/gatekeeper.py). Mosquitto
2.0 has no per-client publish rate limit, so with an outside broker every message of a flooding
fridge reaches the server; `IngestRateGuard` sits in front of `IngestService.handle_batch` (or
`handle`) and keeps
one token bucket per fridge (`publish_rate`, `publish_burst` of `BrokerLimitSettings`), read
from the topic alone, before the payload is parsed, so a flood costs microseconds per message.

The policy (docs/security.md, "Broker limits"): a message over its fridge's quota is
acknowledged to the broker and not applied; it is a counted rejection with the reason
`rate_limited` (`freshtap_ingest_rejected_total{reason="rate_limited"}`), and the rejection table
gets one row per fridge and streak (the first refused payload, kept as a sample, and how many
followed), not one per message, so a flood cannot fill the database. A fridge within its quota
never loses a message this way. A fridge over quota for `flood_ban_after_seconds` without a
break is banned through a `Banner` (on Mosquitto, its dynamic security plugin) for `ban_seconds`.

After the server's MQTT link (re)connects, the broker delivers what it queued meanwhile at once;
for `ingest_grace_seconds` after `grace()` nothing is limited, so such a backlog is never refused.
A fridge that comes back online replays its own offline queue at once too: a message over quota
whose `at` is older than `ingest_backlog_seconds` is such a replay and passes through a second,
`backlog_factor` times larger bucket instead (without counting as flooding); only what exceeds
that one too is refused.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlmodel import Session

from freshtap.clock import Clock
from freshtap.contract import MAX_PAYLOAD_BYTES, parse_topic
from freshtap.server.broker.limits import PublishQuota
from freshtap.server.ingest.service import IngestOutcome
from freshtap.server.metrics import Metrics
from freshtap.server.store.models import Rejection
from freshtap.settings import BrokerLimitSettings

__all__ = ["Banner", "IngestRateGuard"]

log = logging.getLogger(__name__)

REASON = "rate_limited"

Handler = Callable[[str, bytes | bytearray], object]
Messages = Sequence[tuple[str, bytes | bytearray]]
BatchHandler = Callable[[Messages], Sequence[IngestOutcome]]


class Banner(Protocol):
    """Bans a fridge's broker login for a while (Mosquitto: `freshtap.server.broker.dynsec.DynsecBans`)."""

    def ban(self, username: str, seconds: float) -> None: ...


@dataclass
class _Streak:
    """Refused messages of one fridge not yet written to the rejection table."""

    topic: str
    first_at: float
    count: int = 0


class IngestRateGuard:
    """Per-fridge token buckets in front of the ingest handler (see the module docstring)."""

    def __init__(
        self,
        limits: BrokerLimitSettings,
        sessions: Callable[[], Session],
        clock: Clock,
        metrics: Metrics,
        banner: Banner | None = None,
        *,
        grace_seconds: float | None = None,
        record_every: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._sessions = sessions
        self._clock = clock
        self._metrics = metrics
        self._banner = banner
        self._grace_seconds = limits.ingest_grace_seconds if grace_seconds is None else grace_seconds
        self._record_every = record_every
        self._now = monotonic
        self._lock = threading.Lock()  # several link workers may share one guard
        self._quotas: dict[str, PublishQuota] = {}
        self._backlog: dict[str, PublishQuota] = {}
        self._streaks: dict[str, _Streak] = {}
        self._banned_until: dict[str, float] = {}
        self._grace_until = 0.0
        self._checked = 0

    def grace(self) -> None:
        """Limit nothing for `grace_seconds` from now (call when the MQTT link (re)connects)."""
        with self._lock:
            self._grace_until = self._now() + self._grace_seconds

    def wrap(self, handler: Handler) -> Handler:
        """`handler`, with messages over their fridge's quota refused before it sees them."""

        def guarded(topic: str, payload: bytes | bytearray) -> object:
            if not self.admit(topic, payload):
                return IngestOutcome("rejected", reason=REASON)
            return handler(topic, payload)

        return guarded

    def wrap_batch(self, handler: BatchHandler) -> Callable[[Messages], list[IngestOutcome]]:
        """`handler`, with each message over its fridge's quota left out of the batch it sees.

        Each message is checked in arrival order, as `wrap` checks them one at a time; a refused
        one gets its `rate_limited` outcome in its place, and the admitted rest goes on as one batch.
        """

        def guarded(messages: Messages) -> list[IngestOutcome]:
            outcomes: list[IngestOutcome | None] = [None] * len(messages)
            admitted = [i for i, (topic, payload) in enumerate(messages) if self.admit(topic, payload)]
            refused = IngestOutcome("rejected", reason=REASON)
            if admitted:
                applied = handler([messages[i] for i in admitted])
                for i, outcome in zip(admitted, applied, strict=True):
                    outcomes[i] = outcome
            return [refused if o is None else o for o in outcomes]

        return guarded

    def admit(self, topic: str, payload: bytes | bytearray) -> bool:
        """Whether this message is within its fridge's quota; if not, it is counted and recorded."""
        try:
            fridge_id, _ = parse_topic(topic)
        except ValueError:
            return True  # not a fridge's topic: the ingest service rejects it with its own reason
        ban = False
        record: tuple[_Streak, bytes] | None = None
        flush: _Streak | None = None
        with self._lock:
            now = self._now()
            self._checked += 1
            if self._checked % 10_000 == 0:
                self._forget_idle(now)
            quota = self._quotas.get(fridge_id)
            if quota is None:
                quota = PublishQuota(self._limits.publish_rate, self._limits.publish_burst, now)
                self._quotas[fridge_id] = quota
            if now < self._grace_until or quota.admit(now) or self._replayed(fridge_id, quota, payload, now):
                if quota.flooding_for(now) == 0.0:  # the streak is over (not a token trickling in)
                    flush = self._streaks.pop(fridge_id, None)
                admitted = True
            else:
                admitted = False
                streak = self._streaks.get(fridge_id)
                if streak is None or now - streak.first_at >= self._record_every:
                    flush = streak
                    streak = self._streaks[fridge_id] = _Streak(topic, now)
                    record = (streak, bytes(payload[: MAX_PAYLOAD_BYTES + 1]))
                streak.count += 1
                after = self._limits.flood_ban_after_seconds
                if (
                    self._banner is not None
                    and after > 0
                    and quota.flooding_for(now) >= after
                    and self._banned_until.get(fridge_id, 0.0) <= now
                ):
                    self._banned_until[fridge_id] = now + self._limits.ban_seconds
                    ban = True
        if flush is not None and flush.count > 1:
            self._store(flush.topic, f"{flush.count - 1} more messages over the quota after the one recorded", b"")
        if not admitted:
            self._metrics.rejected.labels(reason=REASON).inc()
            if record is not None:
                streak, sample = record
                limits = self._limits
                detail = f"over the fridge's publish quota ({limits.publish_rate:g}/s, burst {limits.publish_burst})"
                self._store(streak.topic, detail, sample, size=len(payload))
        if ban:
            self._ban(fridge_id)
        return admitted

    def _replayed(self, fridge_id: str, quota: PublishQuota, payload: bytes | bytearray, now: float) -> bool:
        """Whether an over-quota message is an old one the fridge replays, within the backlog bucket."""
        at = _observed_at(payload)
        if at is None or at > self._clock.now() - timedelta(seconds=self._limits.ingest_backlog_seconds):
            return False
        backlog = self._backlog.get(fridge_id)
        if backlog is None:
            factor = self._limits.backlog_factor
            backlog = PublishQuota(self._limits.publish_rate * factor, self._limits.publish_burst * factor, now)
            self._backlog[fridge_id] = backlog
        if not backlog.admit(now):
            return False
        quota.forgive()
        return True

    def _ban(self, fridge_id: str) -> None:
        assert self._banner is not None
        seconds = self._limits.ban_seconds
        log.warning("fridge %s over its publish quota for too long; banning it for %g s", fridge_id, seconds)
        try:
            self._banner.ban(fridge_id, seconds)
        except Exception:
            # The flood goes on being refused here; the ban is retried once this one would have ended.
            log.exception("could not ban fridge %s at the broker", fridge_id)

    def _store(self, topic: str, detail: str, payload: bytes, size: int = 0) -> None:
        with self._sessions() as session:
            session.add(
                Rejection(
                    received_at=self._clock.now(),
                    topic=topic[:300],
                    reason=REASON,
                    detail=detail[:500],
                    payload=payload,
                    payload_size=size,
                )
            )
            session.commit()

    def _forget_idle(self, now: float) -> None:
        for fridge_id in [f for f, quota in self._quotas.items() if quota.idle(now) and f not in self._streaks]:
            del self._quotas[fridge_id]
        for fridge_id in [f for f, quota in self._backlog.items() if quota.idle(now)]:
            del self._backlog[fridge_id]
        for fridge_id in [f for f, until in self._banned_until.items() if until <= now]:
            del self._banned_until[fridge_id]


def _observed_at(payload: bytes | bytearray) -> datetime | None:
    """The message's `at`, if it has a readable one (the ingest service validates it properly)."""
    try:
        value = json.loads(payload).get("at")
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
    except (ValueError, AttributeError, TypeError, RecursionError):
        return None
