"""Accounts: registration, profiles, changes to one's own, the user list."""

from datetime import UTC, datetime
from functools import cache
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import ColumnElement, Integer, String, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Insert, Select, Update
from sqlmodel import col

from pamps.database import Database, Row, Runner
from pamps.errors import BadRequest, Conflict, Forbidden, NotFound
from pamps.models import Post, User, UserCreate, UserUpdate
from pamps.ratelimit import RateLimiter
from pamps.security import hash_password, verify_password
from pamps.services import sessions
from pamps.services.common import MAX_IDS, among_ids, by_name, keyset, named, page_params

PUBLIC_COLUMNS = ("id", "username", "avatar", "bio", "created_at")
EDITABLE = ("email", "avatar", "bio")


def public_columns() -> list[Any]:
    return [User.__table__.c[name] for name in PUBLIC_COLUMNS]  # type: ignore[attr-defined]


def counters() -> list[Any]:
    """A user's counters (UserProfile's), kept in the row by the database."""
    return [col(User.posts_count), col(User.followers_count), col(User.following_count)]


def profile_query(where: ColumnElement[bool], *extra: Any) -> Select[Any]:
    """Users' public fields and counters (UserProfile), with ``extra`` columns."""
    return select(*public_columns(), *counters(), *extra).where(where)


@cache
def profile_by_name_statement() -> Select[Any]:
    return profile_query(named)


@cache
def profiles_statement(dialect: str) -> Select[Any]:
    """The public profiles of the users ``ids``, with their counters."""
    return profile_query(among_ids(col(User.id), dialect))


@cache
def private_profile_statement() -> Select[Any]:
    """One's own profile (``id``): the public one plus the email."""
    return profile_query(col(User.id) == bindparam("id", type_=Integer), col(User.email))


@cache
def by_id_statement() -> Select[Any]:
    """Every column of user ``id`` (the user of a token)."""
    return select(*User.__table__.columns).where(col(User.id) == bindparam("id"))  # type: ignore[attr-defined]


@cache
def by_email_statement() -> Select[Any]:
    return select(*User.__table__.columns).where(col(User.email) == bindparam("email"))  # type: ignore[attr-defined]


@cache
def by_name_statement() -> Select[Any]:
    return select(*User.__table__.columns).where(named)  # type: ignore[attr-defined]


@cache
def list_statement() -> Select[Any]:
    return keyset(select(*public_columns()), col(User.id))


NEW_USER_COLUMNS = ("email", "username", "avatar", "bio", "password", "created_at")


@cache
def insert_statement() -> Insert:
    table = User.__table__  # type: ignore[attr-defined]
    values = {name: bindparam(name, type_=table.c[name].type) for name in NEW_USER_COLUMNS}
    return insert(table).values(**values).returning(table.c.id)


@cache
def update_statement(fields: tuple[str, ...]) -> Update:
    types = {"email": String, "avatar": String, "bio": String, "password": String}
    # Parameter names differ from the columns': an UPDATE reserves those.
    values = {name: bindparam(f"new_{name}", type_=types[name]) for name in fields}
    return update(User).where(col(User.id) == bindparam("user_id", type_=Integer)).values(**values)


# --- operations -------------------------------------------------------------------


async def profile(db: Runner, username: str) -> Row:
    """A public profile with its counters, by username (any case)."""
    params = by_name(username)
    row = await db.first(profile_by_name_statement(), params) if params else None
    if row is None:
        raise NotFound("User not found")
    return row


async def profiles(db: Runner, ids: list[int]) -> dict[int, Row]:
    """Public profiles with their counters, by id, in one query: the users
    of ``ids`` that exist (at most MAX_IDS)."""
    wanted = list(dict.fromkeys(ids))[:MAX_IDS]
    if not wanted:
        return {}
    rows = await db.all(profiles_statement(db.dialect), {"ids": wanted})
    return {int(row["id"]): row for row in rows}


async def private_profile(db: Runner, user_id: int) -> Row:
    row = await db.first(private_profile_statement(), {"id": user_id})
    if row is None:
        raise NotFound("User not found")
    return row


async def by_id(db: Runner, user_id: int) -> Row | None:
    """Every column of a user, the password hash included: never rendered."""
    return await db.first(by_id_statement(), {"id": user_id})


async def find_login(db: Runner, name: str) -> Row | None:
    """The user a login name designates: a username (any case) or an email."""
    if "\x00" in name:  # PostgreSQL text cannot hold NUL; no account has one
        return None
    if "@" in name:
        return await db.first(by_email_statement(), {"email": name.lower()})
    params = by_name(name)
    return await db.first(by_name_statement(), params) if params else None


async def listing(db: Runner, limit: int, before: int | None) -> list[Row]:
    """Users, newest first."""
    return await db.all(list_statement(), page_params(limit, before))


async def _check_free(db: Runner, username: str | None, email: str | None) -> None:
    if username is not None and await find_login(db, username) is not None:
        raise Conflict("Username already taken")
    if email is not None and await db.first(by_email_statement(), {"email": email}):
        raise Conflict("Email already registered")


async def register(db: Database, data: UserCreate) -> Row:
    """Create an account; usernames and emails are unique whatever their case.
    Answers the new public profile."""
    await _check_free(db, data.username, data.email)
    # Argon2 keeps a core busy: hashed in the threadpool, off the event loop.
    hashed = await run_in_threadpool(hash_password, data.password)
    values = data.model_dump() | {"password": hashed, "created_at": datetime.now(UTC)}
    try:
        async with db.transaction() as tx:
            row = await tx.first(insert_statement(), values)
            assert row is not None
            # Read before committing: a failure now stores nothing.
            public = await private_profile(tx, int(row["id"]))
    except IntegrityError:  # a concurrent registration won the race
        raise Conflict("Username or email already registered") from None
    del public["email"]
    return public


async def update_own(db: Database, limiter: RateLimiter, user: Row, changes: UserUpdate) -> Row:
    """Change one's bio, avatar, email or (with the current one) password;
    answers the private profile. A new password ends every other session of
    the user (``user["session_id"]`` goes on)."""
    values = changes.model_dump(exclude_unset=True, include=set(EDITABLE))
    if changes.password is not None:
        if changes.current_password is None:
            raise BadRequest("current_password is required to change the password")
        # Wrong guesses count against the same budget as failed logins, so a
        # stolen token cannot be used to guess the password at leisure.
        account = f"id:{user['id']}"
        await limiter.check("login", "account", account)
        valid, _ = await run_in_threadpool(
            verify_password, changes.current_password, user["password"]
        )
        if not valid:
            await limiter.hit("login", "account", account)
            raise Forbidden("Current password is incorrect")
        values["password"] = await run_in_threadpool(hash_password, changes.password)
    if "email" in values:
        if values["email"] is None:
            raise BadRequest("email cannot be removed")
        if values["email"] == user["email"]:
            del values["email"]
        else:
            await _check_free(db, None, values["email"])
    try:
        async with db.transaction() as tx:
            if values:
                fields = tuple(sorted(values))
                params = {f"new_{name}": value for name, value in values.items()}
                await tx.all(update_statement(fields), params | {"user_id": user["id"]})
            if "password" in values:
                await sessions.end_others(tx, int(user["id"]), int(user["session_id"]))
            return await private_profile(tx, int(user["id"]))
    except IntegrityError:
        raise Conflict("Email already registered") from None


async def set_password_hash(db: Runner, user_id: int, hashed: str) -> None:
    await db.all(update_statement(("password",)), {"user_id": user_id, "new_password": hashed})


@cache
def counts_statement() -> Select[Any]:
    """How many users and visible posts there are (an instance's stats)."""
    users = select(func.count()).select_from(User).scalar_subquery()
    posts = (
        select(func.count())
        .select_from(Post)
        .where(col(Post.deleted_at).is_(None))
        .scalar_subquery()
    )
    return select(users.label("user_count"), posts.label("status_count"))


async def counts(db: Runner) -> Row:
    row = await db.first(counts_statement())
    assert row is not None
    return {"user_count": int(row["user_count"]), "status_count": int(row["status_count"])}


@cache
def search_statement() -> Select[Any]:
    """Users whose username (any case) starts with ``prefix``, by username."""
    name = func.lower(col(User.username))
    query = profile_query(name.like(bindparam("prefix", type_=String), escape="\\"))
    return query.order_by(name).limit(bindparam("limit", type_=Integer))


async def search(db: Runner, prefix: str, limit: int) -> list[Row]:
    """Accounts by username prefix (any case); none for a prefix no username
    could start with."""
    params = by_name(prefix.strip().removeprefix("@"))
    if not params or not params["name"]:
        return []
    escaped = params["name"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return await db.all(search_statement(), {"prefix": escaped + "%", "limit": limit})
