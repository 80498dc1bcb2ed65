"""payments: order payment records, spending limits and PINs, provider customers, webhook events,
sandbox actions and refunds

Revision ID: 0003
Revises: 0001
Written by hand (only this change's tables).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "order_payment",
        sa.Column("order_id", _str(40), nullable=False),
        sa.Column("provider", _str(16), nullable=False),
        sa.Column("payment_method", _str(200), nullable=False),
        sa.Column("customer", _str(255), nullable=True),
        sa.Column("authorized_by", _str(16), nullable=False),
        sa.Column("next_action_url", _str(2048), nullable=True),
        sa.Column("cancellable_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capture_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"]),
        sa.PrimaryKeyConstraint("order_id"),
    )
    with op.batch_alter_table("order_payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_payment_cancellable_until"), ["cancellable_until"], unique=False)

    op.create_table(
        "spending_limit",
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("per_order_minor", sa.Integer(), nullable=True),
        sa.Column("per_order_currency", _str(3), nullable=True),
        sa.Column("per_week_minor", sa.Integer(), nullable=True),
        sa.Column("per_week_currency", _str(3), nullable=True),
        sa.Column("pin_hash", _str(200), nullable=True),
        sa.Column("pin_failures", sa.Integer(), nullable=False),
        sa.Column("pin_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("household_id"),
    )

    op.create_table(
        "payment_customer",
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("provider", _str(16), nullable=False),
        sa.Column("customer", _str(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("household_id", "provider"),
    )

    op.create_table(
        "webhook_event",
        sa.Column("provider", _str(16), nullable=False),
        sa.Column("event_id", _str(255), nullable=False),
        sa.Column("type", _str(100), nullable=False),
        sa.Column("order_id", _str(40), nullable=True),
        sa.Column("outcome", _str(24), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id"),
    )
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_event_order_id"), ["order_id"], unique=False)

    op.create_table(
        "sandbox_action",
        sa.Column("token", _str(64), nullable=False),
        sa.Column("charge_id", _str(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", _str(24), nullable=True),
        sa.ForeignKeyConstraint(["charge_id"], ["sandboxcharge.id"]),
        sa.PrimaryKeyConstraint("token"),
        sa.UniqueConstraint("charge_id"),
    )

    op.create_table(
        "sandbox_refund",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("charge_id", _str(40), nullable=False),
        sa.Column("idempotency_key", _str(255), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["charge_id"], ["sandboxcharge.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("charge_id"),
        sa.UniqueConstraint("idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("sandbox_refund")
    op.drop_table("sandbox_action")
    with op.batch_alter_table("webhook_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_event_order_id"))
    op.drop_table("webhook_event")
    op.drop_table("payment_customer")
    op.drop_table("spending_limit")
    with op.batch_alter_table("order_payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_payment_cancellable_until"))
    op.drop_table("order_payment")
