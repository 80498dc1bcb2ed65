"""The household's one tap: accepting a proposal over the server's HTTP API.

`POST {api}/api/v1/proposals/{proposal_id}/accept` with the fridge's credential as bearer token
and an `Idempotency-Key`, from a small pool of worker threads sharing one `httpx.Client`, so
the MQTT network threads that deliver offers never block on HTTP.

A timeout, a dropped connection or a 5xx is retried a few times with the *same* key — the
server returns the same order for the same key, so a retry can never buy twice. A 4xx is final.
Every outcome is counted; nothing here raises into a caller. `stop()` drains what is queued
within its timeout, so a run's final counts include the taps made just before it ended.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import Protocol
from urllib.parse import quote

import httpx

from .stats import StatsRecorder

__all__ = ["Credentials", "ProposalAcceptor"]

log = logging.getLogger(__name__)


class Credentials(Protocol):
    @property
    def fridge_id(self) -> str: ...

    @property
    def password(self) -> str: ...


class ProposalAcceptor:
    def __init__(
        self,
        api_base_url: str,
        stats: StatsRecorder,
        *,
        workers: int = 8,
        timeout: float = 10.0,
        attempts: int = 3,
        retry_delay: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if attempts < 1 or workers < 1:
            raise ValueError("attempts and workers must be at least 1")
        self._base_url = api_base_url.rstrip("/")
        self._stats = stats
        self._workers = workers
        self._timeout = timeout
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._transport = transport
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pending: set[concurrent.futures.Future[None]] = set()

    def start(self) -> None:
        with self._lock:
            if self._pool is not None:
                return
            self._stopping.clear()
            self._client = httpx.Client(
                base_url=self._base_url, timeout=self._timeout, transport=self._transport
            )
            self._pool = concurrent.futures.ThreadPoolExecutor(self._workers, thread_name_prefix="sim-accept")

    def stop(self, timeout: float = 10.0) -> None:
        """Let queued and running accepts finish for up to `timeout`, then drop the rest (counted)."""
        with self._lock:
            pool, client = self._pool, self._client
            self._pool = self._client = None
            pending = set(self._pending)
        if pool is None or client is None:
            return
        _, not_done = concurrent.futures.wait(pending, timeout)
        self._stopping.set()  # ends retry back-offs
        pool.shutdown(wait=False, cancel_futures=True)
        for future in not_done:
            if future.cancelled():
                self._stats.accept_failed("stopped")
        concurrent.futures.wait(not_done, min(timeout, 1.0))
        client.close()

    def submit(self, fridge: Credentials, proposal_id: str, idempotency_key: str) -> bool:
        """Queue one accept; False (and counted) when the acceptor is not running."""
        with self._lock:
            pool, client = self._pool, self._client
            if pool is None or client is None:
                self._stats.accept_failed("stopped")
                return False
            future = pool.submit(self._accept, client, fridge, proposal_id, idempotency_key)
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return True

    def _forget(self, future: concurrent.futures.Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _accept(self, client: httpx.Client, fridge: Credentials, proposal_id: str, key: str) -> None:
        url = f"/api/v1/proposals/{quote(proposal_id, safe='')}/accept"
        headers = {"Authorization": f"Bearer {fridge.password}", "Idempotency-Key": key}
        reason = "transport"
        for attempt in range(self._attempts):
            if attempt and self._stopping.wait(self._retry_delay * 2 ** (attempt - 1)):
                break
            try:
                response = client.post(url, headers=headers)
            except httpx.HTTPError as exc:
                reason = "transport"
                log.info("%s: accept %s failed (%s)", fridge.fridge_id, proposal_id, exc)
                continue
            except Exception:  # a worker thread must never die of one bad call
                log.exception("%s: accept %s crashed", fridge.fridge_id, proposal_id)
                reason = "error"
                break
            if response.status_code >= 500:
                reason = f"http_{response.status_code}"
                continue
            if response.status_code >= 400:
                self._stats.accept_failed(f"http_{response.status_code}")
                log.info("%s: accept %s refused: %s %s", fridge.fridge_id, proposal_id,
                         response.status_code, response.text[:200])
                return
            status = _order_status(response)
            if status is None:
                self._stats.accept_failed("bad_response")
            else:
                self._stats.accept_ok(status)
            return
        self._stats.accept_failed(reason)


def _order_status(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("order_id") in (None, ""):
        return None
    status = body.get("status")
    return status if isinstance(status, str) and status else None
