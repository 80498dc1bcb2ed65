"""When the social outbox tries a post again: capped exponential backoff with full jitter, and `Retry-After`.

Pure: the attempt number, the clock reading and the random source are passed in.

    delay(attempt) = uniform(0, min(cap, base * 2 ** (attempt - 1)))          "full jitter"
    next attempt   = now + max(delay(attempt), Retry-After)                   Retry-After wins when longer

Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") spreads the retries of many
posts that failed together, so a platform that recovers is not hit by all of them at once. A
`Retry-After` (RFC 9110 section 10.2.3: delay-seconds or an HTTP-date) is a floor, never shortened.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["backoff_delay", "next_attempt_at", "parse_retry_after"]

_MAX_RETRY_AFTER = 7 * 24 * 3600.0


def backoff_delay(attempt: int, base_seconds: float, cap_seconds: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 for the first): full jitter under a cap."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    ceiling = min(cap_seconds, base_seconds * 2.0 ** min(attempt - 1, 60))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a `Retry-After` header asks for (delay-seconds or an HTTP-date); None if absent or unreadable.

    A date in the past means "now" (0); anything beyond a week is held to a week.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(text), _MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), _MAX_RETRY_AFTER)


def next_attempt_at(
    now: datetime,
    attempt: int,
    base_seconds: float,
    cap_seconds: float,
    rng: random.Random,
    retry_after_seconds: float | None = None,
) -> datetime:
    """When to try again after failed attempt `attempt`; never before `Retry-After` when one was given."""
    delay = backoff_delay(attempt, base_seconds, cap_seconds, rng)
    if retry_after_seconds is not None:
        delay = max(delay, retry_after_seconds)
    return now + timedelta(seconds=delay)
