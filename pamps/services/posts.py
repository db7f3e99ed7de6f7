"""Posts and replies: reading, writing, editing, deleting, the timeline.

Statements are built once (``@cache``) with a bind parameter for every value,
so one statement (and, on PostgreSQL, one prepared statement per connection)
serves every request. Lists take the parameters of
:func:`pamps.services.common.page_params`.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    Delete,
    Insert,
    Integer,
    String,
    Update,
    bindparam,
    exists,
    false,
    insert,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.sql import CompoundSelect, Select
from sqlmodel import col

from pamps.database import Database, Guarded, Row, Runner
from pamps.errors import Forbidden, NotFound, UnprocessableContent
from pamps.models import IdempotencyKey, Like, Post, Social, User
from pamps.models.base import UTCDateTime
from pamps.services import sessions
from pamps.services.common import (
    MAX_IDS,
    among_ids,
    by_name,
    id_by_name,
    keyset,
    named,
    page_params,
    page_window,
)

visible = col(Post.deleted_at).is_(None)
NEW_POST_COUNTERS = {"likes_count": 0, "replies_count": 0}


@cache
def visible_posts() -> Select[Any]:
    """Rows shaped like PostPublic, deleted posts always left out (the
    counters are kept in the row by the database)."""
    columns: list[Any] = [
        col(Post.id),
        col(Post.text),
        col(Post.date),
        col(Post.user_id),
        col(User.username),
        col(Post.parent_id),
        col(Post.edited_at),
        col(Post.likes_count),
        col(Post.replies_count),
    ]
    return select(*columns).join(User, col(User.id) == col(Post.user_id)).where(visible)


def threads() -> Any:
    """Top-level posts and replies to one's own posts (Mastodon's "without
    replies": a thread stays, a reply to someone else goes)."""
    parent = aliased(Post)
    # A scalar subquery, one primary-key lookup per reply: PostgreSQL would
    # answer an EXISTS under OR with a hash of the whole post table.
    parent_author = (
        select(col(parent.user_id))
        .where(col(parent.id) == col(Post.parent_id))
        .correlate(Post)
        .scalar_subquery()
    )
    return or_(col(Post.parent_id).is_(None), parent_author == col(Post.user_id))


# --- statements ---------------------------------------------------------------


@cache
def home_statement() -> Select[Any]:
    """Visible top-level posts, newest first."""
    return keyset(visible_posts().where(col(Post.parent_id).is_(None)), col(Post.id))


@cache
def post_statement() -> Select[Any]:
    """One visible post (``id``), shaped like PostPublic."""
    return visible_posts().where(col(Post.id) == bindparam("id"))


@cache
def replies_statement() -> Select[Any]:
    """Visible replies of post ``id``, oldest first."""
    query = visible_posts().where(col(Post.parent_id) == bindparam("id"))
    return keyset(query, col(Post.id), newest=False)


@cache
def post_with_replies_statement() -> CompoundSelect:
    """:func:`post_statement` and a page of its replies in one round trip:
    the post's row is the one whose id is ``id`` (absent: no visible post)."""
    parts = (select(part.subquery()) for part in (post_statement(), replies_statement()))
    return union_all(*parts)


@cache
def public_statement(newest: bool = True) -> Select[Any]:
    """Mastodon's public timeline: visible :func:`threads` posts, newest
    first (or oldest first, past ``after``)."""
    return keyset(visible_posts().where(threads()), col(Post.id), newest)


@cache
def user_posts_statement(
    include_replies: bool, own_threads: bool = False, newest: bool = True
) -> Select[Any]:
    """Visible posts of the user named ``name``, newest first; replies when
    asked for (else, with ``own_threads``, replies to themselves only). No
    rows: no posts, or no such user."""
    # Not correlated with the "user" that visible_posts() joins for the username.
    author = select(col(User.id)).where(named).correlate(None).scalar_subquery()
    query = visible_posts().where(col(Post.user_id) == author)
    if not include_replies:
        query = query.where(threads() if own_threads else col(Post.parent_id).is_(None))
    return keyset(query, col(Post.id), newest)


@cache
def likes_statement(newest: bool = True) -> Select[Any]:
    """Visible posts user ``user_id`` liked, most recent like first."""
    query = (
        visible_posts()
        .add_columns(col(Like.date).label("liked_at"))
        .join(Like, col(Like.post_id) == col(Post.id))
        .where(col(Like.user_id) == bindparam("user_id"))
    )
    return keyset(query.add_columns(col(Like.id).label("like_id")), col(Like.id), newest)


@cache
def timeline_statement(dialect: str, with_own: bool = False, newest: bool = True) -> Select[Any]:
    """The newest visible posts of the users ``user_id`` follows (and, with
    ``with_own``, their own: Mastodon's home timeline).

    On PostgreSQL a LATERAL join takes the newest ``limit`` posts of each
    followed user from ix_post_user_visible and merges only those: the cost
    follows the number of follows, never the size of the post table.
    SQLite has no LATERAL; its planner handles the IN form through the same index.
    ``newest`` False: the oldest posts past ``after`` instead (Mastodon's min_id).
    """
    followed: Any = select(col(Social.to_id)).where(col(Social.from_id) == bindparam("user_id"))
    if with_own:
        followed = union_all(followed, select(bindparam("user_id", type_=Integer)))
    if dialect == "postgresql":
        follows = followed.subquery("follows")
        each = select(col(Post.id)).where(col(Post.user_id) == follows.c.to_id, visible)
        recent = keyset(each, col(Post.id), newest).lateral("recent")
        ids: Any = select(recent.c.id).select_from(follows.join(recent, true()))
        merged: Any = recent.c.id
    else:
        ids = select(col(Post.id)).where(col(Post.user_id).in_(followed), visible)
        merged = col(Post.id)
    # The page's ids are picked before any row is read: the merge above can
    # hold a thousand candidates, of which a page is shown.
    page = keyset(ids, merged, newest)
    return keyset(visible_posts().where(col(Post.id).in_(page)), col(Post.id), newest)


@cache
def insert_statement(checks_session: bool = False) -> Insert:
    """A new post by user ``user_id``, written only if that user exists (and,
    ``checks_session``, the request's session is open) and ``parent_id`` is
    null or a visible post; answers its columns and the author's username."""
    table = Post.__table__  # type: ignore[attr-defined]
    # Written out: SQLAlchemy does not correlate a subquery of RETURNING with
    # the table written to.
    author: Any = literal_column('(SELECT username FROM "user" WHERE "user".id = post.user_id)')
    parent = bindparam("parent_id", type_=Integer)
    parent_visible = exists().where(col(Post.id) == parent, visible)
    values = select(
        bindparam("text", type_=String),
        bindparam("date", type_=UTCDateTime()),
        col(User.id),
        parent,
    ).where(
        col(User.id) == bindparam("user_id", type_=Integer), or_(parent.is_(None), parent_visible)
    )
    if checks_session:
        values = values.where(sessions.is_open())
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


def _own_visible_post() -> Any:
    # Parameter names differ from the columns': an UPDATE reserves those.
    return (
        (col(Post.id) == bindparam("post_id"))
        & (col(Post.user_id) == bindparam("author"))
        & visible
    )


@cache
def edit_statement() -> Update:
    return (
        update(Post)
        .where(_own_visible_post())
        .values(
            text=bindparam("new_text", type_=String),
            edited_at=bindparam("now", type_=UTCDateTime()),
        )
        .returning(col(Post.id))
    )


@cache
def delete_statement() -> Update:
    # Conditional on "not yet deleted": of two concurrent deletes one wins.
    return (
        update(Post)
        .where(_own_visible_post())
        .values(deleted_at=bindparam("now", type_=UTCDateTime()))
        .returning(col(Post.id))
    )


@cache
def authors_statement(dialect: str) -> Select[Any]:
    """The author of each post of ``ids``, deleted or not."""
    query: Any = select(col(Post.id), col(Post.user_id))
    return query.where(among_ids(col(Post.id), dialect))


@cache
def author_statement() -> Select[Any]:
    """The author of visible post ``id``."""
    return select(col(Post.user_id)).where(col(Post.id) == bindparam("id"), visible)


AUTHOR_COLUMNS = (
    "avatar",
    "bio",
    "created_at",
    "posts_count",
    "followers_count",
    "following_count",
)


@cache
def with_authors(
    statement: Select[Any], key: str = "id", newest: bool = True, viewer: bool = True
) -> Select[Any]:
    """``statement``'s page of posts with, in the same round trip, what a
    Mastodon Status adds: its author's profile and counters (``author_*``),
    the author of the post it replies to (``parent_user_id``) and whether
    the user of bind parameter ``viewer`` likes it (``viewer_liked``).
    Without ``viewer`` (an anonymous reader, who likes nothing) it is false
    and the likes are not probed."""
    # The author's columns come from the user row the page already joins for
    # the username: joined again outside, a generic plan (it cannot see the
    # LIMIT) hashed the whole user table for a page of 21.
    user = User.__table__.c  # type: ignore[attr-defined]
    author = [user[name].label(f"author_{name}") for name in AUTHOR_COLUMNS]
    page = statement.add_columns(*author).cte("page")
    parent = aliased(Post)
    parent_author = (
        select(col(parent.user_id)).where(col(parent.id) == page.c.parent_id).scalar_subquery()
    )
    liked: Any = false()
    if viewer:
        user_id = bindparam("viewer", type_=Integer)
        liked = exists().where(col(Like.post_id) == page.c.id, col(Like.user_id) == user_id)
    query = select(page, parent_author.label("parent_user_id"), liked.label("viewer_liked"))
    return query.order_by(page.c[key].desc() if newest else page.c[key])


async def _page(
    db: Runner,
    statement: Select[Any],
    params: dict[str, Any],
    newest: bool,
    key: str = "id",
    viewer: int | None = None,
) -> list[Row]:
    """Run a list ``statement``; ``viewer`` (an id, or 0 for none) asks for
    :func:`with_authors`' columns too."""
    if viewer is None:
        return await db.all(statement, params)
    if not viewer:
        return await db.all(with_authors(statement, key, newest, viewer=False), params)
    return await db.all(with_authors(statement, key, newest), {**params, "viewer": viewer})


# --- operations -----------------------------------------------------------------


async def home(db: Runner, limit: int, before: int | None) -> list[Row]:
    return await db.all(home_statement(), page_params(limit, before))


async def public(
    db: Runner, limit: int, before: int | None, after: int | None = None, viewer: int = 0
) -> list[Row]:
    """Mastodon's public timeline (:func:`public_statement`), with
    :func:`with_authors`' columns for ``viewer``."""
    newest, params = page_window(limit, before, after)
    return await _page(db, public_statement(newest), params, newest, viewer=viewer)


async def post_with_replies(
    db: Runner, post_id: int, limit: int, after: int | None
) -> tuple[Row, list[Row]]:
    """The post and a page of its replies (oldest first, one more than
    ``limit`` when another page follows)."""
    params = {"id": post_id, **page_params(limit, after, newest=False)}
    rows = await db.all(post_with_replies_statement(), params)
    post = next((row for row in rows if row["id"] == post_id), None)
    if post is None:
        raise NotFound("Post not found")
    # The replies' order is their subquery's, which a UNION ALL may not keep.
    replies = sorted((row for row in rows if row is not post), key=lambda row: int(row["id"]))
    return post, replies


async def authors(db: Runner, ids: list[int]) -> dict[int, int]:
    """Who wrote each post of ``ids`` (deleted ones too: a reply still names
    whom it answered), in one query."""
    wanted = list(dict.fromkeys(ids))[:MAX_IDS]
    if not wanted:
        return {}
    rows = await db.all(authors_statement(db.dialect), {"ids": wanted})
    return {int(row["id"]): int(row["user_id"]) for row in rows}


async def read(db: Runner, post_id: int, viewer: int | None = None) -> Row:
    """One visible post; NotFound otherwise. ``viewer``: :func:`with_authors`'
    columns too."""
    rows = await _page(db, post_statement(), {"id": post_id}, True, viewer=viewer)
    row = rows[0] if rows else None
    if row is None:
        raise NotFound("Post not found")
    return row


async def by_user(
    db: Runner,
    username: str,
    include_replies: bool,
    limit: int,
    before: int | None,
    after: int | None = None,
    own_threads: bool = False,
    viewer: int | None = None,
) -> list[Row] | None:
    """A user's posts, newest first (oldest first past ``after``); None when
    there is no such user. See :func:`user_posts_statement`; ``viewer``:
    :func:`with_authors`' columns too."""
    name = by_name(username)
    if name is None:
        return None
    newest, params = page_window(limit, before, after)
    statement = user_posts_statement(include_replies, own_threads, newest)
    rows = await _page(db, statement, {**name, **params}, newest, viewer=viewer)
    if not rows and await id_by_name(db, username) is None:  # only then: is there such a user?
        return None
    return rows


async def liked_by(
    db: Runner,
    username: str,
    limit: int,
    before: int | None,
    after: int | None = None,
    viewer: int | None = None,
) -> list[Row] | None:
    """Posts a user liked, most recent like first (cursor: ``like_id``);
    None when there is no such user. ``viewer``: :func:`with_authors`' columns too."""
    user_id = await id_by_name(db, username)
    if user_id is None:
        return None
    newest, params = page_window(limit, before, after)
    params |= {"user_id": user_id}
    return await _page(db, likes_statement(newest), params, newest, "like_id", viewer)


async def timeline(
    db: Runner,
    user_id: int,
    limit: int,
    before: int | None,
    with_own: bool = False,
    after: int | None = None,
    viewer: int | None = None,
) -> list[Row]:
    """``viewer``: :func:`with_authors`' columns too."""
    newest, params = page_window(limit, before, after)
    statement = timeline_statement(db.dialect, with_own, newest)
    return await _page(db, statement, {"user_id": user_id, **params}, newest, viewer=viewer)


async def create(db: Runner, user_id: int, text: str, parent_id: int | None) -> Row:
    """Publish a post as ``user_id``; NotFound when the parent is not visible.

    One statement, its own transaction: if the database fails nothing is
    stored, so a retry never makes a duplicate."""
    values = {"text": text, "date": datetime.now(UTC), "user_id": user_id, "parent_id": parent_id}
    try:
        row = await db.first(insert_statement(sessions.folds_check(db)), values)
    except IntegrityError:  # the parent or the author vanished meanwhile
        row = None
    if row is None:
        raise NotFound("Post not found")
    return row | NEW_POST_COUNTERS


# --- idempotent posting ------------------------------------------------------------


@cache
def find_key_statement() -> Select[Any]:
    query: Any = select(
        col(IdempotencyKey.id), col(IdempotencyKey.request_hash), col(IdempotencyKey.post_id)
    ).where(
        col(IdempotencyKey.user_id) == bindparam("owner", type_=Integer),
        col(IdempotencyKey.key) == bindparam("key", type_=String),
        col(IdempotencyKey.created_at) > bindparam("since", type_=UTCDateTime()),
    )
    return query


@cache
def forget_key_statement() -> Delete:
    """Keys of ``owner`` named ``key`` older than ``since``: spent."""
    return sql_delete(IdempotencyKey).where(
        col(IdempotencyKey.user_id) == bindparam("owner", type_=Integer),
        col(IdempotencyKey.key) == bindparam("key", type_=String),
        col(IdempotencyKey.created_at) <= bindparam("since", type_=UTCDateTime()),
    )


@cache
def insert_key_statement() -> Insert:
    table = IdempotencyKey.__table__  # type: ignore[attr-defined]
    columns = ("user_id", "key", "request_hash", "post_id", "created_at")
    return insert(table).values(
        **{name: bindparam(f"k_{name}", type_=table.c[name].type) for name in columns}
    )


def request_hash(text: str, parent_id: int | None) -> str:
    """What makes two requests the same: the post's text and parent."""
    canonical = json.dumps([text, parent_id], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def create_once(
    db: Database | Guarded,
    user_id: int,
    text: str,
    parent_id: int | None,
    key: str,
    window: timedelta,
) -> tuple[Row, bool]:
    """:func:`create`, once per ``key`` of ``user_id`` within ``window``:
    (the post, whether it is new). The same key with another text or parent
    is a client error (422); the post and its key are written together."""
    digest = request_hash(text, parent_id)
    now = datetime.now(UTC)
    params = {"owner": user_id, "key": key, "since": now - window}
    try:
        async with db.transaction() as tx:
            await tx.all(forget_key_statement(), params)
            earlier = await tx.first(find_key_statement(), params)
            if earlier is None:
                post = await create(tx, user_id, text, parent_id)
                values = {"user_id": user_id, "key": key, "request_hash": digest}
                values |= {"post_id": post["id"], "created_at": now}
                await tx.all(insert_key_statement(), {f"k_{k}": v for k, v in values.items()})
                return post, True
    except IntegrityError:  # the same key, sent twice at once: the other won
        earlier = await db.first(find_key_statement(), params)
        if earlier is None:
            raise
    if earlier["request_hash"] != digest:
        raise UnprocessableContent("Idempotency-Key was already used with another request")
    return await read(db, int(earlier["post_id"])), False


async def edit(db: Database, user_id: int, post_id: int, text: str) -> Row:
    """Change the text of ``user_id``'s own post; the post as it now reads.
    The answer is read before the change commits: a failure stores nothing."""
    now = datetime.now(UTC)
    params = {"post_id": post_id, "author": user_id, "new_text": text, "now": now}
    async with db.transaction() as tx:
        if await tx.first(edit_statement(), params) is None:
            raise await _not_editable(tx, post_id)
        return await read(tx, post_id)


async def delete(db: Runner, user_id: int, post_id: int) -> None:
    """Delete ``user_id``'s own post; replies others wrote to it stay."""
    params = {"post_id": post_id, "author": user_id, "now": datetime.now(UTC)}
    if await db.first(delete_statement(), params) is None:
        raise await _not_editable(db, post_id)


async def _not_editable(db: Runner, post_id: int) -> Exception:
    """Why a post could not be changed: not there, or someone else's."""
    if await db.first(author_statement(), {"id": post_id}) is None:
        return NotFound("Post not found")
    return Forbidden("You can only change your own posts")
