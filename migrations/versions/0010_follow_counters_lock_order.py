"""social: a follow's counters locked in the order of the users' ids

0009's trigger updated both users of a follow in one statement, which locks
them in the order the plan visits them; when a concurrent write has just
moved one of the rows, two people following each other at the same moment
could lock them in opposite orders and one of the follows failed with a
deadlock. The lower id is now always updated first. PostgreSQL only: SQLite
runs one write at a time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _function(updates: str) -> str:
    """The trigger function of a follow made or ended, with its updates."""
    return f"""CREATE OR REPLACE FUNCTION pamps_social_counters() RETURNS trigger
LANGUAGE plpgsql AS $$
    DECLARE
        change integer := 1;
        edge social := NEW;
    BEGIN
        IF TG_OP = 'DELETE' THEN
            change := -1;
            edge := OLD;
        END IF;{updates}
        RETURN NULL;
    END $$"""


IN_ID_ORDER = _function("""
        IF edge.from_id < edge.to_id THEN
            UPDATE "user" SET following_count = following_count + change WHERE id = edge.from_id;
            UPDATE "user" SET followers_count = followers_count + change WHERE id = edge.to_id;
        ELSE
            UPDATE "user" SET followers_count = followers_count + change WHERE id = edge.to_id;
            UPDATE "user" SET following_count = following_count + change WHERE id = edge.from_id;
        END IF;""")

# 0009's, as it was.
IN_ONE_STATEMENT = _function("""
        UPDATE "user" SET
            following_count = following_count
                + CASE WHEN id = edge.from_id THEN change ELSE 0 END,
            followers_count = followers_count
                + CASE WHEN id = edge.to_id THEN change ELSE 0 END
        WHERE id IN (edge.from_id, edge.to_id);""")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(IN_ID_ORDER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(IN_ONE_STATEMENT)
