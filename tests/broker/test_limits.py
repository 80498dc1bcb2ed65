"""The arithmetic of the broker limits (server/broker/limits.py), with time passed in."""

from __future__ import annotations

import pytest

from freshtap.server.broker.limits import BanList, PublishQuota, WindowCounter


def test_a_burst_passes_then_the_rate_holds() -> None:
    quota = PublishQuota(rate=10.0, burst=5, now=0.0)
    assert [quota.reserve(0.0) for _ in range(5)] == [0.0] * 5
    assert quota.reserve(0.0) == pytest.approx(0.1)  # the 6th waits one token's time
    assert quota.admit(0.0) is False
    assert quota.admit(0.25) is True  # refilled meanwhile


def test_a_flooder_stays_over_quota_even_when_a_token_trickles_in() -> None:
    quota = PublishQuota(rate=20.0, burst=10, now=0.0)
    now, admitted = 0.0, 0
    while now < 3.0:  # 300 messages/s against 20/s
        admitted += quota.admit(now)
        now += 1 / 300
    assert quota.flooding_for(now) >= 2.5
    assert admitted <= 10 + 20 * 3 + 1


def test_a_client_back_under_its_rate_is_not_flooding() -> None:
    quota = PublishQuota(rate=20.0, burst=10, now=0.0)
    for _ in range(30):
        quota.reserve(0.0)
    assert quota.flooding_for(0.5) > 0
    now = 2.0
    for _ in range(20):  # 10/s: the bucket fills up again
        quota.reserve(now)
        now += 0.1
    assert quota.flooding_for(now) == 0.0
    assert quota.idle(now)


def test_windows_and_bans() -> None:
    window = WindowCounter(window=60.0, limit=3)
    assert [window.hit("a", t) for t in (0, 1, 2, 3)] == [False, False, False, True]
    assert window.hit("a", 62.5) is False  # the first three left the window
    window.forget_idle(200.0)
    assert len(window) == 0
    bans = BanList()
    bans.ban("a", now=0.0, seconds=10.0)
    assert bans.banned("a", 9.9) and not bans.banned("a", 10.0)
    bans.ban("b", now=0.0, seconds=10.0)
    assert bans.expired(11.0) == ["b"] and len(bans) == 0
    with pytest.raises(ValueError):
        PublishQuota(rate=0.0, burst=1, now=0.0)
