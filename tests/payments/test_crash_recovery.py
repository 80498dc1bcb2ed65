"""A crash between the provider's charge and the database commit, 100 times over: after recovery,
exactly one charge and one order each time — on the sandbox and on Stripe (the local fake).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlmodel import select

from freshtap.server.payments.sandbox import SandboxProvider
from freshtap.server.security.credentials import FridgeCaller
from freshtap.server.services.settlement import order_key
from freshtap.server.store.db import create_db_engine, migrate, session_factory
from freshtap.server.store.models import Order
from tests.payments.conftest import (
    CrashAfterCharge,
    PayStack,
    SimulatedCrash,
    pay_stack,
    payment_settings,
    start_clock,
    stripe_provider,
)
from tests.payments.fake_stripe import FakeStripe

ROUNDS = 100


def _crash_rounds(stack: PayStack, crashing: CrashAfterCharge, charges_of: Callable[[str], int]) -> None:
    home = stack.household()
    orders = stack.services.orders
    caller = FridgeCaller(home.fridge_id, home.household_id)
    template = stack.proposal(home)  # made by the real ingest; the rounds buy copies of it
    for n in range(ROUNDS):
        proposal = stack.proposal_like(template)
        key = f"tap-{n}"
        crashing.armed = True
        with pytest.raises(SimulatedCrash):
            orders.accept(caller, proposal, key)
        # The process is gone: the tap was recorded and the charge made, but its result was lost.
        (order,) = stack.orders_for(proposal)
        assert order.status == "pending" and charges_of(order.id) == 1
        # The door screen retries the tap: the same order, no new charge.
        crashing.armed = False
        assert orders.accept(caller, proposal, key).order.id == order.id
        assert charges_of(order.id) == 1
        # The recovery job, after the restart.
        stack.clock.advance(timedelta(minutes=3))
        assert orders.reconcile_pending(stack.clock.now() - timedelta(minutes=2)) >= 1
        (recovered,) = stack.orders_for(proposal)
        assert recovered.status == "paid", (n, recovered.status)
        assert recovered.payment_reference is not None and charges_of(order.id) == 1
    with stack.services.sessions() as session:
        everything = session.exec(select(Order)).all()
    assert len(everything) == ROUNDS and {o.status for o in everything} == {"paid"}


def test_crash_after_a_sandbox_charge_heals_with_one_charge_and_one_order(database_url: str) -> None:
    clock = start_clock()
    engine = create_db_engine(database_url)
    migrate(engine)
    crashing = CrashAfterCharge(SandboxProvider(session_factory(engine), clock))
    try:
        with pay_stack(database_url, payments=crashing, clock=clock) as stack:
            _crash_rounds(stack, crashing, lambda order_id: stack.sandbox_charges(order_key("charge", order_id)))
            assert stack.sandbox_charges() == ROUNDS
    finally:
        engine.dispose()


def test_crash_after_a_stripe_charge_heals_with_one_charge_and_one_order(
    sqlite_url: str, stripe_fake: FakeStripe
) -> None:
    # The database side of recovery is the same as the sandbox's, which runs on both databases.
    crashing = CrashAfterCharge(stripe_provider(stripe_fake, capture="automatic"))
    settings = payment_settings("stripe", stripe_api_base=stripe_fake.url)
    with pay_stack(sqlite_url, settings, payments=crashing, stripe=stripe_fake) as stack:
        _crash_rounds(stack, crashing, lambda order_id: len(stripe_fake.intents_for(order_id)))
        assert len(stripe_fake.intents) == ROUNDS == stripe_fake.charges_taken()
