"""The authorization matrix, generated from the OpenAPI document (issue 5).

For every operation that takes an ID in its path, every principal (households A and B, merchants
M1 and M2, the admin, nobody) calls it with every object it does not own: 0 successes. Objects
come from factories keyed by the parameter's name (tests/security/world.py); an operation whose
parameter has no factory fails the test until one is added, and the few public-by-design routes
are listed with the reason. Each operation is then called by an owner with its own IDs, which
must get past authorization, so that a refusal above proves ownership and not a broken request.

Mass assignment: every write (POST, PUT, PATCH with a JSON body) is sent by its owner with
fields it may not set (`price`, `price_minor`, `amount_minor`, `merchant_id`, `household_id`,
`status`, `id`) added: refused with a 422 naming them, or stored with none of their values.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import product
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

import freshtap.server.store.models_registry  # noqa: F401  (every table in the metadata)
from tests.security.world import MILK, World

PUBLIC_BY_DESIGN: dict[str, str] = {
    "/r/{code}": "a referral link's product page: the code is published in posts, for anyone to open",
    "/api/v1/referrals/{code}/orders": "any household may buy through a published referral link; "
    "the code names a post, not an owner (the buyer is the caller, as authenticated)",
}

ADMIN_PREFIX = "/api/v1/admin/"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    path_params: tuple[str, ...]
    headers: tuple[str, ...]
    """Required header parameters."""
    body_schema: str | None

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"


def _schema_name(schema: dict[str, Any]) -> str | None:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        name = _schema_name(option)
        if name is not None:
            return name
    return None


def operations(world: World) -> list[Operation]:
    spec = world.api.client.app.openapi()  # type: ignore[attr-defined]
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            params = op.get("parameters", [])
            content = op.get("requestBody", {}).get("content", {})
            body = _schema_name(content["application/json"]["schema"]) if "application/json" in content else None
            found.append(
                Operation(
                    method,
                    path,
                    tuple(p["name"] for p in params if p["in"] == "path"),
                    tuple(p["name"] for p in params if p["in"] == "header" and p.get("required")),
                    body,
                )
            )
    return found


# Valid bodies, by the name of the request body's schema: (the principal that owns the call, body).
def _offer_create(world: World) -> tuple[str, dict[str, Any]]:
    product_id = next(i for i, owners in world.objects["product_id"].items() if owners == {"M1"})
    trigger = {"kind": "expiring", "within_hours": 24}
    return "M1", {"product_id": product_id, "match": {"category": "dairy"}, "trigger": trigger}


BODIES: dict[str, Callable[[World], tuple[str, dict[str, Any]]]] = {
    "ProductCreate": lambda w: (
        "M1",
        {"name": "Cheese", "category": "dairy", "price": {"amount_minor": 990, "currency": "CNY"}},
    ),
    "OfferCreate": _offer_create,
    "OfferUpdate": lambda w: ("M1", {"active": True}),
    "AcceptRequest": lambda w: ("A", {"expected_amount": {"amount_minor": 1290, "currency": "CNY"}}),
    "ShipmentCreate": lambda w: ("M1", {"carrier": "SF", "tracking_number": "SF1001", "status": "in_transit"}),
    "DueSoonPublic": lambda w: ("A", {"gtin": {MILK: 20.0}}),
    "LimitsUpdate": lambda w: (
        "A",
        {"per_order": {"amount_minor": 50_000, "currency": "CNY"}, "current_pin": "4821"},
    ),
    "OfferPreferencesUpdate": lambda w: ("A", {"opted_in": True}),
    "SignIn": lambda w: ("M1", {"api_key": w.principals["M1"].token}),
    "DraftEditRequest": lambda w: ("A", {"note": "Fresh and cold."}),
    "DraftApprove": lambda w: ("A", {"channels": ["local"], "language": "en", "shown_text": "text"}),
    "MerchantCreate": lambda w: ("admin", {"name": "New merchant"}),
    "FridgeProvision": lambda w: ("admin", {"household": "New home", "payment_method": "pm_sandbox_ok"}),
    "HouseholdDeletion": lambda w: ("A", {"confirm": w.principals["A"].household_id}),
}


def _owners(world: World, op: Operation, param: str, object_id: str) -> frozenset[str]:
    if op.path.startswith(ADMIN_PREFIX):
        return frozenset({"admin"})  # whoever a fridge or merchant belongs to, only the admin acts on it here
    return world.objects[param][object_id]


def _call(world: World, op: Operation, caller: str, ids: dict[str, str]) -> httpx.Response:
    path = op.path
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    headers = dict(world.principals[caller].headers)
    for name in op.headers:
        headers[name] = f"matrix-{secrets.token_hex(6)}"
    body = BODIES[op.body_schema](world)[1] if op.body_schema else None
    return world.api.client.request(op.method.upper(), path, headers=headers, json=body)


def _attacks(world: World, op: Operation, caller: str) -> Iterator[dict[str, str]]:
    choices = [
        [i for i in world.objects[p] if caller not in _owners(world, op, p, i)] for p in op.path_params
    ]
    for combination in product(*choices):
        yield dict(zip(op.path_params, combination, strict=True))


def _reachable(world: World, op: Operation) -> Iterator[tuple[str, dict[str, str]]]:
    """(owner, its own ids) for a control call: one per owner that owns an object of every parameter."""
    for caller in world.principals:
        own = [[i for i in world.objects[p] if caller in _owners(world, op, p, i)] for p in op.path_params]
        if op.path.startswith(ADMIN_PREFIX):
            # The spare objects only (C, M3): the others are still needed by other controls.
            own = [[i for i in ids if world.objects[p][i] == {"admin"}] for p, ids in zip(op.path_params, own, strict=True)]
        if all(own):
            yield caller, {p: ids[0] for p, ids in zip(op.path_params, own, strict=True)}


def _is_validation(response: httpx.Response) -> bool:
    return response.status_code == 422 and str(response.json().get("type", "")).endswith("/validation")


def test_no_principal_reaches_an_object_it_does_not_own(world: World) -> None:
    with_ids = [op for op in operations(world) if op.path_params and op.path not in PUBLIC_BY_DESIGN]
    assert len(with_ids) >= 10, "the OpenAPI document lost its ID-taking operations"
    missing = sorted({f"add a factory for {p!r} ({op.label})" for op in with_ids for p in op.path_params if p not in world.objects})
    missing += sorted({f"add a body for schema {op.body_schema!r} ({op.label})" for op in with_ids if op.body_schema and op.body_schema not in BODIES})
    assert not missing, "\n".join(missing)

    successes, calls = [], 0
    for op in with_ids:
        for caller in world.principals:
            for ids in _attacks(world, op, caller):
                response = _call(world, op, caller, ids)
                calls += 1
                if response.status_code < 300 or response.status_code >= 500:
                    successes.append(f"{caller} -> {op.label} {ids}: {response.status_code} {response.text[:200]}")
    assert not successes, "\n".join(successes)
    assert calls >= 100

    # Controls, after every attack (some of them change state): the owner gets past authorization.
    unreached = []
    ordered = sorted(with_ids, key=lambda op: (op.method != "get", "revoke" in op.path))
    for op in ordered:
        statuses = []
        for caller, ids in _reachable(world, op):
            response = _call(world, op, caller, ids)
            statuses.append(f"{caller}: {response.status_code}")
            if response.status_code not in (401, 403, 404) and not _is_validation(response) and response.status_code < 500:
                break
        else:
            unreached.append(f"{op.label}: no owner got past authorization ({', '.join(statuses) or 'no owner'})")
    assert not unreached, "\n".join(unreached)


INJECTED_ID = "injected-id-7f3a"
INJECTED_STATUS = "injected-status"
INJECTED_AMOUNT = 777_777


def _injections(world: World) -> dict[str, Any]:
    return {
        "price": {"amount_minor": INJECTED_AMOUNT, "currency": "XTS"},
        "price_minor": INJECTED_AMOUNT,
        "amount_minor": INJECTED_AMOUNT,
        "merchant_id": world.principals["M2"].merchant_id,
        "household_id": world.principals["B"].household_id,
        "status": INJECTED_STATUS,
        "id": INJECTED_ID,
    }


Snapshot = dict[str, dict[str, tuple[Any, ...]]]


def _snapshot(world: World) -> Snapshot:
    """Every row of every table, keyed by its repr (JSON columns are not hashable)."""
    with world.api.services.sessions() as session:
        return {
            name: {repr(tuple(row)): tuple(row) for row in session.execute(select(table)).all()}
            for name, table in SQLModel.metadata.tables.items()
        }


def _writes_of_injected(world: World, before: Snapshot, injected: dict[str, Any]) -> list[str]:
    found = []
    after = _snapshot(world)
    for name, rows in after.items():
        columns = [c.name for c in SQLModel.metadata.tables[name].columns]
        for key, row in rows.items():
            if key in before[name]:
                continue
            values = dict(zip(columns, row, strict=True))
            for column, value in values.items():
                if isinstance(value, str) and "injected-" in value:
                    found.append(f"{name}.{column} = {value!r}")
                if column in ("price_minor", "amount_minor") and value == INJECTED_AMOUNT:
                    found.append(f"{name}.{column} = {value!r}")
                if column == "currency" and value == "XTS":
                    found.append(f"{name}.currency = 'XTS'")
                if column in ("merchant_id", "household_id") and value == injected[column]:
                    found.append(f"{name}.{column} = {value!r} (another principal's)")
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # validation does not depend on the database
def test_writes_ignore_or_refuse_fields_the_caller_may_not_set(world: World) -> None:
    spec = world.api.client.app.openapi()  # type: ignore[attr-defined]
    schemas = spec["components"]["schemas"]
    writes = [
        op for op in operations(world) if op.method in ("post", "put", "patch") and op.body_schema is not None
    ]
    missing = sorted({f"add a body for schema {op.body_schema!r} ({op.label})" for op in writes if op.body_schema not in BODIES})
    missing += sorted({f"add a factory for {p!r} ({op.label})" for op in writes for p in op.path_params if p not in world.objects})
    assert not missing, "\n".join(missing)
    injected = _injections(world)
    problems = []
    for op in writes:
        assert op.body_schema is not None
        owner, body = BODIES[op.body_schema](world)
        allowed = set(schemas[op.body_schema].get("properties", {}))
        extra = {k: v for k, v in injected.items() if k not in allowed}
        ids = {}
        for p in op.path_params:
            mine = [i for i, owners in world.objects[p].items() if owner in owners or (owner == "admin" and owners == {"admin"})]
            ids[p] = mine[0]
        before = _snapshot(world)
        path = op.path
        for name, value in ids.items():
            path = path.replace("{" + name + "}", value)
        headers = dict(world.principals[owner].headers)
        for name in op.headers:
            headers[name] = f"mass-{secrets.token_hex(6)}"
        response = world.api.client.request(op.method.upper(), path, headers=headers, json={**body, **extra})
        if response.status_code in (401, 403, 404) or response.status_code >= 500:
            problems.append(f"{op.label} as {owner}: not exercised ({response.status_code} {response.text[:200]})")
            continue
        if response.status_code == 422:
            locs = {str(e["loc"][-1]) for e in response.json().get("errors", []) if e.get("loc")}
            if not locs or not locs <= set(extra):
                problems.append(f"{op.label}: a 422 for something else than the injected fields: {response.text[:300]}")
            continue
        problems += [f"{op.label} stored {w}" for w in _writes_of_injected(world, before, injected)]
        if "injected-" in response.text or str(INJECTED_AMOUNT) in response.text:
            problems.append(f"{op.label} answered with an injected value: {response.text[:300]}")
    assert not problems, "\n".join(problems)
