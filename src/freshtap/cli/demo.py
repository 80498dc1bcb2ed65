"""`freshtap demo`: the embedded broker, the server and a simulated fleet on one machine.

A merchant with a few dairy and fresh-food offers is set up through the public HTTP API, N
fridges are provisioned, and the simulated households live on an accelerated clock: their
expiring food turns into offers on their door screens, and some of them buy with one tap. The
merchant's courier delivers; households approve some review drafts and skip others, and friends
buy through the approved posts' referral links (`freshtap.simulator.social`).
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from sqlmodel import Session, col, func, select

from freshtap.cli.demo_kitchen import KitchenFridge, start_kitchen_fridge
from freshtap.cli.server import port_or_free
from freshtap.clock import AcceleratedClock
from freshtap.server.runtime import ServerRuntime
from freshtap.server.services import accounts
from freshtap.server.store.models import AppliedMessage, Fridge, Order, Proposal
from freshtap.server.store.social_models import ReferralOrder, ReviewDraft, Reward
from freshtap.server.store.social_outbox_models import SocialOutboxEntry
from freshtap.settings import Settings
from freshtap.simulator import Fleet, SimFridge
from freshtap.simulator.catalog import CATALOG
from freshtap.simulator.social import SocialCircle

__all__ = ["demo", "summary_counts"]

console = Console(soft_wrap=True)


# The demo merchant's shelf prices (CNY, minor units) by category; the merchant's own choice.
_DEMO_PRICES = {
    "dairy": 1290,
    "eggs": 1890,
    "meat": 4590,
    "poultry": 3290,
    "seafood": 5990,
    "produce": 990,
    "fruit": 1590,
    "vegetables": 790,
    "deli": 2490,
    "bakery": 1190,
    "beverages": 890,
}


def _merchant_setup(runtime: ServerRuntime) -> str:
    """A merchant lists what the simulated fridges hold, with `expiring` offers, over HTTP; its API key."""
    made = accounts.create_merchant(runtime.services.sessions, runtime.clock, "Green Valley Grocers")
    headers = {"Authorization": f"Bearer {made.api_key}"}
    with httpx.Client(base_url=runtime.http_url, headers=headers, timeout=10) as api:
        for entry in CATALOG:
            product = api.post(
                "/api/v1/products",
                json={
                    "gtin": entry.gtin,
                    "name": entry.name,
                    "category": entry.category,
                    "price": {"amount_minor": _DEMO_PRICES.get(entry.category, 1500), "currency": "CNY"},
                },
            )
            product.raise_for_status()
            api.post(
                "/api/v1/offers",
                json={
                    "product_id": product.json()["id"],
                    "match": {"gtin": entry.gtin},
                    "trigger": {"kind": "expiring", "within_hours": 36},
                },
            ).raise_for_status()
    return made.api_key


def summary_counts(runtime: ServerRuntime) -> dict[str, int]:
    with Session(runtime.services.engine) as session:

        def count(query: Any) -> int:
            return int(session.exec(query).one())

        return {
            "messages_ingested": count(select(func.count()).select_from(AppliedMessage)),
            "offers": count(select(func.count()).select_from(Proposal)),
            "orders_paid": count(select(func.count()).select_from(Order).where(Order.status == "paid")),
            "orders_declined": count(select(func.count()).select_from(Order).where(Order.status == "declined")),
            "fridges_online": count(select(func.count()).select_from(Fridge).where(Fridge.online)),
            "review_drafts": count(select(func.count()).select_from(ReviewDraft)),
            "reviews_approved": count(
                select(func.count()).select_from(ReviewDraft).where(ReviewDraft.status == "approved")
            ),
            "posts_published": count(
                select(func.count()).select_from(SocialOutboxEntry).where(col(SocialOutboxEntry.sent_at).is_not(None))
            ),
            "referral_orders": count(
                select(func.count()).select_from(ReferralOrder).where(col(ReferralOrder.attributed))
            ),
            "rewards": count(select(func.count()).select_from(Reward)),
        }


def _status(runtime: ServerRuntime, fleet: Fleet, started: float, duration: float | None) -> Group:
    counts = summary_counts(runtime)
    table = Table(show_header=False, box=None)
    sim_now = runtime.clock.now().strftime("%a %d %b %H:%M")
    elapsed = time.monotonic() - started
    table.add_row(
        "simulated time", f"{sim_now} UTC  (x{runtime.clock.real_seconds(1) and 1 / runtime.clock.real_seconds(1):.0f})"
    )
    table.add_row("running", f"{elapsed:.0f} s" + (f" of {duration:.0f} s" if duration else "  (Ctrl-C to stop)"))
    table.add_row("fridges online", str(counts["fridges_online"]))
    table.add_row("messages ingested", str(counts["messages_ingested"]))
    table.add_row("offers proposed", str(counts["offers"]))
    table.add_row("orders paid / declined", f"{counts['orders_paid']} / {counts['orders_declined']}")
    stats = fleet.stats
    table.add_row("households' taps", f"{stats.accepts_ok} ok, {stats.accepts_failed} failed")
    table.add_row(
        "reviews drafted / approved",
        f"{counts['review_drafts']} / {counts['reviews_approved']}  (posts published {counts['posts_published']})",
    )
    table.add_row("referral orders / rewards", f"{counts['referral_orders']} / {counts['rewards']}")
    return Group(Panel(table, title="freshtap demo", border_style="green"))


def demo(
    fridges: Annotated[int, typer.Option(min=1, max=2000, help="How many simulated fridges.")] = 5,
    speed: Annotated[float, typer.Option(min=1, max=100_000, help="Simulated seconds per real second.")] = 600,
    duration: Annotated[float | None, typer.Option(min=1, help="Stop after this many real seconds.")] = None,
    summary: Annotated[Path | None, typer.Option(help="Write a JSON object of counts here at the end.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the simulated households.")] = 7,
    screen_port: Annotated[int, typer.Option(help="The kitchen fridge's door screen (a free port if taken).")] = 8180,
) -> None:
    """Run everything on one machine and print the URLs to open."""
    base = Settings()
    updates: dict[str, Any] = {
        "http_port": port_or_free(base.http_host, base.http_port),
        "clock_speed": speed,
        "offers": base.offers.model_copy(update={"scheduler_tick_seconds": 300}),
        # A delivered order is reviewed after ~2 simulated hours (not days), so a short demo shows reviews.
        "reviews": base.reviews.model_copy(update={"draft_after_delivered_days": 0.08}),
    }
    if base.mqtt_url is None:
        updates["embedded_mqtt_port"] = port_or_free(base.embedded_mqtt_host, base.embedded_mqtt_port)
    if base.database_url is None:
        demo_db = base.data_dir / "demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{demo_db}{suffix}").unlink(missing_ok=True)
        updates["database_url"] = f"sqlite:///{demo_db}"
    settings = base.model_copy(update=updates)
    clock = AcceleratedClock(speed)
    runtime = ServerRuntime(settings, clock)
    console.print("[bold]freshtap demo[/] starting: embedded broker, server, simulated fleet ...")
    runtime.start()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fleet: Fleet | None = None
    circle: SocialCircle | None = None
    kitchen: KitchenFridge | None = None
    try:
        merchant_key = _merchant_setup(runtime)
        sims: list[SimFridge] = []
        for index in range(fridges):
            method = "pm_sandbox_declined" if index % 10 == 9 else "pm_sandbox_ok"
            made = accounts.provision_fridge(
                runtime.services.sessions, clock, household_name=f"household {index + 1}", payment_method=method
            )
            sims.append(SimFridge(made.fridge_id, made.username, made.password))
        sim_state = settings.data_dir / "demo-fleet"
        shutil.rmtree(sim_state, ignore_errors=True)  # this run's fridges are new: fresh seq files
        kitchen = start_kitchen_fridge(
            runtime, clock, settings.data_dir / "demo-kitchen", port_or_free("127.0.0.1", screen_port)
        )
        console.print(f"  door screen   {kitchen.screen_url}   (the kitchen fridge: emulated hardware, real device)")
        console.print(f"  console       {runtime.http_url}/console   (merchant API key: {merchant_key})")
        console.print(f"  social feed   {runtime.http_url}/feed")
        console.print(f"  HTTP API      {runtime.http_url}/docs   (OpenAPI: {runtime.http_url}/openapi.json)")
        console.print(f"  metrics       {runtime.http_url}/metrics")
        console.print(f"  MQTT broker   {runtime.mqtt_url}")
        first = sims[0]
        console.print(f"  fridge 1      {runtime.http_url}/api/v1/fridges/{first.fridge_id}/offers")
        console.print(f"                (Authorization: Bearer {first.password})")
        fleet = Fleet(sims, runtime.mqtt_url, runtime.http_url, clock, seed=seed, state_dir=sim_state)
        fleet.start()
        circle = SocialCircle(runtime.http_url, merchant_key, sims, seed=seed)
        circle.start()
        started = time.monotonic()
        with Live(_status(runtime, fleet, started, duration), console=console, refresh_per_second=2) as live:
            while not stop.wait(0.5):
                live.update(_status(runtime, fleet, started, duration))
                if duration is not None and time.monotonic() - started >= duration:
                    break
    finally:
        if circle is not None:
            circle.stop()
            social = circle.stats
            console.print(
                f"[bold]social[/] delivered {social.delivered}, reviews approved {social.approved}, "
                f"skipped {social.skipped}, link clicks {social.clicks}, referral orders {social.referral_orders}"
            )
        if fleet is not None:
            fleet.stop()
        if kitchen is not None:
            kitchen.stop()
        counts = summary_counts(runtime)
        runtime.stop()
    console.print("[bold]summary[/] " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if summary is not None:
        summary.parent.mkdir(parents=True, exist_ok=True)
        keys = ("messages_ingested", "offers", "orders_paid", "review_drafts", "posts_published", "referral_orders")
        summary.write_text(json.dumps({k: counts[k] for k in keys}, indent=2) + "\n")
