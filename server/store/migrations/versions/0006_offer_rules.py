"""Offer rules: discount, validity window, cooldown, household preferences, dismissals.

Offers gain a FoodKeeper match, a discount, a validity window and a dismissal cooldown;
proposals keep their list price, why their offer won, and the item key a dismissal cools down;
households gain the offers opt-in (existing ones stay opted in, as they saw offers before) and
muted categories.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("offer") as batch_op:
        batch_op.add_column(sa.Column("match_foodkeeper_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("discount_percent", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("discount_minor", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cooldown_hours_after_dismissal", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_offer_match_foodkeeper_id"), ["match_foodkeeper_id"], unique=False)

    with op.batch_alter_table("proposal") as batch_op:
        batch_op.add_column(sa.Column("original_price_minor", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("explanation", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("item_key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))

    with op.batch_alter_table("household") as batch_op:
        batch_op.add_column(sa.Column("offers_opted_in", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("offers_muted_categories", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("household") as batch_op:
        batch_op.drop_column("offers_muted_categories")
        batch_op.drop_column("offers_opted_in")

    with op.batch_alter_table("proposal") as batch_op:
        batch_op.drop_column("item_key")
        batch_op.drop_column("explanation")
        batch_op.drop_column("original_price_minor")

    with op.batch_alter_table("offer") as batch_op:
        batch_op.drop_index(batch_op.f("ix_offer_match_foodkeeper_id"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("cooldown_hours_after_dismissal")
        batch_op.drop_column("valid_until")
        batch_op.drop_column("valid_from")
        batch_op.drop_column("discount_minor")
        batch_op.drop_column("discount_percent")
        batch_op.drop_column("match_foodkeeper_id")
