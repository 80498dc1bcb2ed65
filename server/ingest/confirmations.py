"""Server confirmations: telling each fridge which of its messages the server is done with.

A broker acknowledges a QoS 1 message before it has saved it (Mosquitto 2.0 saves later, at an
autosave point), so a broker crash can lose messages a fridge already saw PUBACKed
(docs/deployment.md, "What survives a broker crash"). A fridge therefore keeps each message until
the *server* says it has it: after the ingest commits, `Confirmations` collects the fridge's
`seq` and publishes a `notice` of kind `applied` (`{"kind": "applied", "seqs": [[first, last],
...]}`, CONTRACT.md) on the fridge's `notices` topic, QoS 1.

- What counts as handled: every message the ingest is done with for good — applied, duplicate
  (already applied), stale (an older snapshot), or rejected as invalid. A message whose handling
  failed (the database is down) is not confirmed: the link retries it, and confirms it then.
  A message of an unknown fridge, or one without a readable `seq` (`state`), is not confirmed.
- Batched and rate-limited: at most one notice per fridge per `interval` (1 s), carrying every
  seq handled since the last one as merged ranges (at most `MAX_APPLIED_RANGES`; the rest waits
  for the next). At thousands of messages a second, a fridge sending a few a second gets about one
  notice a second, whatever its rate.
- A lost notice (the broker crashed before delivering it) costs a resend: the fridge sends what
  is unconfirmed again after its next reconnect, the server finds it a duplicate, and confirms it.
- One daemon thread per process publishes the notices (`start()`/`stop()`; `stop()` sends what is
  pending). `Confirmations.disabled()` does nothing, for in-process tools and tests without MQTT.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from freshtap.clock import Clock, SystemClock
from freshtap.contract import MAX_APPLIED_RANGES, Channel, applied_notice, encode, parse_topic
from freshtap.server.services.publisher import FridgePublisher

__all__ = ["Confirmations", "merge_ranges"]

log = logging.getLogger(__name__)

# The envelope's `seq` when it comes before any nested object (it does in every payload the
# contract's `encode` writes); anything else is parsed properly.
_LEADING_SEQ = re.compile(rb'^\s*\{[^{}\[\]]*?"seq"\s*:\s*(\d{1,19})\s*[,}]')
_NOT_CONFIRMED = frozenset({"unknown_fridge"})


def merge_ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """Sorted, merged inclusive ranges covering `seqs` ([5, 1, 2, 3] -> [(1, 3), (5, 5)])."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def _seq_of(payload: bytes) -> int | None:
    match = _LEADING_SEQ.match(payload)
    if match is not None:
        return int(match.group(1))
    try:
        value = json.loads(payload).get("seq")
    except (ValueError, AttributeError, RecursionError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


@dataclass
class _Pending:
    seqs: list[int] = field(default_factory=list)
    last_sent: float = float("-inf")


class Confirmations:
    """Collects handled `(fridge_id, seq)` and publishes `applied` notices; see the module docstring."""

    def __init__(
        self,
        publisher: FridgePublisher | None,
        clock: Clock,
        *,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publisher = publisher
        self._clock = clock
        self._interval = interval
        self._now = monotonic
        self._wake = threading.Condition()
        self._fridges: dict[str, _Pending] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.sent = 0
        """Notices published so far."""

    @classmethod
    def disabled(cls) -> Confirmations:
        """One that confirms nothing (no publisher)."""
        return cls(None, SystemClock())

    @property
    def enabled(self) -> bool:
        return self._publisher is not None

    # ---- noting what was handled (ingest threads) ----------------------------------------------

    def handled(self, topic: str, payload: bytes | bytearray, outcome: object = None) -> None:
        """The ingest is done with this message (it committed, or refused it for good)."""
        if self._publisher is None or getattr(outcome, "reason", None) in _NOT_CONFIRMED:
            return
        try:
            fridge_id, channel = parse_topic(topic)
        except ValueError:
            return
        if channel is Channel.STATE:
            return
        seq = _seq_of(bytes(payload))
        if seq is not None:
            self.note(fridge_id, seq)

    def handled_batch(self, messages: Sequence[tuple[str, bytes | bytearray]], outcomes: Sequence[object]) -> None:
        """`handled` for each message of a committed batch, with its outcome (same order)."""
        if self._publisher is None:
            return
        for (topic, payload), outcome in zip(messages, outcomes, strict=True):
            self.handled(topic, payload, outcome)

    def note(self, fridge_id: str, seq: int) -> None:
        if self._publisher is None:
            return
        with self._wake:
            pending = self._fridges.get(fridge_id)
            if pending is None:
                pending = self._fridges[fridge_id] = _Pending()
            pending.seqs.append(seq)
            self._wake.notify()

    # ---- publishing (the confirmations thread) -------------------------------------------------

    def start(self) -> None:
        if self._publisher is None:
            return
        with self._wake:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="freshtap-confirmations", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread, after sending what is pending (the rate limit no longer applies)."""
        with self._wake:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._wake.notify_all()
        if thread is not None:
            thread.join(timeout)
        self.flush(force=True)

    def flush(self, *, force: bool = False) -> float | None:
        """Publish every fridge's notice that is due (all pending ones if `force`).

        Returns the monotonic time at which the next pending notice falls due, or None.
        """
        now = self._now()
        due: list[tuple[str, list[tuple[int, int]]]] = []
        next_due: float | None = None
        with self._wake:
            for fridge_id, pending in list(self._fridges.items()):
                if not pending.seqs:
                    if now - pending.last_sent >= self._interval:
                        del self._fridges[fridge_id]  # forget idle fridges: memory follows the active ones
                    continue
                ready_at = pending.last_sent + self._interval
                if not force and ready_at > now:
                    next_due = ready_at if next_due is None else min(next_due, ready_at)
                    continue
                ranges = merge_ranges(pending.seqs)
                sent, rest = ranges[:MAX_APPLIED_RANGES], ranges[MAX_APPLIED_RANGES:]
                pending.seqs = [seq for first, last in rest for seq in range(first, last + 1)]
                pending.last_sent = now
                if pending.seqs:
                    ready_at = now + self._interval
                    next_due = ready_at if next_due is None else min(next_due, ready_at)
                due.append((fridge_id, sent))
        for fridge_id, ranges in due:
            self._publish(fridge_id, ranges)
        return next_due

    def _publish(self, fridge_id: str, ranges: list[tuple[int, int]]) -> None:
        assert self._publisher is not None
        try:
            payload = encode(applied_notice(fridge_id, ranges, self._clock.now()))
            self._publisher.publish(fridge_id, Channel.NOTICES, payload, retain=False)
        except Exception:
            # Not fatal: the fridge resends what stays unconfirmed, and is confirmed then.
            log.exception("could not confirm %d seq ranges to fridge %s", len(ranges), fridge_id)
            return
        self.sent += 1

    def _run(self) -> None:
        while True:
            next_due = self.flush()
            with self._wake:
                if self._stopping:
                    return
                if next_due is None and not any(p.seqs for p in self._fridges.values()):
                    self._wake.wait(self._interval)
                elif next_due is not None:
                    self._wake.wait(max(0.0, next_due - self._now()))
