"""Reading a platform's HTTP answer as the relay needs it: fine, try later (and when), or give up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from freshtap.server.domain.social_retry import parse_retry_after
from freshtap.server.social.channels.base import PermanentError, TransientError

__all__ = ["check_status", "retry_after_of", "transport_errors"]


def retry_after_of(response: httpx.Response) -> float | None:
    """The response's `Retry-After` in seconds; an HTTP-date is read against the response's own `Date`."""
    now = datetime.now(UTC)
    date = response.headers.get("date")
    if date:
        with suppress(TypeError, ValueError, IndexError):
            now = parsedate_to_datetime(date)
    return parse_retry_after(response.headers.get("retry-after"), now)


def check_status(
    response: httpx.Response, platform: str, detail: Callable[[httpx.Response], str] | None = None
) -> None:
    """Raise `TransientError` for 408, 425, 429 and 5xx, `PermanentError` for any other non-2xx."""
    if response.is_success:
        return
    what = detail(response) if detail is not None else response.text[:300]
    message = f"{platform} answered {response.status_code}: {what}"
    if response.status_code in (408, 425, 429) or response.status_code >= 500:
        raise TransientError(message, retry_after_of(response))
    raise PermanentError(message)


@contextmanager
def transport_errors(platform: str) -> Iterator[None]:
    """Timeouts and broken connections are transient: the post may or may not have landed, so the
    retry carries the same de-duplication key."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransientError(f"{platform} timed out: {type(exc).__name__}") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"{platform} unreachable: {exc}") from exc
