"""Shipments and order notices: each order's fulfilment and the shipment events merchants post.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

Written by hand: only the tables of `store/shipment_models.py`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "order_fulfilment",
        sa.Column("order_id", _str(40), nullable=False),
        sa.Column("fridge_id", _str(64), nullable=False),
        sa.Column("gtin", _str(14), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", _str(16), nullable=False),
        sa.Column("tracking_status", _str(24), nullable=True),
        sa.Column("rung", sa.Integer(), nullable=False),
        sa.Column("carrier", _str(64), nullable=True),
        sa.Column("tracking_number", _str(64), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restock_item_id", _str(64), nullable=True),
        sa.Column("out_of_stock_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alternative_proposal_id", _str(40), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"]),
        sa.PrimaryKeyConstraint("order_id"),
    )
    with op.batch_alter_table("order_fulfilment", schema=None) as batch_op:
        batch_op.create_index("ix_order_fulfilment_fridge_status", ["fridge_id", "status"], unique=False)

    op.create_table(
        "shipment_event",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("order_id", _str(40), nullable=False),
        sa.Column("merchant_id", _str(40), nullable=False),
        sa.Column("event_id", _str(100), nullable=True),
        sa.Column("dedupe_key", _str(120), nullable=False),
        sa.Column("fingerprint", _str(64), nullable=False),
        sa.Column("carrier", _str(64), nullable=False),
        sa.Column("tracking_number", _str(64), nullable=False),
        sa.Column("status", _str(24), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "dedupe_key", name="uq_shipment_event_dedupe"),
    )
    with op.batch_alter_table("shipment_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipment_event_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shipment_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shipment_event_order_id"))
    op.drop_table("shipment_event")
    with op.batch_alter_table("order_fulfilment", schema=None) as batch_op:
        batch_op.drop_index("ix_order_fulfilment_fridge_status")
    op.drop_table("order_fulfilment")
