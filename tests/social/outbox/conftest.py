"""The outbox lane: a migrated database (SQLite file, and PostgreSQL), a manual clock, fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from freshtap.clock import ManualClock
from freshtap.server.domain.social_posts import PostContent
from freshtap.server.services.social_outbox import enqueue_post
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from tests.social.fakes.base import running
from tests.social.fakes.mastodon import FakeMastodon


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'outbox.db'}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = create_db_engine(database_url)
    migrate(made)
    yield made
    made.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Callable[[], Session]:
    return session_factory(engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    yield from running(FakeMastodon())  # type: ignore[misc]


def post(approval_id: str, channel: str = "mastodon", text: str = "The milk stayed fresh for 9 days.") -> PostContent:
    return PostContent(
        approval_id=approval_id,
        household_id="hh_test",
        channel=channel,
        language="en",
        text=text,
        referral_url=f"https://freshtap.example/r/{approval_id}",
        incentive=True,
        jurisdiction="US",
    )


def enqueue(sessions: Callable[[], Session], clock: ManualClock, *posts: PostContent) -> list[str]:
    with sessions() as session:
        ids = [enqueue_post(session, p, clock.now()) for p in posts]
        session.commit()
    return ids
