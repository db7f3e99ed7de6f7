"""oauth_app and oauth_token: apps and tokens of the Mastodon-compatible API

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_app",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_app"),
        sa.UniqueConstraint("client_id", name="uq_oauth_app_client_id"),
    )
    op.create_table(
        "oauth_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"], ["oauth_app.id"], name="fk_oauth_token_app_id_oauth_app", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_oauth_token_user_id_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_oauth_token"),
        sa.UniqueConstraint("token_hash", name="uq_oauth_token_token_hash"),
        sa.UniqueConstraint("refresh_hash", name="uq_oauth_token_refresh_hash"),
    )
    op.create_index("ix_oauth_token_user_id", "oauth_token", ["user_id"])
    op.create_index("ix_oauth_token_app_id", "oauth_token", ["app_id"])


def downgrade() -> None:
    op.drop_index("ix_oauth_token_app_id", table_name="oauth_token")
    op.drop_index("ix_oauth_token_user_id", table_name="oauth_token")
    op.drop_table("oauth_token")
    op.drop_table("oauth_app")
