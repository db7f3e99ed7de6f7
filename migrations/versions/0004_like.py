"""like: one like per user and post

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "like",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["post.id"], name=op.f("fk_like_post_id_post"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_like_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_like")),
        sa.UniqueConstraint("user_id", "post_id", name="uq_like_user_id_post_id"),
    )
    op.create_index("ix_like_user_id_id", "like", ["user_id", "id"])
    op.create_index("ix_like_post_id", "like", ["post_id"])


def downgrade() -> None:
    op.drop_index("ix_like_post_id", table_name="like")
    op.drop_index("ix_like_user_id_id", table_name="like")
    op.drop_table("like")
