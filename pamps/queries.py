"""The statements of the hot routes, built once, run by :mod:`pamps.database`.

Every value is a bind parameter, so one statement (and, on PostgreSQL, one
prepared statement per connection) serves every request. Lists take the
keyset parameters of :attr:`pamps.pagination.Page.params`. Each function is
cached: building a statement costs more than running it.
"""

from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Insert,
    Integer,
    String,
    bindparam,
    exists,
    func,
    insert,
    literal_column,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import CompoundSelect, Select
from sqlmodel import col

from pamps.models import Like, Post, Social, User, visible_posts
from pamps.models.base import UTCDateTime
from pamps.pagination import keyset

_visible = col(Post.deleted_at).is_(None)


@cache
def home() -> Select[Any]:
    """Visible top-level posts, newest first."""
    return keyset(visible_posts().where(col(Post.parent_id).is_(None)), col(Post.id))


@cache
def post() -> Select[Any]:
    """One visible post (``id``), shaped like PostPublic."""
    return visible_posts().where(col(Post.id) == bindparam("id"))


@cache
def replies() -> Select[Any]:
    """Visible replies of post ``id``, oldest first."""
    query = visible_posts().where(col(Post.parent_id) == bindparam("id"))
    return keyset(query, col(Post.id), newest=False)


def by_name(username: str) -> dict[str, str] | None:
    """Parameters for a lookup by username (any case); None when no username
    can match: usernames are ASCII letters, digits and "_", so neither a NUL
    (which PostgreSQL would refuse as a parameter) nor any other character,
    such as the Kelvin sign that Python lowercases to "k"."""
    return {"name": username.lower()} if username.isascii() and "\x00" not in username else None


_named = func.lower(col(User.username)) == bindparam("name", type_=String)  # ix_user_username_lower


@cache
def post_with_replies() -> CompoundSelect:
    """:func:`post` and a page of its :func:`replies` in one round trip, by id:
    the post's row is the one whose id is ``id`` (absent: no visible post)."""
    parts = (select(part.subquery()) for part in (post(), replies()))
    return union_all(*parts)


@cache
def user_posts(include_replies: bool) -> Select[Any]:
    """Visible posts of the user named ``name`` (see :func:`by_name`), newest
    first; replies when asked for. No rows: no posts, or no such user."""
    # Not correlated with the "user" that visible_posts() joins for the username.
    author = select(col(User.id)).where(_named).correlate(None).scalar_subquery()
    query = visible_posts().where(col(Post.user_id) == author)
    if not include_replies:
        query = query.where(col(Post.parent_id).is_(None))
    return keyset(query, col(Post.id))


@cache
def visible_post_id() -> Select[Any]:
    return select(col(Post.id)).where(col(Post.id) == bindparam("id"), _visible)


@cache
def user_exists() -> Select[Any]:
    return select(col(User.id)).where(col(User.id) == bindparam("id"))


@cache
def post_for_viewer() -> Select[Any]:
    """:func:`post`, plus ``viewer``: whether user ``user_id`` exists."""
    viewer = exists().where(col(User.id) == bindparam("user_id", type_=Integer))
    return post().add_columns(viewer.label("viewer"))


@cache
def user_by_id() -> Select[Any]:
    """Every column of user ``id`` (the user of a token)."""
    return select(*User.__table__.columns).where(col(User.id) == bindparam("id"))  # type: ignore[attr-defined]


@cache
def user_id_by_name() -> Select[Any]:
    return select(col(User.id)).where(_named)


@cache
def profile_by_name() -> Select[Any]:
    """A user's public fields and counters (UserProfile), by ``name``."""
    posts = (
        select(func.count())
        .select_from(Post)
        .where(col(Post.user_id) == col(User.id), _visible)
        .scalar_subquery()
    )
    followers = (
        select(func.count())
        .select_from(Social)
        .where(col(Social.to_id) == col(User.id))
        .scalar_subquery()
    )
    following = (
        select(func.count())
        .select_from(Social)
        .where(col(Social.from_id) == col(User.id))
        .scalar_subquery()
    )
    return select(
        col(User.id),
        col(User.username),
        col(User.avatar),
        col(User.bio),
        col(User.created_at),
        posts.label("posts_count"),
        followers.label("followers_count"),
        following.label("following_count"),
    ).where(_named)


@cache
def timeline(dialect: str) -> Select[Any]:
    """The newest visible posts of the users ``user_id`` follows.

    On PostgreSQL a LATERAL join takes the newest ``limit`` posts of each
    followed user from ix_post_user_visible and merges only those: the cost
    follows the number of follows, never the size of the post table. (The
    plain IN form lets the planner walk the whole primary key backwards for
    a user whose follows post rarely.) SQLite has no LATERAL; its planner
    handles the IN form through the same index.
    """
    followed = select(col(Social.to_id)).where(col(Social.from_id) == bindparam("user_id"))
    if dialect == "postgresql":
        follows = followed.subquery("follows")
        recent = (
            select(col(Post.id))
            .where(col(Post.user_id) == follows.c.to_id, _visible)
            .where(col(Post.id) < bindparam("before", type_=BigInteger))
            .order_by(col(Post.id).desc())
            .limit(bindparam("limit", type_=Integer))
            .lateral("recent")
        )
        ids: Any = select(recent.c.id).select_from(follows.join(recent, true()))
        newest: Any = recent.c.id
    else:
        ids = select(col(Post.id)).where(col(Post.user_id).in_(followed), _visible)
        newest = col(Post.id)
    # The page's ids are picked before any row is read: the merge above can
    # hold a thousand candidates (50 follows at S2), of which 21 are shown.
    page = keyset(ids, newest)
    return keyset(visible_posts().where(col(Post.id).in_(page)), col(Post.id))


@cache
def insert_post() -> Insert:
    """A new post by user ``user_id``, written only if that user exists;
    answers its columns and the author's username (the counters of a new
    post are 0)."""
    table = Post.__table__  # type: ignore[attr-defined]
    # Written out: SQLAlchemy does not correlate a subquery of RETURNING with
    # the table written to.
    author: Any = literal_column('(SELECT username FROM "user" WHERE "user".id = post.user_id)')
    values = select(
        bindparam("text", type_=String),
        bindparam("date", type_=UTCDateTime()),
        col(User.id),
        bindparam("parent_id", type_=Integer),
    ).where(col(User.id) == bindparam("user_id", type_=Integer))
    return (
        insert(table)
        .from_select(["text", "date", "user_id", "parent_id"], values)
        .returning(
            table.c.id,
            table.c.text,
            table.c.date,
            table.c.user_id,
            author.label("username"),
            table.c.parent_id,
            table.c.edited_at,
        )
    )


@cache
def insert_like(dialect: str) -> Insert:
    """Like post ``post_id`` as ``user_id`` if the post is visible and the user
    exists; answers a row only when a like was written (ON CONFLICT DO NOTHING: concurrent
    likes can never make a duplicate)."""
    table = Like.__table__  # type: ignore[attr-defined]
    dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    post_visible = exists().where(col(Post.id) == bindparam("post_id"), _visible)
    values = select(
        col(User.id),
        bindparam("post_id", type_=Integer),
        bindparam("date", type_=UTCDateTime()),
    ).where(col(User.id) == bindparam("user_id", type_=Integer), post_visible)
    return (
        dialect_insert(table)
        .from_select(["user_id", "post_id", "date"], values)
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )


@cache
def like_and_read() -> Select[Any]:
    """PostgreSQL: :func:`insert_like` then :func:`post_for_viewer` in one
    round trip (parameters of both), plus ``created``: whether a like was
    written. The counters are read in the statement's snapshot, which does
    not see its own insert: the new like is added to ``likes_count``. No
    row: no visible post (nothing was written)."""
    liked = insert_like("postgresql").cte("liked")
    written = select(func.count()).select_from(liked).scalar_subquery()
    public = post_for_viewer().subquery("public")
    columns = [
        (column + written).label("likes_count") if column.name == "likes_count" else column
        for column in public.c
    ]
    return select(*columns, (written > literal_column("0")).label("created"))
