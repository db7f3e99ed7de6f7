"""user, post: counters kept in the rows by triggers

A profile's posts, followers and follows, and a post's likes and visible
replies, were counted on every read; a page of Mastodon statuses counted them
for each author. Triggers keep them in the rows instead, in the transaction
of the change, whoever makes it (routes, the CLI, a cascade of deletes).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_COUNTERS = ("posts_count", "followers_count", "following_count")
POST_COUNTERS = ("likes_count", "replies_count")

BACKFILL = (
    """UPDATE "user" SET
        posts_count = (SELECT count(*) FROM post
                       WHERE post.user_id = "user".id AND post.deleted_at IS NULL),
        followers_count = (SELECT count(*) FROM social WHERE social.to_id = "user".id),
        following_count = (SELECT count(*) FROM social WHERE social.from_id = "user".id)""",
    """UPDATE post SET
        likes_count = (SELECT count(*) FROM "like" WHERE "like".post_id = post.id),
        replies_count = (SELECT count(*) FROM post AS reply
                         WHERE reply.parent_id = post.id AND reply.deleted_at IS NULL)""",
)

# PostgreSQL: one function per table. Rows are locked in one order (the post
# before its author, users by id in one statement), so concurrent writers
# wait for each other instead of deadlocking.
POSTGRESQL = (
    """CREATE OR REPLACE FUNCTION pamps_post_counters() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN
            IF OLD.parent_id IS NOT NULL THEN
                UPDATE post SET replies_count = replies_count - 1 WHERE id = OLD.parent_id;
            END IF;
            UPDATE "user" SET posts_count = posts_count - 1 WHERE id = OLD.user_id;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
            IF NEW.parent_id IS NOT NULL THEN
                UPDATE post SET replies_count = replies_count + 1 WHERE id = NEW.parent_id;
            END IF;
            UPDATE "user" SET posts_count = posts_count + 1 WHERE id = NEW.user_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER post_counters AFTER INSERT OR DELETE ON post
    FOR EACH ROW EXECUTE FUNCTION pamps_post_counters()""",
    # Only a change of visibility or parent moves a counter; likes and
    # replies written to the row itself never fire it.
    """CREATE TRIGGER post_counters_update AFTER UPDATE OF deleted_at, parent_id ON post
    FOR EACH ROW WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
                       OR OLD.parent_id IS DISTINCT FROM NEW.parent_id)
    EXECUTE FUNCTION pamps_post_counters()""",
    """CREATE OR REPLACE FUNCTION pamps_like_counters() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE post SET likes_count = likes_count + 1 WHERE id = NEW.post_id;
        ELSE
            UPDATE post SET likes_count = likes_count - 1 WHERE id = OLD.post_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER like_counters AFTER INSERT OR DELETE ON "like"
    FOR EACH ROW EXECUTE FUNCTION pamps_like_counters()""",
    """CREATE OR REPLACE FUNCTION pamps_social_counters() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        change integer := 1;
        edge social := NEW;
    BEGIN
        IF TG_OP = 'DELETE' THEN
            change := -1;
            edge := OLD;
        END IF;
        UPDATE "user" SET
            following_count = following_count
                + CASE WHEN id = edge.from_id THEN change ELSE 0 END,
            followers_count = followers_count
                + CASE WHEN id = edge.to_id THEN change ELSE 0 END
        WHERE id IN (edge.from_id, edge.to_id);
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER social_counters AFTER INSERT OR DELETE ON social
    FOR EACH ROW EXECUTE FUNCTION pamps_social_counters()""",
)

POSTGRESQL_DOWN = (
    "DROP TRIGGER social_counters ON social",
    "DROP FUNCTION pamps_social_counters()",
    'DROP TRIGGER like_counters ON "like"',
    "DROP FUNCTION pamps_like_counters()",
    "DROP TRIGGER post_counters_update ON post",
    "DROP TRIGGER post_counters ON post",
    "DROP FUNCTION pamps_post_counters()",
)


def _sqlite_post(row: str, sign: str) -> str:
    return f"""
        UPDATE post SET replies_count = replies_count {sign} 1
            WHERE id = {row}.parent_id AND {row}.deleted_at IS NULL;
        UPDATE "user" SET posts_count = posts_count {sign} 1
            WHERE id = {row}.user_id AND {row}.deleted_at IS NULL;"""


def _sqlite_social(row: str, sign: str) -> str:
    return f"""
        UPDATE "user" SET following_count = following_count {sign} 1 WHERE id = {row}.from_id;
        UPDATE "user" SET followers_count = followers_count {sign} 1 WHERE id = {row}.to_id;"""


# SQLite: the same counts, one trigger per event (SQLite writes one at a time,
# so the order of the updates does not matter). Foreign-key cascades fire them too.
SQLITE = (
    f"CREATE TRIGGER post_counters_insert AFTER INSERT ON post BEGIN"
    f"{_sqlite_post('NEW', '+')}\n    END",
    f"CREATE TRIGGER post_counters_delete AFTER DELETE ON post BEGIN"
    f"{_sqlite_post('OLD', '-')}\n    END",
    f"CREATE TRIGGER post_counters_update AFTER UPDATE OF deleted_at, parent_id ON post BEGIN"
    f"{_sqlite_post('OLD', '-')}{_sqlite_post('NEW', '+')}\n    END",
    """CREATE TRIGGER like_counters_insert AFTER INSERT ON "like" BEGIN
        UPDATE post SET likes_count = likes_count + 1 WHERE id = NEW.post_id;
    END""",
    """CREATE TRIGGER like_counters_delete AFTER DELETE ON "like" BEGIN
        UPDATE post SET likes_count = likes_count - 1 WHERE id = OLD.post_id;
    END""",
    f"CREATE TRIGGER social_counters_insert AFTER INSERT ON social BEGIN"
    f"{_sqlite_social('NEW', '+')}\n    END",
    f"CREATE TRIGGER social_counters_delete AFTER DELETE ON social BEGIN"
    f"{_sqlite_social('OLD', '-')}\n    END",
)

SQLITE_TRIGGERS = (
    "post_counters_insert",
    "post_counters_delete",
    "post_counters_update",
    "like_counters_insert",
    "like_counters_delete",
    "social_counters_insert",
    "social_counters_delete",
)


def upgrade() -> None:
    for name in USER_COUNTERS:
        op.add_column("user", sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    for name in POST_COUNTERS:
        op.add_column("post", sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    for statement in BACKFILL:
        op.execute(statement)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgres else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL_DOWN:
            op.execute(statement)
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    # A plain DROP COLUMN (SQLite 3.35+): batch mode would rebuild the user
    # table without its expression index, which SQLite cannot reflect.
    for table, names in (("post", POST_COUNTERS), ("user", USER_COUNTERS)):
        for name in names:
            op.execute(f'ALTER TABLE "{table}" DROP COLUMN {name}')
