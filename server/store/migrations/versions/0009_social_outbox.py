"""The social posting outbox and channel deliveries: social_outbox, social_local_post, social_handoff.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
Written by hand (only this change's tables).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "social_outbox",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("approval_id", _str(64), nullable=False),
        sa.Column("channel", _str(24), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", _str(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", _str(40), nullable=True),
        sa.Column("last_error", _str(1000), nullable=True),
        sa.Column("remote_id", _str(255), nullable=True),
        sa.Column("remote_url", _str(2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("approval_id", "channel", name="uq_social_outbox_approval_channel"),
    )
    with op.batch_alter_table("social_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_social_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_social_outbox_household_id"), ["household_id"], unique=False)

    op.create_table(
        "social_local_post",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("dedup_key", _str(100), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("language", _str(8), nullable=False),
        sa.Column("text", _str(10000), nullable=False),
        sa.Column("link", _str(2048), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("social_local_post", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_local_post_household_id"), ["household_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_social_local_post_posted_at"), ["posted_at"], unique=False)

    op.create_table(
        "social_handoff",
        sa.Column("token", _str(64), nullable=False),
        sa.Column("dedup_key", _str(100), nullable=False),
        sa.Column("channel", _str(24), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("title", _str(200), nullable=False),
        sa.Column("text", _str(10000), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("open_url", _str(4096), nullable=True),
        sa.Column("remote_id", _str(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("social_handoff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_social_handoff_household_id"), ["household_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("social_handoff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_handoff_household_id"))
    op.drop_table("social_handoff")
    with op.batch_alter_table("social_local_post", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_local_post_posted_at"))
        batch_op.drop_index(batch_op.f("ix_social_local_post_household_id"))
    op.drop_table("social_local_post")
    with op.batch_alter_table("social_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_social_outbox_household_id"))
        batch_op.drop_index("ix_social_outbox_due")
    op.drop_table("social_outbox")
