"""post: index of each user's visible posts, for the timeline and profiles

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VISIBLE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_post_user_visible",
        "post",
        ["user_id", "id"],
        postgresql_where=VISIBLE,
        sqlite_where=VISIBLE,
    )


def downgrade() -> None:
    op.drop_index("ix_post_user_visible", table_name="post")
