"""No payment card data is stored anywhere: only provider tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

import freshtap.server.store.models_registry  # noqa: F401  (every table)
from freshtap.server.domain.errors import InvalidRequest
from freshtap.server.payments.customers import looks_like_card_number, set_customer, validate_token
from tests.payments.conftest import pay_stack, payment_settings
from tests.payments.fake_stripe import AUTH_REQUIRED, FakeStripe


@pytest.mark.parametrize(
    "text", ["4242424242424242", "4242 4242 4242 4242", "card 5555-5555-5555-4444 exp", "pm_4000056655665556"]
)
def test_card_numbers_are_recognised(text: str) -> None:
    assert looks_like_card_number(text)
    with pytest.raises(InvalidRequest):
        validate_token(text)


@pytest.mark.parametrize(
    "token", ["pm_card_visa", "cus_NffrFeUfNV2Hib", "pm_sandbox_ok", "pm_1Q0PsIJvEtkwdCNYMSaVuRz6"]
)
def test_tokens_are_accepted(token: str) -> None:
    assert not looks_like_card_number(token) and validate_token(token) == token


def test_after_every_flow_the_database_holds_no_card_number(sqlite_url: str, stripe_fake: FakeStripe) -> None:
    settings = payment_settings("stripe", stripe_api_base=stripe_fake.url, stripe_capture="automatic")
    with pay_stack(sqlite_url, settings, stripe=stripe_fake) as stack:
        home, sca = stack.household(), stack.household(AUTH_REQUIRED)
        paid = stack.tap(home, stack.proposal(home), "a").json()
        stack.client.post(f"/api/v1/orders/{paid['order_id']}/cancel", headers=stack.as_(home.password))
        waiting = stack.tap(sca, stack.proposal(sca), "b").json()
        stripe_fake.authenticate(waiting["payment"]["reference"])
        with pytest.raises(InvalidRequest):
            set_customer(stack.services.sessions, stack.clock, home.household_id, "stripe", "4242424242424242")
        stored: list[str] = []
        with stack.services.engine.connect() as connection:
            for table in SQLModel.metadata.sorted_tables:
                for row in connection.execute(select(table)):
                    stored.extend(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row if v)
        assert sum(1 for s in stored if s.startswith(("pm_", "cus_", "pi_"))) >= 6  # the tokens are there
        assert [s for s in stored if looks_like_card_number(s)] == []


def test_the_admin_cli_refuses_card_numbers_and_records_the_stripe_customer(tmp_path: object) -> None:
    from sqlmodel import select as select_rows
    from typer.testing import CliRunner

    from freshtap.cli import app
    from freshtap.server.store.db import create_db_engine, session_factory
    from freshtap.server.store.payments_models import PaymentCustomer

    env = {"FRESHTAP_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    base = ["admin", "provision-fridge", "--household", "Lin", "--json"]
    refused = runner.invoke(app, [*base, "--payment-method", "4242 4242 4242 4242"], env=env)
    assert refused.exit_code != 0
    made = runner.invoke(app, [*base, "--payment-method", "pm_card_visa", "--stripe-customer", "cus_Lin1"], env=env)
    assert made.exit_code == 0, made.output
    engine = create_db_engine(f"sqlite:///{tmp_path}/freshtap.db")
    with session_factory(engine)() as session:
        (customer,) = session.exec(select_rows(PaymentCustomer)).all()
    engine.dispose()
    assert (customer.provider, customer.customer) == ("stripe", "cus_Lin1")
