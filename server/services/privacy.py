"""A household's data, found in every table: its export, its deletion, and the registry saying how
each table relates to a household.

How a row is found to be a household's (`household_rows`), for every table of `SQLModel.metadata`:

1. a column `household_id` (or `*_household_id`) equal to the household's id, a column `fridge_id`
   (or `*_fridge_id`) naming one of its fridges, a column `order_id` / `proposal_id` naming one
   of its orders or proposals;
2. a foreign key to a row found so (its proposals' orders, its orders' payments, shipments, review
   drafts, and so on, however deep);
3. a rule declared in `LINKS` for a table that names the household some other way (the fridge's
   credential by `subject_id`, a refused message by its topic).

A table none of these reaches must be declared in `NO_HOUSEHOLD_DATA`, with the reason it holds
nothing of any household; otherwise export and deletion refuse to run (`UndeclaredTables`) and
the test suite fails, so a new table cannot silently escape a deletion.

Deletion (`delete_household`) removes every such row, in one transaction, children first, except
what the law requires a seller to keep: each order is first copied, anonymised, to
`retained_order` (merchant, product, amount, currency, status, payment state, the provider's
reference and the dates; not the household, fridge, proposal, item or reason). The fridges'
credentials go with their rows, so they can no longer connect or call the API, and each fridge's
retained offers list on the broker is cleared. Orders whose money is still moving (pending,
waiting for authentication, authorised but not captured) must finish first (409).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, MetaData, Table, and_, false, insert, literal, or_, select, update
from sqlmodel import Session, SQLModel, col

import freshtap.server.store.models_registry  # noqa: F401  (every table in the metadata)
from freshtap.clock import Clock
from freshtap.contract import TOPIC_PREFIX
from freshtap.server.domain.errors import Conflict, NotFound
from freshtap.server.services.proposals import publish_offers
from freshtap.server.services.publisher import FridgePublisher
from freshtap.server.store.models import Fridge, Household, Order, Proposal
from freshtap.server.store.security_models import RetainedOrder

__all__ = [
    "EXPORT_FORMAT",
    "LINKS",
    "NO_HOUSEHOLD_DATA",
    "REDACTED_COLUMNS",
    "DeletionReport",
    "HouseholdScope",
    "PrivacyService",
    "UndeclaredTables",
    "household_rows",
]

log = logging.getLogger(__name__)

EXPORT_FORMAT = "freshtap-household-export/1"

_HOUSEHOLD, _FRIDGE, _ORDER = (str(model.__tablename__) for model in (Household, Fridge, Order))

NO_HOUSEHOLD_DATA: dict[str, str] = {
    "merchant": "merchants' accounts",
    "product": "merchants' catalogues",
    "offer": "merchants' offers (which households see them is in `proposal`)",
    "sandboxcharge": "the sandbox payment provider's own ledger: in production this is Stripe's, not freshtap's",
    "sandbox_action": "the sandbox payment provider's own ledger (authentication pages)",
    "sandbox_refund": "the sandbox payment provider's own ledger (refunds)",
    "retained_order": "what the law requires to keep of deleted households' orders; it names no household",
}
"""Tables that hold nothing of any household, each with the reason."""


@dataclass(frozen=True)
class HouseholdScope:
    """One household and the ids of what it has, read at the start of an export or deletion."""

    household_id: str
    fridge_ids: tuple[str, ...]
    order_ids: tuple[str, ...]
    proposal_ids: tuple[str, ...]


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _credential_link(table: Table, scope: HouseholdScope) -> ColumnElement[bool]:
    return and_(table.c.kind == "fridge", table.c.subject_id.in_(scope.fridge_ids))


def _rejection_link(table: Table, scope: HouseholdScope) -> ColumnElement[bool]:
    prefixes = [table.c.topic.like(_like_prefix(f"{TOPIC_PREFIX}/{fid}/"), escape="\\") for fid in scope.fridge_ids]
    return or_(false(), *prefixes)


LINKS: dict[str, Callable[[Table, HouseholdScope], ColumnElement[bool]]] = {
    "credential": _credential_link,
    "rejection": _rejection_link,
}
"""Tables that name a household in a way the column rules cannot see."""

REDACTED_COLUMNS = re.compile(r"(hash|secret|password|token)")
"""Columns left out of an export: hashes of the household's own secrets (its PIN, its fridges' passwords)."""


class UndeclaredTables(RuntimeError):
    """Tables nothing links to a household and `NO_HOUSEHOLD_DATA` does not mention."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(
            "privacy: these tables are unknown to household export and deletion: "
            + ", ".join(names)
            + ". Give them a household_id/fridge_id column or a foreign key to a household's row, "
            "or declare them in freshtap.server.services.privacy (LINKS, or NO_HOUSEHOLD_DATA with the reason)."
        )
        self.names = names


def _direct(table: Table, scope: HouseholdScope) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if table.name == _HOUSEHOLD:
        found.append(table.c.id == scope.household_id)
    if table.name == _FRIDGE:
        found.append(table.c.id.in_(scope.fridge_ids))
    for column in table.columns:
        name = column.name
        if name == "household_id" or name.endswith("_household_id"):
            found.append(column == scope.household_id)
        elif name == "fridge_id" or name.endswith("_fridge_id"):
            found.append(column.in_(scope.fridge_ids))
        elif name == "order_id":
            found.append(column.in_(scope.order_ids))
        elif name == "proposal_id":
            found.append(column.in_(scope.proposal_ids))
    return found


def household_rows(scope: HouseholdScope, metadata: MetaData | None = None) -> dict[str, ColumnElement[bool]]:
    """For every table that holds household data, the condition selecting this household's rows.

    Ordered parents first (`metadata.sorted_tables`). Raises `UndeclaredTables` for any table the
    rules do not reach and `NO_HOUSEHOLD_DATA` does not mention.
    """
    metadata = metadata or SQLModel.metadata
    conditions: dict[str, ColumnElement[bool]] = {}
    undeclared: list[str] = []
    for table in metadata.sorted_tables:
        if table.name in NO_HOUSEHOLD_DATA:
            continue
        parts = _direct(table, scope)
        for column in table.columns:
            for foreign_key in column.foreign_keys:
                parent = foreign_key.column.table
                if parent.name in conditions and parent is not table:
                    parts.append(column.in_(select(foreign_key.column).where(conditions[parent.name])))
        link = LINKS.get(table.name)
        if link is not None:
            parts.append(link(table, scope))
        if parts:
            conditions[table.name] = or_(*parts)
        else:
            undeclared.append(table.name)
    if undeclared:
        raise UndeclaredTables(sorted(undeclared))
    return conditions


@dataclass(frozen=True)
class DeletionReport:
    household_id: str
    deleted_at: datetime
    deleted_rows: dict[str, int] = field(default_factory=dict)
    retained_orders: int = 0
    fridges_revoked: tuple[str, ...] = ()


_MOVING = ("pending", "requires_action", "authorized")
"""Payment states in which money is still moving: a deletion waits for them to settle."""


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot export a {type(value).__name__}")


class PrivacyService:
    def __init__(self, sessions: Callable[[], Session], clock: Clock, publisher: FridgePublisher) -> None:
        self._sessions = sessions
        self._clock = clock
        self._publisher = publisher

    @staticmethod
    def scope(session: Session, household_id: str) -> HouseholdScope:
        if session.get(Household, household_id) is None:
            raise NotFound(f"no household {household_id}")
        fridges = session.scalars(select(col(Fridge.id)).where(col(Fridge.household_id) == household_id)).all()
        orders = session.scalars(select(col(Order.id)).where(col(Order.household_id) == household_id)).all()
        proposals = session.scalars(select(col(Proposal.id)).where(col(Proposal.household_id) == household_id)).all()
        return HouseholdScope(
            household_id, tuple(sorted(fridges)), tuple(sorted(orders)), tuple(sorted(proposals))
        )

    def export(self, household_id: str) -> Iterator[bytes]:
        """The household's rows of every table, as one JSON document streamed in pieces.

        `{"format": ..., "household_id": ..., "exported_at": ..., "redacted": [...], "tables": {name: [row, ...]}}`
        """
        session = self._sessions()
        try:
            scope = self.scope(session, household_id)
            conditions = household_rows(scope)
            tables = SQLModel.metadata.tables
            redacted = sorted(
                f"{name}.{column.name}"
                for name in conditions
                for column in tables[name].columns
                if REDACTED_COLUMNS.search(column.name)
            )
            head = {
                "format": EXPORT_FORMAT,
                "household_id": household_id,
                "exported_at": self._clock.now().isoformat(),
                "redacted": redacted,
            }
            yield json.dumps(head)[:-1].encode() + b', "tables": {'
            for index, (name, condition) in enumerate(conditions.items()):
                table = tables[name]
                columns = [c for c in table.columns if not REDACTED_COLUMNS.search(c.name)]
                yield (b", " if index else b"") + json.dumps(name).encode() + b": ["
                query = select(*columns).where(condition).order_by(*table.primary_key.columns)
                result = session.execute(query.execution_options(yield_per=500))
                for number, row in enumerate(result.mappings()):
                    yield (b", " if number else b"") + json.dumps(dict(row), default=_json_value).encode()
                yield b"]"
            yield b"}}"
        finally:
            session.close()

    def delete_household(self, household_id: str, confirm: str) -> DeletionReport:
        """Delete everything of the household but its anonymised orders; see the module's docstring."""
        if confirm != household_id:
            # 409, not 422: the request is well-formed, it just does not confirm this household.
            raise Conflict('to delete this household and all its data, send {"confirm": "<your household id>"}')
        now = self._clock.now()
        with self._sessions() as session:
            # Writes first and row locks: concurrent taps (which lock the household) and ingest
            # (which locks each fridge) wait for this transaction, on PostgreSQL and SQLite alike.
            household = SQLModel.metadata.tables[_HOUSEHOLD]
            session.execute(update(household).where(household.c.id == household_id).values(name=household.c.name))
            fridges = select(col(Fridge.id)).where(col(Fridge.household_id) == household_id)
            session.scalars(fridges.with_for_update()).all()
            scope = self.scope(session, household_id)
            moving = session.scalars(
                select(col(Order.id)).where(
                    col(Order.household_id) == household_id, col(Order.payment_state).in_(_MOVING)
                )
            ).all()
            if moving:
                raise Conflict(
                    "money is still moving for orders " + ", ".join(sorted(moving)) + ": wait until they are "
                    "paid, declined or cancelled (or cancel them), then delete"
                )
            conditions = household_rows(scope)
            tables = SQLModel.metadata.tables
            self._retain_orders(session, conditions[_ORDER], now)
            deleted: dict[str, int] = {}
            for name in reversed(list(conditions)):
                result = session.execute(tables[name].delete().where(conditions[name]))
                count = int(result.rowcount)  # type: ignore[attr-defined]
                if count:
                    deleted[name] = count
            retained = deleted.get(_ORDER, 0)  # each deleted order was copied first
            session.commit()
        with self._sessions() as session:
            for fridge_id in scope.fridge_ids:
                try:
                    publish_offers(session, self._publisher, fridge_id, now)
                except Exception as exc:  # the broker may be away; the fridge's list then stays until it reconnects
                    log.warning("could not clear the offers of deleted fridge %s: %s", fridge_id, exc)
        log.info("household %s deleted: %s; %d orders retained", household_id, deleted, retained)
        return DeletionReport(household_id, now, deleted, retained, scope.fridge_ids)

    @staticmethod
    def _retain_orders(session: Session, condition: ColumnElement[bool], now: datetime) -> None:
        order = SQLModel.metadata.tables[_ORDER]
        payment = SQLModel.metadata.tables["order_payment"]
        provider = select(payment.c.provider).where(payment.c.order_id == order.c.id).scalar_subquery()
        source = select(
            order.c.id,
            order.c.merchant_id,
            order.c.product_id,
            order.c.amount_minor,
            order.c.currency,
            order.c.status,
            order.c.payment_state,
            provider,
            order.c.payment_reference,
            order.c.created_at,
            order.c.updated_at,
            literal(now, SQLModel.metadata.tables[str(RetainedOrder.__tablename__)].c.retained_at.type),
        ).where(condition)
        target = SQLModel.metadata.tables[str(RetainedOrder.__tablename__)]
        columns = [
            "id", "merchant_id", "product_id", "amount_minor", "currency", "status", "payment_state",
            "payment_provider", "payment_reference", "ordered_at", "updated_at", "retained_at",
        ]
        session.execute(insert(target).from_select(columns, source))
