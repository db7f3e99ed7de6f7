"""Sessions: each login opens one; its tokens name it, and ending it refuses
them at once, on every worker and host (the check is one query per request,
made with the token's user).

Refresh tokens rotate: each is good once. A refresh token of the session
that is not its latest one is a replay (stolen, or used twice): the whole
session ends (refresh-token reuse detection, OAuth 2.0 Security BCP).
"""

import secrets
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, String, bindparam, exists, select, update
from sqlalchemy.sql import ColumnElement, Select, Update
from sqlmodel import col

from pamps.database import Guarded, Row, Runner
from pamps.errors import NotFound, Unauthorized
from pamps.models import Session, User
from pamps.models.base import UTCDateTime
from pamps.services.common import keyset, page_params

MAX_CLIENT = 200
_open = col(Session.ended_at).is_(None)
_now = bindparam("now", type_=UTCDateTime())


@cache
def is_open() -> ColumnElement[bool]:
    """Session ``viewer_session`` of user ``viewer_user`` is open: the check of
    a token, which a statement may include (:func:`viewer_params`). A
    deleted user's sessions go with them."""
    return exists().where(
        col(Session.id) == bindparam("viewer_session", type_=Integer),
        col(Session.user_id) == bindparam("viewer_user", type_=Integer),
        _open,
    )


def viewer_params(session_id: int, user_id: int) -> dict[str, int]:
    return {"viewer_session": session_id, "viewer_user": user_id}


def folds_check(db: Runner) -> bool:
    """Whether the next statement run on ``db`` should include :func:`is_open`
    (a request's database still to check its session, see Guarded)."""
    return isinstance(db, Guarded) and db.folds(is_open())


def new_jti() -> str:
    return secrets.token_urlsafe(24)


@cache
def insert_statement() -> Any:
    table = Session.__table__  # type: ignore[attr-defined]
    values = {
        name: bindparam(name, type_=table.c[name].type)
        for name in ("user_id", "client", "refresh_jti", "created_at", "last_used_at")
    }
    return table.insert().values(**values).returning(table.c.id)


@cache
def user_of_statement() -> Select[Any]:
    """Every column of user ``user_id`` and ``session_id``, when that session
    is theirs and open (the user of a token)."""
    return (
        select(*User.__table__.columns, col(Session.id).label("session_id"))  # type: ignore[attr-defined]
        .join(Session, col(Session.user_id) == col(User.id))
        .where(
            col(Session.id) == bindparam("session_id", type_=Integer),
            col(Session.user_id) == bindparam("user_id", type_=Integer),
            _open,
        )
    )


def _of_user() -> Any:
    return (col(Session.id) == bindparam("session_id", type_=Integer)) & (
        col(Session.user_id) == bindparam("owner", type_=Integer)
    )


@cache
def rotate_statement() -> Update:
    return (
        update(Session)
        .where(_of_user(), col(Session.refresh_jti) == bindparam("jti", type_=String), _open)
        .values(refresh_jti=bindparam("new_jti", type_=String), last_used_at=_now)
        .returning(col(Session.id))
    )


@cache
def end_statement() -> Update:
    return update(Session).where(_of_user(), _open).values(ended_at=_now).returning(col(Session.id))


@cache
def end_others_statement() -> Update:
    return (
        update(Session)
        .where(
            col(Session.user_id) == bindparam("owner", type_=Integer),
            col(Session.id) != bindparam("session_id", type_=Integer),
            _open,
        )
        .values(ended_at=_now)
    )


@cache
def list_statement() -> Select[Any]:
    query: Any = select(
        col(Session.id), col(Session.client), col(Session.created_at), col(Session.last_used_at)
    ).where(col(Session.user_id) == bindparam("owner", type_=Integer), _open)
    return keyset(query, col(Session.id))


# --- operations -------------------------------------------------------------------


async def open_session(db: Runner, user_id: int, client: str) -> tuple[int, str]:
    """A new session of ``user_id`` from ``client`` (its User-Agent): its id
    and the id of its first refresh token."""
    now = datetime.now(UTC)
    jti = new_jti()
    values = {
        "user_id": user_id,
        "client": client[:MAX_CLIENT],
        "refresh_jti": jti,
        "created_at": now,
        "last_used_at": now,
    }
    row = await db.first(insert_statement(), values)
    assert row is not None
    return int(row["id"]), jti


async def user_of(db: Runner, session_id: int, user_id: int) -> Row | None:
    """The user of an open session, with ``session_id``; None once it ended
    or the user is gone."""
    return await db.first(user_of_statement(), {"session_id": session_id, "user_id": user_id})


async def rotate(db: Runner, session_id: int, user_id: int, jti: str) -> str:
    """Spend refresh token ``jti`` of the session: the id of the next one.
    A spent one ends the session; Unauthorized either way."""
    new = new_jti()
    params = {"session_id": session_id, "owner": user_id, "jti": jti}
    now = datetime.now(UTC)
    if await db.first(rotate_statement(), params | {"new_jti": new, "now": now}) is None:
        await end(db, session_id, user_id)  # a replay, or an ended session
        raise Unauthorized()
    return new


async def end(db: Runner, session_id: int, user_id: int) -> bool:
    """End a session of ``user_id``; False when there was no such open one."""
    params = {"session_id": session_id, "owner": user_id, "now": datetime.now(UTC)}
    return await db.first(end_statement(), params) is not None


async def end_others(db: Runner, user_id: int, keep: int) -> None:
    """End every session of ``user_id`` but ``keep`` (a password change)."""
    params = {"owner": user_id, "session_id": keep, "now": datetime.now(UTC)}
    await db.all(end_others_statement(), params)


async def end_own(db: Runner, user_id: int, session_id: int) -> None:
    if not await end(db, session_id, user_id):
        raise NotFound("Session not found")


async def listing(
    db: Runner, user_id: int, current: int, limit: int, before: int | None
) -> list[Row]:
    """Open sessions of ``user_id``, newest first; ``current`` is marked."""
    rows = await db.all(list_statement(), {"owner": user_id, **page_params(limit, before)})
    return [row | {"current": row["id"] == current} for row in rows]
