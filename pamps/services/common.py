"""What every service shares: keyset paging and lookups by username."""

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ARRAY, BigInteger, Integer, String, any_, bindparam, func, select
from sqlalchemy.sql import Select
from sqlmodel import col

from pamps.database import Runner
from pamps.models import User
from pamps.models.post import MAX_ID

S = TypeVar("S", bound=Select[Any])
MAX_IDS = 100  # ids asked about in one request


def among_ids(column: Any, dialect: str) -> Any:
    """``column`` is one of the list ``ids``: an array parameter on PostgreSQL
    (one prepared statement whatever the list's length), an expanded IN on
    SQLite."""
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(Integer)))
    return column.in_(bindparam("ids", expanding=True))


def keyset(query: S, key: Any, newest: bool = True) -> S:
    """``query`` ordered by ``key`` past a cursor, limited: bind parameters
    ``before`` (newest first) or ``after`` (oldest first) and ``limit``, so
    that one statement, built once, serves every page (:func:`page_params`)."""
    if newest:
        # BIGINT: the first page's "before" is MAX_ID + 1, past the id type.
        query = query.where(key < bindparam("before", type_=BigInteger)).order_by(key.desc())
    else:
        query = query.where(key > bindparam("after")).order_by(key)
    return query.limit(bindparam("limit", type_=Integer))


def page_params(limit: int, cursor: int | None, newest: bool = True) -> dict[str, int]:
    """The parameters of a :func:`keyset` statement for a page of ``limit``
    items past ``cursor``; one row more is asked for, to tell whether another
    page follows."""
    if newest:
        return {"before": MAX_ID + 1 if cursor is None else cursor, "limit": limit + 1}
    return {"after": 0 if cursor is None else cursor, "limit": limit + 1}


def page_window(limit: int, before: int | None, after: int | None) -> tuple[bool, dict[str, int]]:
    """Newest first before ``before`` or, given ``after``, oldest first past
    it (Mastodon's min_id): (which order, the :func:`keyset` parameters)."""
    if after is None:
        return True, page_params(limit, before)
    return False, page_params(limit, after, newest=False)


def by_name(username: str) -> dict[str, str] | None:
    """Parameters for a lookup by username (any case); None when no username
    can match: usernames are ASCII letters, digits and "_", so neither a NUL
    (which PostgreSQL would refuse as a parameter) nor any other character,
    such as the Kelvin sign that Python lowercases to "k"."""
    return {"name": username.lower()} if username.isascii() and "\x00" not in username else None


# Served by ix_user_username_lower.
named = func.lower(col(User.username)) == bindparam("name", type_=String)


@cache
def id_by_name_statement() -> Select[Any]:
    return select(col(User.id)).where(named)


async def id_by_name(db: Runner, username: str) -> int | None:
    """The id of the user named ``username`` (any case), if there is one."""
    params = by_name(username)
    row = await db.first(id_by_name_statement(), params) if params else None
    return None if row is None else int(row["id"])
