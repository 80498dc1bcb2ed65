"""Purchase rate limits, retained (anonymised) orders of deleted households, and an index for
the telemetry retention job.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
Written by hand (only this change's tables).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "purchase_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("idempotency_key", _str(255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("household_id", "idempotency_key", name="uq_purchase_attempt_key"),
    )
    with op.batch_alter_table("purchase_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_attempt_household_at", ["household_id", "at"], unique=False)
        batch_op.create_index("ix_purchase_attempt_at", ["at"], unique=False)

    op.create_table(
        "retained_order",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("merchant_id", _str(40), nullable=False),
        sa.Column("product_id", _str(40), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", _str(3), nullable=False),
        sa.Column("status", _str(24), nullable=False),
        sa.Column("payment_state", _str(24), nullable=False),
        sa.Column("payment_provider", _str(16), nullable=True),
        sa.Column("payment_reference", _str(100), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retained_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("retained_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retained_order_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_retained_order_ordered_at"), ["ordered_at"], unique=False)

    with op.batch_alter_table("telemetryreading", schema=None) as batch_op:
        batch_op.create_index("ix_telemetry_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("telemetryreading", schema=None) as batch_op:
        batch_op.drop_index("ix_telemetry_at")
    op.drop_table("retained_order")
    op.drop_table("purchase_attempt")
