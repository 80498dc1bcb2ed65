"""Review facts, drafts, consents, referrals and rewards.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
Written by hand (only this change's tables: server/store/social_models.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "review_draft",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("order_id", _str(40), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("fridge_id", _str(64), nullable=False),
        sa.Column("merchant_id", _str(40), nullable=False),
        sa.Column("product_id", _str(40), nullable=False),
        sa.Column("status", _str(16), nullable=False),
        sa.Column("referral_code", _str(24), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("sentences", sa.JSON(), nullable=False),
        sa.Column("owner_note", sa.Text(), nullable=True),
        sa.Column("owner_rating", sa.Integer(), nullable=True),
        sa.Column("edited_zh", sa.Text(), nullable=True),
        sa.Column("edited_en", sa.Text(), nullable=True),
        sa.Column("approved_language", _str(2), nullable=True),
        sa.Column("approved_text", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("decided_at", nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.ForeignKeyConstraint(["fridge_id"], ["fridge.id"]),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
        sa.UniqueConstraint("referral_code"),
    )
    with op.batch_alter_table("review_draft", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_draft_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_draft_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_draft_status"), ["status"], unique=False)

    op.create_table(
        "review_consent",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("draft_id", _str(40), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("channel", _str(32), nullable=False),
        sa.Column("language", _str(2), nullable=False),
        sa.Column("shown_text", sa.Text(), nullable=False),
        _ts("given_at"),
        sa.ForeignKeyConstraint(["draft_id"], ["review_draft.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("draft_id", "channel", name="uq_review_consent_channel"),
    )
    with op.batch_alter_table("review_consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_consent_draft_id"), ["draft_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_consent_household_id"), ["household_id"], unique=False)

    op.create_table(
        "referral_link",
        sa.Column("code", _str(24), nullable=False),
        sa.Column("draft_id", _str(40), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("merchant_id", _str(40), nullable=False),
        sa.Column("product_id", _str(40), nullable=False),
        _ts("created_at"),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["review_draft.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"]),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.PrimaryKeyConstraint("code"),
        sa.UniqueConstraint("draft_id"),
    )
    with op.batch_alter_table("referral_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_link_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_referral_link_merchant_id"), ["merchant_id"], unique=False)

    op.create_table(
        "referral_order",
        sa.Column("order_id", _str(40), nullable=False),
        sa.Column("code", _str(24), nullable=False),
        sa.Column("referrer_household_id", _str(40), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("merchant_id", _str(40), nullable=False),
        sa.Column("attributed", sa.Boolean(), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("reason", _str(32), nullable=True),
        sa.Column("reward_status", _str(16), nullable=False),
        _ts("created_at"),
        _ts("decided_at", nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["order.id"]),
        sa.ForeignKeyConstraint(["code"], ["referral_link.code"]),
        sa.ForeignKeyConstraint(["referrer_household_id"], ["household.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchant.id"]),
        sa.PrimaryKeyConstraint("order_id"),
    )
    with op.batch_alter_table("referral_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_order_code"), ["code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_referral_order_referrer_household_id"), ["referrer_household_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_referral_order_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_referral_order_reward_status"), ["reward_status"], unique=False)

    op.create_table(
        "reward",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("order_id", _str(40), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("kind", _str(24), nullable=False),
        sa.Column("amount_minor", sa.Integer(), nullable=False),
        sa.Column("currency", _str(3), nullable=False),
        _ts("granted_at"),
        sa.ForeignKeyConstraint(["order_id"], ["referral_order.order_id"]),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id"),
    )
    with op.batch_alter_table("reward", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reward_household_id"), ["household_id"], unique=False)


def downgrade() -> None:
    for table in ("reward", "referral_order", "referral_link", "review_consent", "review_draft"):
        op.drop_table(table)
