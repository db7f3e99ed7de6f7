"""Follows and likes: who follows whom, who likes what.

Uniqueness is the database's job: writes are INSERT ... ON CONFLICT DO
NOTHING, so concurrent requests never make a duplicate, and the loser of a
race learns it from the missing RETURNING row.
"""

from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Delete, Insert, Integer, bindparam, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select
from sqlmodel import col

from pamps.config import setting
from pamps.database import Row, Runner
from pamps.errors import BadRequest, NotFound
from pamps.models import Like, Post, Social, User
from pamps.models.base import UTCDateTime
from pamps.services import posts, sessions, users
from pamps.services.common import MAX_IDS, among_ids, keyset, page_params, page_window
from pamps.services.users import public_columns


def _insert_or_ignore(dialect: str, table: Any, values: Any) -> Insert:
    dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    columns = [column.name for column in values.selected_columns]
    return (
        dialect_insert(table)
        .from_select(columns, values)
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )


# --- follows ----------------------------------------------------------------------


@cache
def public_user_statement() -> Select[Any]:
    return select(*public_columns()).where(col(User.id) == bindparam("id"))


@cache
def follow_statement(dialect: str) -> Insert:
    """``from_id`` follows ``to_id`` if that user exists."""
    values: Any = select(
        bindparam("from_id", type_=Integer).label("from_id"),
        col(User.id).label("to_id"),
        bindparam("date", type_=UTCDateTime()).label("date"),
    ).where(col(User.id) == bindparam("to_id", type_=Integer))
    return _insert_or_ignore(dialect, Social.__table__, values)  # type: ignore[attr-defined]


@cache
def unfollow_statement() -> Delete:
    return delete(Social).where(
        col(Social.from_id) == bindparam("from_id"), col(Social.to_id) == bindparam("to_id")
    )


@cache
def graph_statement(direction: str) -> Select[Any]:
    """Followers of user ``id`` (direction "followers") or the users they
    follow, newest edge first (cursor: ``edge_id``)."""
    mine, theirs = (
        (Social.to_id, Social.from_id)
        if direction == "followers"
        else (Social.from_id, Social.to_id)
    )
    query = (
        select(*public_columns(), col(Social.id).label("edge_id"))
        .join(Social, col(theirs) == col(User.id))
        .where(col(mine) == bindparam("id"))
    )
    return keyset(query, col(Social.id))


@cache
def graph_profiles_statement(direction: str, newest: bool = True) -> Select[Any]:
    """:func:`graph_statement` with each user's counters (Mastodon's Accounts)."""
    mine, theirs = (
        (Social.to_id, Social.from_id)
        if direction == "followers"
        else (Social.from_id, Social.to_id)
    )
    query = users.profile_query(col(mine) == bindparam("id"), col(Social.id).label("edge_id")).join(
        Social, col(theirs) == col(User.id)
    )
    return keyset(query, col(Social.id), newest)


@cache
def likers_statement(newest: bool = True) -> Select[Any]:
    """Users who like post ``post_id``, with their counters, most recent like
    first (cursor: ``like_id``)."""
    query = users.profile_query(
        col(Like.post_id) == bindparam("post_id"), col(Like.id).label("like_id")
    ).join(Like, col(Like.user_id) == col(User.id))
    return keyset(query, col(Like.id), newest)


@cache
def relationships_statement(dialect: str) -> Select[Any]:
    """For each of ``ids``: does ``user_id`` follow them, do they follow ``user_id``."""
    target = col(User.id)
    me = bindparam("user_id", type_=Integer)
    following = exists().where(col(Social.from_id) == me, col(Social.to_id) == target)
    followed_by = exists().where(col(Social.from_id) == target, col(Social.to_id) == me)
    query: Any = select(
        target.label("id"), following.label("following"), followed_by.label("followed_by")
    ).where(among_ids(target, dialect))
    return query


async def follow(db: Runner, user_id: int, target_id: int) -> tuple[Row, bool]:
    """Follow ``target_id``: (their public profile, whether this is new)."""
    if target_id == user_id:
        raise BadRequest("You cannot follow yourself")
    values = {"from_id": user_id, "to_id": target_id, "date": datetime.now(UTC)}
    try:
        created = await db.first(follow_statement(db.dialect), values) is not None
    except IntegrityError:  # the user was deleted meanwhile
        created = False
    target = await db.first(public_user_statement(), {"id": target_id})
    if target is None:
        raise NotFound("User not found")
    return target, created


async def unfollow(db: Runner, user_id: int, target_id: int) -> None:
    if await db.first(public_user_statement(), {"id": target_id}) is None:
        raise NotFound("User not found")
    await db.all(unfollow_statement(), {"from_id": user_id, "to_id": target_id})


async def graph(
    db: Runner, user_id: int, direction: str, limit: int, before: int | None
) -> list[Row]:
    """A page of followers or followed users of ``user_id``."""
    return await db.all(graph_statement(direction), {"id": user_id, **page_params(limit, before)})


async def graph_profiles(
    db: Runner,
    user_id: int,
    direction: str,
    limit: int,
    before: int | None,
    after: int | None = None,
) -> list[Row]:
    """:func:`graph` with each user's counters (oldest first past ``after``)."""
    newest, params = page_window(limit, before, after)
    return await db.all(graph_profiles_statement(direction, newest), {"id": user_id, **params})


async def relationships(db: Runner, user_id: int, ids: list[int]) -> list[Row]:
    """How ``user_id`` stands with each existing user of ``ids``, in their order."""
    wanted = list(dict.fromkeys(ids))[:MAX_IDS]
    rows = await db.all(relationships_statement(db.dialect), {"user_id": user_id, "ids": wanted})
    found = {row["id"]: row for row in rows}
    return [
        {
            "id": i,
            "following": bool(found[i]["following"]),
            "followed_by": bool(found[i]["followed_by"]),
        }
        for i in wanted
        if i in found
    ]


# --- likes --------------------------------------------------------------------


@cache
def like_statement(dialect: str, checks_session: bool = False) -> Insert:
    """``user_id`` likes ``post_id`` if the post is visible (and, with
    ``checks_session``, the request's session is open)."""
    values: Any = select(
        bindparam("user_id", type_=Integer).label("user_id"),
        col(Post.id).label("post_id"),
        bindparam("date", type_=UTCDateTime()).label("date"),
    ).where(col(Post.id) == bindparam("post_id", type_=Integer), posts.visible)
    if checks_session:
        values = values.where(sessions.is_open())
    return _insert_or_ignore(dialect, Like.__table__, values)  # type: ignore[attr-defined]


@cache
def unlike_statement() -> Delete:
    return delete(Like).where(
        col(Like.user_id) == bindparam("user_id"), col(Like.post_id) == bindparam("post_id")
    )


@cache
def liked_ids_statement(dialect: str) -> Select[Any]:
    return select(col(Like.post_id)).where(
        col(Like.user_id) == bindparam("user_id"), among_ids(col(Like.post_id), dialect)
    )


@cache
def like_and_read_statement(checks_session: bool = False) -> Select[Any]:
    """PostgreSQL: :func:`like_statement`, then the post as posts.read reads
    it, in one statement, with ``created``: whether a like was written. Its
    snapshot does not see its own insert, so the new like is added to
    ``likes_count``. No row: the post is not visible (or, ``checks_session``,
    the session is not open)."""
    liked = like_statement("postgresql", checks_session).cte("liked")
    written = select(func.count()).select_from(liked).scalar_subquery()
    post = posts.post_statement()
    if checks_session:
        post = post.where(sessions.is_open())
    read = post.subquery("post")
    columns = [
        (column + written).label(column.name) if column.name == "likes_count" else column
        for column in read.c
    ]
    return select(*columns, (written > 0).label("created"))


async def like(db: Runner, user_id: int, post_id: int) -> tuple[Row, bool]:
    """Like a post: (the post, whether the like is new)."""
    values = {"user_id": user_id, "post_id": post_id, "id": post_id, "date": datetime.now(UTC)}
    checks_session = sessions.folds_check(db)
    try:
        if db.dialect == "postgresql" and setting("db.like_in_one_statement"):
            # A statement fewer (decision row "a like in one statement").
            row = await db.first(like_and_read_statement(checks_session), values)
            if row is None:
                raise NotFound("Post not found")
            if row.pop("created"):
                return row, True
            # Liked already, perhaps by a request of the same user that this
            # statement's snapshot predates: the post is read afresh.
            created = False
        else:
            statement = like_statement(db.dialect, checks_session)
            created = await db.first(statement, values) is not None
    except IntegrityError:  # the post or the user vanished meanwhile
        created = False
    return await posts.read(db, post_id), created


async def unlike(db: Runner, user_id: int, post_id: int) -> None:
    await posts.read(db, post_id)
    await db.all(unlike_statement(), {"user_id": user_id, "post_id": post_id})


async def liked_ids(db: Runner, user_id: int, ids: list[int]) -> list[int]:
    """Which of ``ids`` ``user_id`` likes, in the order asked."""
    wanted = list(dict.fromkeys(ids))[:MAX_IDS]
    rows = await db.all(liked_ids_statement(db.dialect), {"user_id": user_id, "ids": wanted})
    liked = {row["post_id"] for row in rows}
    return [i for i in wanted if i in liked]


async def likers(
    db: Runner, post_id: int, limit: int, before: int | None, after: int | None = None
) -> list[Row]:
    """Who likes a visible post, with their counters (oldest like first past
    ``after``); NotFound otherwise."""
    await posts.read(db, post_id)
    newest, params = page_window(limit, before, after)
    return await db.all(likers_statement(newest), {"post_id": post_id, **params})
