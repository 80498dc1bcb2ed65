"""The social side of a simulated month: a courier that delivers, households that review and friends who buy.

`SocialCircle` drives the server only through its public HTTP API, on a thread:

- the merchant's courier marks every paid order `delivered` (`POST /api/v1/orders/{id}/shipments`);
- each household looks at its review drafts and approves some (in its language, to the local feed,
  consenting to exactly the preview the API gave) and skips the others;
- a friend (another simulated household) follows some approved links (`GET /r/{code}`) and buys
  through them (`POST /api/v1/referrals/{code}/orders`).

Every choice comes from a `random.Random` seeded by the circle's seed and the household's
position, drawn in the order the server lists drafts, so the same seed makes the same choices for
the same drafts; except that the circle's first draft is always approved and its first approved
link always followed, so that even a short run shows the whole social path.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from .virtual_fridge import SimFridge

__all__ = ["SocialCircle", "SocialStats"]

log = logging.getLogger(__name__)


@dataclass
class SocialStats:
    delivered: int = 0
    approved: int = 0
    skipped: int = 0
    clicks: int = 0
    referral_orders: int = 0
    failures: int = 0


class SocialCircle:
    """Constructed idle; `start()` begins the rounds, `stop()` ends them."""

    def __init__(
        self,
        http_url: str,
        merchant_key: str,
        households: Sequence[SimFridge],
        *,
        seed: int = 7,
        approve_share: float = 0.6,
        click_share: float = 0.7,
        interval_seconds: float = 0.5,
    ) -> None:
        self._url = http_url
        self._merchant_key = merchant_key
        self._households = list(households)
        self._rngs = [random.Random(seed * 10_007 + index) for index in range(len(households))]
        self._approve_share = approve_share
        self._click_share = click_share
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._decided: set[str] = set()
        self._followed: set[str] = set()
        self.stats = SocialStats()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sim-social", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=10) as http:
            while not self._stop.wait(self._interval):
                try:
                    self.round(http)
                except httpx.HTTPError as exc:
                    self.stats.failures += 1
                    log.warning("social round failed: %s", exc)

    def round(self, http: httpx.Client) -> None:
        """One pass: deliver, decide drafts, follow links."""
        self._deliver(http)
        links: list[tuple[int, str]] = []
        for index, home in enumerate(self._households):
            links.extend((index, code) for code in self._decide(http, index, home))
        for index, code in links:
            self._follow(http, index, code)

    def _deliver(self, http: httpx.Client) -> None:
        merchant = {"Authorization": f"Bearer {self._merchant_key}"}
        page = http.get("/api/v1/orders", params={"status": "paid", "limit": 100}, headers=merchant)
        if page.status_code != 200:
            return
        for order in page.json()["items"]:
            shipped = http.post(
                f"/api/v1/orders/{order['order_id']}/shipments",
                headers=merchant,
                json={
                    "carrier": "SF Express",
                    "tracking_number": f"SF{order['order_id'][-10:]}",
                    "status": "delivered",
                    "event_id": f"delivered-{order['order_id']}",
                },
            )
            if shipped.status_code == 201:
                self.stats.delivered += 1

    def _decide(self, http: httpx.Client, index: int, home: SimFridge) -> list[str]:
        auth = {"Authorization": f"Bearer {home.password}"}
        listed = http.get("/api/v1/households/me/review-drafts", params={"status": "draft"}, headers=auth)
        if listed.status_code != 200:
            return []
        codes = []
        for summary in sorted(listed.json(), key=lambda d: (d["created_at"], d["order_id"])):
            draft_id = summary["draft_id"]
            if draft_id in self._decided:
                continue
            self._decided.add(draft_id)
            rng = self._rngs[index]
            first = self.stats.approved == 0
            if rng.random() >= self._approve_share and not first:
                if http.post(f"/api/v1/review-drafts/{draft_id}/skip", headers=auth).status_code == 200:
                    self.stats.skipped += 1
                continue
            detail = http.get(f"/api/v1/review-drafts/{draft_id}", headers=auth).json()
            language = "zh" if index % 2 == 0 else "en"
            approved = http.post(
                f"/api/v1/review-drafts/{draft_id}/approve",
                headers=auth,
                json={"channels": ["local"], "language": language, "shown_text": detail["preview"][language]},
            )
            if approved.status_code == 200:
                self.stats.approved += 1
                url = approved.json()["draft"]["referral_url"]
                codes.append(url.rsplit("/", 1)[1])
        return codes

    def _follow(self, http: httpx.Client, referrer: int, code: str) -> None:
        if code in self._followed or len(self._households) < 2:
            return
        self._followed.add(code)
        rng = self._rngs[referrer]
        if rng.random() >= self._click_share and self.stats.clicks > 0:
            return
        friend = (referrer + 1 + rng.randrange(len(self._households) - 1)) % len(self._households)
        if http.get(f"/r/{code}").status_code == 200:
            self.stats.clicks += 1
        home = self._households[friend]
        bought = http.post(
            f"/api/v1/referrals/{code}/orders",
            headers={"Authorization": f"Bearer {home.password}", "Idempotency-Key": f"referral-{code}"},
        )
        if bought.status_code == 201:
            self.stats.referral_orders += 1
        elif bought.status_code in (409, 429) or bought.status_code >= 500:
            self._followed.discard(code)  # a race with the scheduler, a limit, an outage: try again next round
