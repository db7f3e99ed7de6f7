"""post: posts and replies, with edit and soft-delete stamps

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOME = sa.text("parent_id IS NULL AND deleted_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "post",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["post.id"], name=op.f("fk_post_parent_id_post"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_post_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post")),
    )
    op.create_index("ix_post_user_id_id", "post", ["user_id", "id"])
    op.create_index("ix_post_parent_id_id", "post", ["parent_id", "id"])
    op.create_index("ix_post_home", "post", ["id"], postgresql_where=HOME, sqlite_where=HOME)


def downgrade() -> None:
    op.drop_index("ix_post_home", table_name="post")
    op.drop_index("ix_post_parent_id_id", table_name="post")
    op.drop_index("ix_post_user_id_id", table_name="post")
    op.drop_table("post")
