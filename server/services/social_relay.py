"""The social outbox relay: claims due entries, posts each once through its channel, records the outcome.

    pending ──claim──▶ in_flight ──posted / handed over──▶ sent
       ▲                  │ ├──waiting for the owner's phone──▶ awaiting_owner ──poll──▶ sent | dead
       └──retry later─────┘ └──permanent error, no consent, or N attempts──▶ dead (counted, logged, reason kept)

- **Claiming.** On PostgreSQL a pass selects due entries `FOR UPDATE SKIP LOCKED`, so relays in
  several workers never claim the same row, and marks them `in_flight` with a lease and a claim
  token in the same short transaction. On SQLite each candidate is claimed by a conditional
  `UPDATE ... WHERE id = ? AND <still due>`, which only one writer can win. Entries are due when
  pending (or awaiting the owner) and their `next_attempt_at` has come, or in flight with an
  expired lease: a relay killed mid-batch leaves its entries to another after the lease.
- **Posting once.** An attempt is counted when it is claimed. The post carries the key
  `<approval_id>:<channel>` to the channel, which de-duplicates at the platform (an idempotency
  key, a unique row, or a look-up before posting), so the retry after a crash between the post
  and the commit finds the first post instead of making a second. The outcome is recorded only
  by the claim that still holds the entry (`claim_token`), and `sent` is final.
- **Consent.** Before posting, the owner's consent for this (approval, channel) must be on record
  (`review_consent`); without it the entry is dead-lettered and nothing is posted.
- **Waiting for the video.** A channel that carries video (`ChannelLimits.waits_for_video`: the
  local feed, Douyin, Xiaohongshu) does not post while the fridge's video is still expected (the
  post's `video_until` has not passed and no video is in its media): the entry goes back to
  pending, the attempt uncounted, until the deadline (looked at again every `owner_poll_seconds`);
  the upload adds the video to the post and makes it due at once. After the deadline it posts with
  the poster alone. Other channels post with the poster at once; a video that arrives after a
  post was sent is not posted again.
- **Retries.** Capped exponential backoff with full jitter (`domain/social_retry.py`); after a
  429 never before its `Retry-After`. After `max_attempts` the entry is dead: counted in
  `freshtap_social_dead_letters_total`, logged, and the reason is kept in `last_error`.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select

from freshtap.clock import Clock
from freshtap.server.domain.social_posts import PostContent
from freshtap.server.domain.social_retry import next_attempt_at
from freshtap.server.metrics import Metrics
from freshtap.server.services.social_outbox import post_from_payload
from freshtap.server.social.channels.base import (
    Channel,
    MediaStore,
    OwnerConfirmed,
    PermanentError,
    PublishResult,
    TransientError,
    dedup_key,
)
from freshtap.server.social.channels.registry import build_channels, channel_http_client
from freshtap.server.social.media import NoMedia
from freshtap.server.store.social_models import ReviewConsent
from freshtap.server.store.social_outbox_models import SocialOutboxEntry
from freshtap.settings import Settings, SocialOutboxSettings

__all__ = [
    "ConsentCheck",
    "RelayReport",
    "RelayWorker",
    "SocialRelay",
    "build_social_relay",
    "review_consent_given",
]

log = logging.getLogger(__name__)

ConsentCheck = Callable[[Session, SocialOutboxEntry], bool]


def review_consent_given(session: Session, entry: SocialOutboxEntry) -> bool:
    """Whether the owner consented to posting this approval on this channel (`review_consent`)."""
    found = session.exec(
        select(ReviewConsent.id).where(
            ReviewConsent.draft_id == entry.approval_id,
            ReviewConsent.channel == entry.channel,
            ReviewConsent.household_id == entry.household_id,
        )
    ).first()
    return found is not None


@dataclass
class RelayReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    awaiting_owner: int = 0
    waiting_video: int = 0
    """Posts held back because the fridge's video is still expected."""
    lost: int = 0
    """Claims whose lease another relay took over before this one could record the outcome."""
    outcomes: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    id: str
    token: str
    mode: str  # "publish" or "poll"
    attempts: int


def _due(now: datetime) -> Any:
    return or_(
        and_(
            col(SocialOutboxEntry.status).in_(("pending", "awaiting_owner")),
            col(SocialOutboxEntry.next_attempt_at) <= now,
        ),
        and_(col(SocialOutboxEntry.status) == "in_flight", col(SocialOutboxEntry.lease_until) <= now),
    )


class SocialRelay:
    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Clock,
        channels: Mapping[str, Channel],
        settings: SocialOutboxSettings,
        metrics: Metrics | None = None,
        rng: random.Random | None = None,
        consent: ConsentCheck = review_consent_given,
        relay_id: str | None = None,
        media: MediaStore | None = None,
    ) -> None:
        self._sessions = sessions
        self.media: MediaStore = media or NoMedia()
        """Where the channels (and the share pages) read a post's media from."""
        self._clock = clock
        self.channels = dict(channels)
        self._settings = settings
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._consent = consent
        self.relay_id = relay_id or secrets.token_hex(4)
        self._lock = threading.Lock()

    @property
    def batch_size(self) -> int:
        return self._settings.batch_size

    def run_once(self) -> RelayReport:
        """One pass: claim what is due (up to `batch_size`) and carry each entry out."""
        with self._lock:
            report = RelayReport()
            for claim in self._claim(self._clock.now()):
                report.claimed += 1
                self._deliver(claim, report)
            return report

    # -- claiming ---------------------------------------------------------------------------

    def _claim(self, now: datetime) -> list[_Claim]:
        lease_until = now + timedelta(seconds=self._settings.lease_seconds)
        token = f"{self.relay_id}-{secrets.token_hex(6)}"
        with self._sessions() as session:
            if session.get_bind().dialect.name == "postgresql":
                rows = session.exec(
                    select(SocialOutboxEntry)
                    .where(_due(now))
                    .order_by(col(SocialOutboxEntry.next_attempt_at))
                    .limit(self._settings.batch_size)
                    .with_for_update(skip_locked=True)
                ).all()
                claims = []
                for row in rows:
                    mode = "poll" if row.status == "awaiting_owner" else "publish"
                    if mode == "publish":
                        row.attempts += 1
                    row.status, row.lease_until, row.claim_token = "in_flight", lease_until, token
                    session.add(row)
                    claims.append(_Claim(row.id, token, mode, row.attempts))
                session.commit()
                return claims
            candidates = session.exec(
                select(SocialOutboxEntry.id, SocialOutboxEntry.status)
                .where(_due(now))
                .order_by(col(SocialOutboxEntry.next_attempt_at))
                .limit(self._settings.batch_size)
            ).all()
            claims = []
            for entry_id, status in candidates:
                mode = "poll" if status == "awaiting_owner" else "publish"
                result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                    update(SocialOutboxEntry)
                    .where(col(SocialOutboxEntry.id) == entry_id, col(SocialOutboxEntry.status) == status, _due(now))
                    .values(
                        status="in_flight",
                        lease_until=lease_until,
                        claim_token=token,
                        attempts=SocialOutboxEntry.attempts + (1 if mode == "publish" else 0),
                    )
                )
                if result.rowcount == 1:
                    claims.append(_Claim(entry_id, token, mode, 0))
            session.commit()
            if not claims:
                return []
            attempts = dict(
                session.exec(
                    select(SocialOutboxEntry.id, SocialOutboxEntry.attempts).where(
                        col(SocialOutboxEntry.id).in_([c.id for c in claims])
                    )
                ).all()
            )
            return [_Claim(c.id, c.token, c.mode, attempts.get(c.id, 0)) for c in claims]

    # -- delivering -------------------------------------------------------------------------

    def _deliver(self, claim: _Claim, report: RelayReport) -> None:
        with self._sessions() as session:
            entry = session.get(SocialOutboxEntry, claim.id)
            if entry is None or entry.claim_token != claim.token:
                report.lost += 1
                return
            consented = self._consent(session, entry)
        channel = self.channels.get(entry.channel)
        if channel is None:
            self._finish_dead(claim, entry, f"channel {entry.channel} is not configured on this server", report)
            return
        if not consented:
            self._finish_dead(claim, entry, "no consent of the owner on record for this channel", report)
            return
        if claim.mode == "publish" and claim.attempts > self._settings.max_attempts:
            # Only a relay that died mid-attempt gets here: the last claim's lease ran out.
            self._finish_dead(claim, entry, f"gave up after {claim.attempts - 1} attempts (relay lost mid-post)",
                              report)
            return
        if claim.mode == "publish":
            until = _video_expected_until(channel, entry.payload, self._clock.now())
            if until is not None:
                self._wait_for_video(claim, entry, until, report)
                return
        try:
            if claim.mode == "poll" and isinstance(channel, OwnerConfirmed) and entry.remote_id:
                result = channel.poll(entry.remote_id)
            else:
                post = post_from_payload(entry.payload)
                result = channel.publish(channel.format(post), dedup_key(entry.approval_id, entry.channel))
        except TransientError as exc:
            self._failed(claim, entry, exc.message, exc.retry_after_seconds, report)
        except (PermanentError, ValueError) as exc:
            self._finish_dead(claim, entry, str(exc), report)
        except Exception as exc:  # a bug in a channel must not stop the relay; the entry retries
            log.warning("social relay: %s to %s failed unexpectedly", entry.id, entry.channel, exc_info=True)
            self._failed(claim, entry, f"unexpected {type(exc).__name__}: {exc}", None, report)
        else:
            self._succeeded(claim, entry, result, report)

    def _succeeded(self, claim: _Claim, entry: SocialOutboxEntry, result: PublishResult, report: RelayReport) -> None:
        now = self._clock.now()
        values: dict[str, Any] = {"remote_id": result.remote_id or entry.remote_id,
                                  "remote_url": result.url or entry.remote_url, "lease_until": None,
                                  "claim_token": None, "last_error": None}
        if result.state == "pending_owner":
            deadline = entry.owner_deadline or now + timedelta(hours=self._settings.owner_confirm_hours)
            if now >= deadline:
                self._finish_dead(claim, entry, "the owner did not confirm the share on the phone in time", report)
                return
            values.update(status="awaiting_owner", owner_deadline=deadline,
                          next_attempt_at=now + timedelta(seconds=self._settings.owner_poll_seconds))
            outcome = "awaiting_owner"
        else:
            values.update(status="sent", sent_at=now)
            outcome = "duplicate" if result.duplicate else "sent"
        if not self._record(claim, values):
            report.lost += 1
            return
        if outcome == "awaiting_owner":
            report.awaiting_owner += 1
        else:
            report.sent += 1
        self._count(entry.channel, outcome, report, entry.id)

    def _wait_for_video(self, claim: _Claim, entry: SocialOutboxEntry, until: datetime, report: RelayReport) -> None:
        # Not an attempt: the claim's count is taken back, and the entry sleeps until the video's
        # deadline (the upload wakes it sooner; a look every owner_poll_seconds covers a race with it).
        recheck = self._clock.now() + timedelta(seconds=self._settings.owner_poll_seconds)
        values = {"status": "pending", "next_attempt_at": min(until, recheck), "lease_until": None,
                  "claim_token": None, "attempts": max(claim.attempts - 1, 0),
                  "last_error": f"waiting for the fridge's video until {until.isoformat()}"}
        if not self._record(claim, values):
            report.lost += 1
            return
        report.waiting_video += 1
        self._count(entry.channel, "waiting_video", report, entry.id)

    def _failed(
        self, claim: _Claim, entry: SocialOutboxEntry, reason: str, retry_after: float | None, report: RelayReport
    ) -> None:
        if claim.mode == "poll":
            # A failed poll is no failed post: ask again later, until the owner's deadline.
            values = {"status": "awaiting_owner", "lease_until": None, "claim_token": None, "last_error": reason[:1000],
                      "next_attempt_at": self._clock.now() + timedelta(
                          seconds=max(self._settings.owner_poll_seconds, retry_after or 0.0))}
            if self._record(claim, values):
                report.retried += 1
            return
        if claim.attempts >= self._settings.max_attempts:
            self._finish_dead(claim, entry, f"{reason} (after {claim.attempts} attempts)", report)
            return
        now = self._clock.now()
        when = next_attempt_at(now, claim.attempts, self._settings.backoff_base_seconds,
                               self._settings.backoff_cap_seconds, self._rng, retry_after)
        values = {"status": "pending", "next_attempt_at": when, "lease_until": None, "claim_token": None,
                  "last_error": reason[:1000]}
        if not self._record(claim, values):
            report.lost += 1
            return
        report.retried += 1
        self._count(entry.channel, "retry", report, entry.id)
        log.info("social post %s to %s failed (attempt %d), next at %s: %s", entry.id, entry.channel,
                 claim.attempts, when.isoformat(), reason)

    def _finish_dead(self, claim: _Claim, entry: SocialOutboxEntry, reason: str, report: RelayReport) -> None:
        now = self._clock.now()
        values = {"status": "dead", "dead_at": now, "lease_until": None, "claim_token": None,
                  "last_error": reason[:1000]}
        if not self._record(claim, values):
            report.lost += 1
            return
        report.dead += 1
        self._count(entry.channel, "dead", report, entry.id)
        if self._metrics is not None:
            self._metrics.social_dead_letters.labels(channel=entry.channel).inc()
        log.error("social post %s (approval %s) to %s dead-lettered: %s", entry.id, entry.approval_id, entry.channel,
                  reason)

    def _record(self, claim: _Claim, values: dict[str, Any]) -> bool:
        """Write the outcome if this claim still holds the entry; False if its lease was taken over."""
        with self._sessions() as session:
            result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(SocialOutboxEntry)
                .where(
                    col(SocialOutboxEntry.id) == claim.id,
                    col(SocialOutboxEntry.claim_token) == claim.token,
                    col(SocialOutboxEntry.status) == "in_flight",
                )
                .values(**values)
            )
            session.commit()
        if result.rowcount != 1:
            log.warning("social relay %s lost entry %s to another relay (lease expired)", self.relay_id, claim.id)
            return False
        return True

    def _count(self, channel: str, outcome: str, report: RelayReport, entry_id: str) -> None:
        report.outcomes.append((entry_id, outcome))
        if self._metrics is not None:
            self._metrics.social_posts.labels(channel=channel, outcome=outcome).inc()


def _video_expected_until(channel: Channel, payload: dict[str, Any], now: datetime) -> datetime | None:
    """Until when this post should wait for the fridge's video here; None to post now."""
    if not channel.limits.waits_for_video:
        return None
    post: PostContent = post_from_payload(payload)
    if post.video_until is None or any(m.kind.startswith("video") for m in post.media):
        return None
    try:
        until = datetime.fromisoformat(post.video_until)
    except ValueError:
        return None
    return until if now < until else None


class RelayWorker:
    """Runs `relay.run_once` every `interval_seconds` (wall clock) on a thread of its own."""

    def __init__(self, relay: SocialRelay, interval_seconds: float) -> None:
        self.relay = relay
        self._interval = interval_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="freshtap-social-relay", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                report = self.relay.run_once()
                while report.claimed >= self.relay.batch_size and not self._stopping.is_set():
                    report = self.relay.run_once()
            except Exception:
                log.exception("social relay pass failed")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


def build_social_relay(
    settings: Settings,
    sessions: Callable[[], Session],
    clock: Clock,
    metrics: Metrics | None = None,
    media: MediaStore | None = None,
) -> SocialRelay:
    """The relay over the channels `settings` configure (the local sink at least)."""
    store = media or NoMedia()
    channels = build_channels(settings, sessions, clock, store, channel_http_client(settings))
    return SocialRelay(sessions, clock, channels, settings.social_outbox, metrics, media=store)
