"""Acceptance (issue 6): the outbox relay against a fake channel that fails, a relay that dies, and
two relays at once. Every approved post lands exactly once, none before its Retry-After, none
without consent; after N attempts the entry is dead-lettered with an alert. SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from freshtap.clock import ManualClock
from freshtap.server.metrics import Metrics
from freshtap.server.services.social_relay import SocialRelay, review_consent_given
from freshtap.server.social.channels.base import Channel, FormattedPost, PublishResult
from freshtap.server.social.channels.mastodon import MastodonChannel
from freshtap.server.social.media import InMemoryMediaStore
from freshtap.server.store.db import create_db_engine, session_factory
from freshtap.server.store.social_outbox_models import SocialOutboxEntry
from freshtap.settings import SocialOutboxSettings
from tests.social.fakes.base import Fault
from tests.social.fakes.mastodon import FakeMastodon
from tests.social.outbox.conftest import enqueue, post

SETTINGS = SocialOutboxSettings(max_attempts=5, backoff_base_seconds=10, backoff_cap_seconds=300, lease_seconds=60)


def consented(session: Session, entry: SocialOutboxEntry) -> bool:
    """The owner consented to every approval here but those named `no-consent-*`."""
    return not entry.approval_id.startswith("no-consent")


def make_relay(
    sessions: Callable[[], Session],
    clock: ManualClock,
    fake: FakeMastodon,
    metrics: Metrics | None = None,
    wrap: Callable[[Channel], Channel] | None = None,
    settings: SocialOutboxSettings = SETTINGS,
    relay_id: str | None = None,
) -> SocialRelay:
    channel: Channel = MastodonChannel(fake.url, fake.token, httpx.Client(timeout=2.0), InMemoryMediaStore())
    return SocialRelay(sessions, clock, {"mastodon": wrap(channel) if wrap else channel}, settings, metrics,
                       rng=random.Random(7), consent=consented, relay_id=relay_id)


def entry(sessions: Callable[[], Session], entry_id: str) -> SocialOutboxEntry:
    with sessions() as session:
        found = session.get(SocialOutboxEntry, entry_id)
        assert found is not None
        return found


def test_500_500_429_then_200_posts_once_and_not_before_retry_after(
    sessions: Callable[[], Session], clock: ManualClock, mastodon: FakeMastodon
) -> None:
    [entry_id] = enqueue(sessions, clock, post("apr-1"))
    mastodon.fail_next("/api/v1/statuses", Fault(500), Fault(500), Fault(429, retry_after="30"))
    relay = make_relay(sessions, clock, mastodon)
    posts = lambda: len(mastodon.requests_to("/api/v1/statuses"))  # noqa: E731

    for expected_attempt in (1, 2):
        assert relay.run_once().retried == 1
        row = entry(sessions, entry_id)
        assert (row.status, row.attempts, posts()) == ("pending", expected_attempt, expected_attempt)
        assert relay.run_once().claimed == 0 or row.next_attempt_at <= clock.now()  # not due yet: nothing sent
        clock.set(row.next_attempt_at)

    assert relay.run_once().retried == 1  # the 429
    limited_at = clock.now()
    row = entry(sessions, entry_id)
    assert row.next_attempt_at >= limited_at + timedelta(seconds=30)
    assert "429" in (row.last_error or "")
    clock.set(limited_at + timedelta(seconds=29.9))
    assert relay.run_once().claimed == 0
    assert posts() == 3  # nothing went out before Retry-After
    clock.set(row.next_attempt_at)
    report = relay.run_once()
    assert report.sent == 1
    row = entry(sessions, entry_id)
    assert (row.status, row.attempts, row.remote_id) == ("sent", 4, next(iter(mastodon.statuses)))
    assert len(mastodon.statuses) == 1 and mastodon.duplicates == 0
    clock.advance(timedelta(days=1))
    assert relay.run_once().claimed == 0  # sent is final


class RelayKilled(BaseException):
    """Stands for the relay's process dying: not an error anything catches."""


def test_relay_killed_between_post_and_commit_is_finished_by_another_after_the_lease(
    database_url: str, sessions: Callable[[], Session], clock: ManualClock, mastodon: FakeMastodon
) -> None:
    ids = enqueue(sessions, clock, post("apr-a"), post("apr-b"), post("apr-c"))
    published: list[str] = []

    class DiesAfterSecondPost:
        def __init__(self, inner: Channel) -> None:
            self.inner, self.name, self.limits = inner, inner.name, inner.limits

        def format(self, content):  # type: ignore[no-untyped-def]
            return self.inner.format(content)

        def publish(self, formatted: FormattedPost, dedup_key: str) -> PublishResult:
            result = self.inner.publish(formatted, dedup_key)
            published.append(dedup_key)
            if len(published) == 2:
                raise RelayKilled  # the post reached Mastodon; the relay never records it
            return result

    first = make_relay(sessions, clock, mastodon, wrap=DiesAfterSecondPost, relay_id="first")
    with pytest.raises(RelayKilled):
        first.run_once()
    statuses = [entry(sessions, i).status for i in ids]
    assert statuses.count("sent") == 1 and statuses.count("in_flight") == 2

    other_engine = create_db_engine(database_url)  # a second worker: its own engine and connections
    try:
        second = make_relay(session_factory(other_engine), clock, mastodon, relay_id="second")
        assert second.run_once().claimed == 0  # the dead relay's lease still holds
        clock.advance(timedelta(seconds=SETTINGS.lease_seconds))
        report = second.run_once()
        assert report.sent == 2
    finally:
        other_engine.dispose()
    assert [entry(sessions, i).status for i in ids] == ["sent"] * 3
    assert len(mastodon.statuses) == 3  # the re-sent post was recognised by its Idempotency-Key
    assert mastodon.duplicates == 1
    assert len(set(mastodon.by_key)) == 3


def test_two_relays_at_once_post_each_approval_exactly_once(
    database_url: str, engine: Engine, sessions: Callable[[], Session], clock: ManualClock, mastodon: FakeMastodon
) -> None:
    approvals = [f"apr-{n:02d}" for n in range(24)] + ["no-consent-1"]
    enqueue(sessions, clock, *(post(a) for a in approvals))
    mastodon.fail_next("/api/v1/statuses", Fault(500), Fault(429, retry_after="5"), Fault(503))
    engines = [create_db_engine(database_url) for _ in range(2)]
    settings = SETTINGS.model_copy(update={"batch_size": 4})
    relays = [make_relay(session_factory(e), clock, mastodon, settings=settings, relay_id=f"r{i}")
              for i, e in enumerate(engines)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(relay: SocialRelay) -> None:
        try:
            start.wait()
            for _ in range(40):
                relay.run_once()
        except BaseException as exc:
            errors.append(exc)

    try:
        for _ in range(3):  # rounds: each lets both relays drain what is due, then time moves on
            threads = [threading.Thread(target=work, args=(r,)) for r in relays]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            clock.advance(timedelta(seconds=settings.backoff_cap_seconds))
    finally:
        for e in engines:
            e.dispose()
    assert errors == []
    with sessions() as session:
        rows = session.exec(select(SocialOutboxEntry)).all()
    by_approval = {r.approval_id: r for r in rows}
    assert all(by_approval[a].status == "sent" for a in approvals[:-1])
    assert by_approval["no-consent-1"].status == "dead"
    assert "consent" in (by_approval["no-consent-1"].last_error or "")
    landed = sorted(key.split(":")[0] for key in mastodon.by_key)
    assert landed == sorted(approvals[:-1])  # each once, and nothing without consent
    assert len(mastodon.statuses) == 24
    assert mastodon.duplicates == 0  # no entry was ever claimed by both relays


def test_dead_letter_after_n_attempts_with_alert(
    sessions: Callable[[], Session], clock: ManualClock, mastodon: FakeMastodon, caplog: pytest.LogCaptureFixture
) -> None:
    [entry_id] = enqueue(sessions, clock, post("apr-doomed"))
    mastodon.fail_next("/api/v1/statuses", *[Fault(502)] * 10)
    metrics = Metrics()
    relay = make_relay(sessions, clock, mastodon, metrics=metrics)
    for _ in range(SETTINGS.max_attempts):
        relay.run_once()
        clock.set(entry(sessions, entry_id).next_attempt_at)
    row = entry(sessions, entry_id)
    assert (row.status, row.attempts) == ("dead", SETTINGS.max_attempts)
    assert "502" in (row.last_error or "") and "after 5 attempts" in (row.last_error or "")
    assert len(mastodon.requests_to("/api/v1/statuses")) == SETTINGS.max_attempts
    assert metrics.social_dead_letters.labels(channel="mastodon")._value.get() == 1
    assert any("dead-lettered" in r.getMessage() for r in caplog.records)
    clock.advance(timedelta(days=30))
    assert relay.run_once().claimed == 0  # dead stays dead


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_refusal_is_dead_at_once_and_no_consent_row_means_no_post(
    sessions: Callable[[], Session], clock: ManualClock, mastodon: FakeMastodon
) -> None:
    [refused] = enqueue(sessions, clock, post("apr-refused"))
    mastodon.fail_next("/api/v1/statuses", Fault(422, body={"error": "Validation failed: Text character limit"}))
    relay = make_relay(sessions, clock, mastodon)
    assert relay.run_once().dead == 1
    assert entry(sessions, refused).attempts == 1

    [unconsented] = enqueue(sessions, clock, post("apr-never-consented"))
    strict = SocialRelay(sessions, clock, relay.channels, SETTINGS, consent=review_consent_given)
    assert strict.run_once().dead == 1
    assert entry(sessions, unconsented).status == "dead"
    assert len(mastodon.requests_to("/api/v1/statuses")) == 1  # only the refused one was ever sent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_enqueue_is_idempotent_per_approval_and_channel(sessions: Callable[[], Session], clock: ManualClock) -> None:
    first = enqueue(sessions, clock, post("apr-x"), post("apr-x", channel="local"))
    again = enqueue(sessions, clock, post("apr-x"), post("apr-x"))
    assert again == [first[0], first[0]]
    with sessions() as session:
        assert len(session.exec(select(SocialOutboxEntry)).all()) == 2
