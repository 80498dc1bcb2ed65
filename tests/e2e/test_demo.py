"""`freshtap demo` as a user runs it: embedded broker, server and fleet; offers, paid orders, reviews,
posts and referral orders appear."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.stack import FRESHTAP


def test_demo_shows_offers_and_paid_orders_and_writes_its_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHTAP_")}
    env["FRESHTAP_DATA_DIR"] = str(tmp_path / "data")
    # Ports the demo should fall back from when taken are left at their defaults on purpose.
    summary = tmp_path / "summary.json"
    done = subprocess.run(
        [FRESHTAP, "demo", "--fridges", "4", "--speed", "1200", "--duration", "12", "--summary", str(summary)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "http://127.0.0.1:" in done.stdout and "mqtt://127.0.0.1:" in done.stdout
    counts = json.loads(summary.read_text())
    assert set(counts) == {
        "messages_ingested",
        "offers",
        "orders_paid",
        "review_drafts",
        "posts_published",
        "referral_orders",
    }
    assert counts["messages_ingested"] > 4
    assert counts["offers"] > 0
    assert counts["orders_paid"] > 0
    # The simulated month's social side: drafts from delivered orders, approved posts published,
    # and friends' orders through the referral links.
    assert counts["review_drafts"] > 0
    assert counts["posts_published"] > 0
    assert counts["referral_orders"] > 0
    assert "Traceback" not in done.stderr
