"""Review media: the poster drawn at approval and the fridge's uploaded video, per draft and kind.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-05
Written by hand (only this change's table).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _str(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "review_media",
        sa.Column("id", _str(40), nullable=False),
        sa.Column("draft_id", _str(40), nullable=False),
        sa.Column("household_id", _str(40), nullable=False),
        sa.Column("kind", _str(16), nullable=False),
        sa.Column("content_type", _str(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", _str(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["draft_id"], ["review_draft.id"]),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("draft_id", "kind", name="uq_review_media_draft_kind"),
    )
    with op.batch_alter_table("review_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_media_draft_id"), ["draft_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_media_household_id"), ["household_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_media_household_id"))
        batch_op.drop_index(batch_op.f("ix_review_media_draft_id"))
    op.drop_table("review_media")
