"""`freshtap demo` as a user runs it: embedded broker, server and fleet; offers, paid orders, reviews,
posts and referral orders appear."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx

from tests.stack import FRESHTAP, wait_until


def screen_state(url: str) -> str:
    return httpx.get(f"{url}/api/state", timeout=10).text


def test_demo_shows_offers_and_paid_orders_and_writes_its_summary(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FRESHTAP_")}
    env["FRESHTAP_DATA_DIR"] = str(tmp_path / "data")
    # Ports the demo should fall back from when taken are left at their defaults on purpose.
    summary = tmp_path / "summary.json"
    stderr_file = tmp_path / "stderr.txt"
    process = subprocess.Popen(
        # A simulated month: 26 real seconds at 100,000x.
        [FRESHTAP, "demo", "--fridges", "8", "--speed", "100000", "--duration", "26", "--summary", str(summary)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=stderr_file.open("w"),
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:  # the URLs come first; the kitchen fridge's door screen is live meanwhile
        lines.append(line)
        found = re.search(r"door screen\s+(http://127\.0\.0\.1:\d+)", line)
        if found:
            screen = found.group(1)
            assert httpx.get(screen, timeout=10).status_code == 200

            # The camera read the milk's label: the screen lists it.
            assert wait_until(lambda url=screen: "Whole milk 1 L" in screen_state(url), timeout=30)
            break
    else:
        raise AssertionError("no door screen URL printed:\n" + "".join(lines))
    rest = process.stdout.read()  # through the same buffer the loop read from
    process.wait(timeout=150)
    errors = stderr_file.read_text()
    done = subprocess.CompletedProcess(process.args, process.returncode, "".join(lines) + rest, errors)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    social = next((line for line in done.stdout.splitlines() if "social delivered" in line), done.stdout[-1500:])
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
    assert counts["review_drafts"] > 0, social
    assert counts["posts_published"] > 0, social
    assert counts["referral_orders"] > 0, social
    assert "needs an operator" not in done.stderr
    assert "Traceback" not in done.stderr
