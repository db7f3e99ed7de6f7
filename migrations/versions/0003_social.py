"""social: who follows whom

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "social",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_id", sa.Integer(), nullable=False),
        sa.Column("to_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("from_id <> to_id", name=op.f("ck_social_no_self_follow")),
        sa.ForeignKeyConstraint(
            ["from_id"], ["user.id"], name=op.f("fk_social_from_id_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["to_id"], ["user.id"], name=op.f("fk_social_to_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_social")),
        sa.UniqueConstraint("from_id", "to_id", name="uq_social_from_id_to_id"),
    )
    op.create_index("ix_social_from_id_id", "social", ["from_id", "id"])
    op.create_index("ix_social_to_id_id", "social", ["to_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_social_to_id_id", table_name="social")
    op.drop_index("ix_social_from_id_id", table_name="social")
    op.drop_table("social")
