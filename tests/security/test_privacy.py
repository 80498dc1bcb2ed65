"""Privacy end to end: a household exports all its data and deletes it; afterwards no row of any
table names it or its fridges, but for its orders kept anonymised as the law requires. Also the
registry that makes every new table declare how it relates to a household, and retention."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Column, ForeignKey, MetaData, String, Table, func, select
from sqlmodel import SQLModel

import freshtap.server.store.models_registry  # noqa: F401  (every table in the metadata)
from freshtap.contract import Channel, topic
from freshtap.server.services.privacy import (
    NO_HOUSEHOLD_DATA,
    HouseholdScope,
    UndeclaredTables,
    household_rows,
)
from freshtap.server.services.retention import prune_expired
from freshtap.server.store.models import Credential, Order, Rejection, TelemetryReading
from freshtap.server.store.security_models import RetainedOrder
from tests.security.world import World
from tests.server.conftest import Api

RETAINS_ORDER_IDS = {"retained_order", "sandboxcharge", "sandbox_action", "sandbox_refund"}
"""Tables where a deleted household's order ids may stay: the anonymised orders, and the payment
provider's own ledger (the sandbox's here; Stripe's in production)."""


def _household_values(api: Api, household_id: str) -> tuple[set[str], set[str]]:
    """(values that identify the household, its order ids), read before deletion."""
    with api.services.sessions() as session:
        scope = _scope(session, household_id)
        keys = session.scalars(
            select(Credential.key_id).where(Credential.kind == "fridge", Credential.subject_id.in_(scope.fridge_ids))  # type: ignore[attr-defined]
        ).all()
    return {household_id, *scope.fridge_ids, *scope.proposal_ids, *keys}, set(scope.order_ids)


def _scope(session: Any, household_id: str) -> HouseholdScope:
    from freshtap.server.services.privacy import PrivacyService

    return PrivacyService.scope(session, household_id)


def _mentions(api: Api, values: set[str]) -> list[str]:
    """Every (table, column) of every table whose value contains one of `values`."""
    found = []
    with api.services.sessions() as session:
        for name, table in SQLModel.metadata.tables.items():
            for row in session.execute(select(table)).mappings():
                for column, value in row.items():
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else json.dumps(value, default=str)
                    hits = [v for v in values if v in text]
                    if hits:
                        found.append(f"{name}.{column}: {hits}")
    return found


def _counts(api: Api) -> dict[str, int]:
    with api.services.sessions() as session:
        return {
            name: int(session.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in SQLModel.metadata.tables.items()
        }


def test_every_table_is_known_to_export_and_deletion() -> None:
    """Fails when a table is added that no rule links to a household and nobody declared."""
    household_rows(HouseholdScope("hh_x", ("f-x",), ("ord_x",), ("pr_x",)))


def test_an_undeclared_table_is_named_in_the_error() -> None:
    metadata = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(metadata)
    Table("camera_frame_index", metadata, Column("id", String, primary_key=True), Column("path", String))
    Table("linked", metadata, Column("id", String, primary_key=True), Column("offer_id", ForeignKey("offer.id")))
    with pytest.raises(UndeclaredTables) as refused:
        household_rows(HouseholdScope("hh_x", ("f-x",), (), ()), metadata)
    assert refused.value.names == ["camera_frame_index", "linked"]
    assert "NO_HOUSEHOLD_DATA" in str(refused.value)
    assert set(NO_HOUSEHOLD_DATA) <= set(SQLModel.metadata.tables), "NO_HOUSEHOLD_DATA names a table that is gone"


def test_a_household_exports_all_its_data_and_only_its_own(world: World) -> None:
    api, a, b = world.api, world.principals["A"], world.principals["B"]
    response = api.client.get("/api/v1/households/me/export", headers=a.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    export = response.json()
    assert export["household_id"] == a.household_id
    tables = export["tables"]
    for name in ("household", "fridge", "inventoryrecord", "telemetryreading", "fridgeevent", "proposal", "order",
                 "order_payment", "spending_limit", "duesoonwindow", "review_draft", "credential", "appliedmessage"):
        assert tables.get(name), f"the export has no {name} rows"
    assert tables["household"][0]["id"] == a.household_id
    assert {row["id"] for row in tables["fridge"]} == {a.fridge_id}
    assert "spending_limit.pin_hash" in export["redacted"] and "pin_hash" not in tables["spending_limit"][0]
    assert "secret_hash" not in tables["credential"][0]
    text = response.text
    assert b.household_id not in text and str(b.fridge_id) not in text
    assert api.client.get("/api/v1/households/me/export", headers=world.principals["M1"].headers).status_code == 404
    assert api.client.get("/api/v1/households/me/export").status_code == 401


def test_deleting_a_household_leaves_nothing_of_it_but_its_anonymised_orders(world: World) -> None:
    api, a, b = world.api, world.principals["A"], world.principals["B"]
    # A refused message on one of A's topics, kept with its raw payload.
    api.services.ingest.handle(topic(str(a.fridge_id), Channel.TELEMETRY), b'{"not": "valid"}')
    identifying, order_ids = _household_values(api, str(a.household_id))
    b_values, _ = _household_values(api, str(b.household_id))
    assert _mentions(api, identifying), "the world holds data of A to delete"
    b_before = {k: v for k, v in _counts(api).items()}
    b_rows_before = _mentions(api, b_values)

    wrong = api.client.request("DELETE", "/api/v1/households/me", headers=a.headers, json={"confirm": b.household_id})
    assert wrong.status_code == 409
    missing = api.client.request("DELETE", "/api/v1/households/me", headers=a.headers, json={})
    assert missing.status_code == 422
    deleted = api.client.request("DELETE", "/api/v1/households/me", headers=a.headers, json={"confirm": a.household_id})
    assert deleted.status_code == 200, deleted.text
    report = deleted.json()
    assert report["retained_orders"] == 1 and report["fridges_revoked"] == [a.fridge_id]
    assert report["deleted_rows"]["household"] == 1, report

    # No row of any table names A, its fridge, its proposals or credentials ...
    assert _mentions(api, identifying) == []
    # ... and its order ids stay only in the anonymised orders and the provider's ledger.
    leftovers = [m for m in _mentions(api, order_ids) if m.split(".")[0] not in RETAINS_ORDER_IDS]
    assert leftovers == []
    with api.services.sessions() as session:
        kept = session.get(RetainedOrder, next(iter(order_ids)))
        assert kept is not None and kept.amount_minor == 1290 and kept.currency == "CNY"
        assert kept.merchant_id == world.principals["M1"].merchant_id
        assert set(RetainedOrder.model_fields) == {
            "id", "merchant_id", "product_id", "amount_minor", "currency", "status", "payment_state",
            "payment_provider", "payment_reference", "ordered_at", "updated_at", "retained_at",
        }, "a retained order keeps only what docs/security.md lists"
        assert session.get(Order, next(iter(order_ids))) is None
    # B is untouched.
    assert _mentions(api, b_values) == b_rows_before
    after = _counts(api)
    assert after["household"] == b_before["household"] - 1
    # A's fridge can no longer call the API; its retained offers were cleared on the broker.
    assert api.client.get(f"/api/v1/fridges/{a.fridge_id}/inventory", headers=a.headers).status_code == 401
    last = [m for m in api.publisher.sent if m[0] == a.fridge_id][-1]
    assert last[1] == Channel.OFFERS and last[3] is True and b'"offers":[]' in last[2]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deletion_waits_while_money_is_moving(world: World) -> None:
    api, a = world.api, world.principals["A"]
    from sqlmodel import col, update

    with api.services.sessions() as session:
        session.execute(update(Order).where(col(Order.household_id) == a.household_id).values(payment_state="authorized"))
        session.commit()
    refused = api.client.request("DELETE", "/api/v1/households/me", headers=a.headers, json={"confirm": a.household_id})
    assert refused.status_code == 409
    assert api.client.get(f"/api/v1/fridges/{a.fridge_id}/inventory", headers=a.headers).status_code == 200


def test_retention_deletes_old_telemetry_and_refused_messages(secure_api: Api) -> None:
    api = secure_api
    fridge = api.fridge()
    now = api.clock.now()
    with api.services.sessions() as session:
        for days in (40, 31, 29, 1):
            session.add(TelemetryReading(fridge_id=fridge.fridge_id, at=now - timedelta(days=days), compartment="fridge", temp_c=4.0))
        for days in (20, 15, 13):
            session.add(Rejection(received_at=now - timedelta(days=days), topic="t", reason="invalid", detail="", payload=b"x", payload_size=1))
        session.commit()
    settings = api.services.settings
    assert prune_expired(api.services.sessions, now, settings) == {"telemetryreading": 2, "rejection": 2}
    assert prune_expired(api.services.sessions, now, settings) == {}
    with api.services.sessions() as session:
        left = session.scalars(select(TelemetryReading.at)).all()  # type: ignore[call-overload]
    assert sorted((now - at).days for at in left) == [1, 29]
    # The clock moves on a week: what crossed the line goes at the next tick.
    assert prune_expired(api.services.sessions, now + timedelta(days=7), settings) == {"telemetryreading": 1, "rejection": 1}
    small = settings.model_copy(update={"privacy": settings.privacy.model_copy(update={"telemetry_retention_days": 0.5})})
    assert prune_expired(api.services.sessions, now + timedelta(days=7), small) == {"telemetryreading": 1}
