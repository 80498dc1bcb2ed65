"""The real device agent against the real server: state with a last will, snapshots, offers back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from freshtap.clock import SystemClock
from freshtap.contract import InventoryItem
from freshtap.device.agent import AgentConfig, FridgeAgent
from freshtap.server.services import accounts
from freshtap.server.store.models import Fridge
from tests.stack import Stack, make_stack, wait_until

MILK = "09506000134352"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with make_stack("amqtt+sqlite", tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}") as made:
        made.start()
        yield made


def test_the_agent_goes_online_publishes_and_buys_what_it_is_offered(stack: Stack, tmp_path: Path) -> None:
    assert stack.runtime is not None
    services = stack.runtime.services
    merchant = accounts.create_merchant(services.sessions, services.clock, "Dairy")
    fridge = accounts.provision_fridge(
        services.sessions, services.clock, household_name="Lin", payment_method="pm_sandbox_ok"
    )
    stack.expiring_offer(merchant.api_key, MILK, price_minor=990)

    agent = FridgeAgent(
        AgentConfig(fridge_id=fridge.fridge_id, username=fridge.username, password=fridge.password,
                    mqtt_url=stack.runtime.mqtt_url, state_dir=tmp_path / "agent"),
        SystemClock(),
    )
    agent.start()
    try:
        assert agent.wait_online(10)
        now = datetime.now(UTC).replace(microsecond=0)
        agent.add_item(InventoryItem(item_id="milk-1", gtin=MILK, name="Whole milk 1 L", category="dairy",
                                     added_at=now - timedelta(days=4), label_expiry=(now + timedelta(hours=20)).date(),
                                     expiry_kind="expiry", fill=0.3))
        assert agent.publish_inventory().wait(10)
        offers = agent.wait_for_offers(lambda offers: len(offers) == 1, timeout=10)
        assert offers[0].item_id == "milk-1" and offers[0].price.amount_minor == 990

        def online() -> bool:
            with Session(services.engine) as session:
                row = session.get(Fridge, fridge.fridge_id)
                return bool(row and row.online and row.agent and row.agent.startswith("freshtap"))

        wait_until(online)
        order = httpx.post(f"{stack.http}/api/v1/proposals/{offers[0].proposal_id}/accept",
                           headers={"Authorization": f"Bearer {fridge.password}", "Idempotency-Key": str(uuid.uuid4())})
        assert order.json()["status"] == "paid"
        agent.wait_for_offers(lambda offers: len(offers) == 0, timeout=10)
    finally:
        agent.stop()

    def offline() -> bool:
        with Session(services.engine) as session:
            row = session.get(Fridge, fridge.fridge_id)
            return bool(row and not row.online)

    wait_until(offline)
