"""oauth_code: authorization codes of the Mastodon-compatible API's OAuth

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=5), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["oauth_app.id"], name="fk_oauth_code_app_id_oauth_app", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_oauth_code_user_id_user", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["oauth_token.id"],
            name="fk_oauth_code_token_id_oauth_token",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_code"),
        sa.UniqueConstraint("code_hash", name="uq_oauth_code_code_hash"),
    )
    op.create_index("ix_oauth_code_expires_at", "oauth_code", ["expires_at"])
    op.create_index("ix_oauth_code_app_id", "oauth_code", ["app_id"])
    op.create_index("ix_oauth_code_user_id", "oauth_code", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_oauth_code_user_id", table_name="oauth_code")
    op.drop_index("ix_oauth_code_app_id", table_name="oauth_code")
    op.drop_index("ix_oauth_code_expires_at", table_name="oauth_code")
    op.drop_table("oauth_code")
