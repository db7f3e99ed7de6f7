"""Statements of the hot routes, run straight on the driver.

The routes that carry the traffic (home, a post, a user's posts, a profile,
the timeline, posting, liking, the current user of every token) build their
statements once with SQLAlchemy Core, a bind parameter for every value
(:mod:`pamps.queries`), and run them through :class:`Database`:

- on PostgreSQL each statement is compiled once to SQL text and run on
  psycopg 3's own connection pool as a server-side prepared statement, rows
  as dicts, each statement its own transaction (autocommit);
- on SQLite it runs through SQLAlchemy's async engine (Core, no ORM), which
  also turns SQLite's text dates into timezone-aware ones.

Why not the ORM session there: per statement, SQLAlchemy's ORM and asyncio
bridge cost about 1 ms of CPU against about 0.2 ms here, and the session
kept the whole API at 150-300 req/s (docs/performance.md). The less-used
routes keep the ORM session (:mod:`pamps.db`).

Driver errors come out as SQLAlchemy's exception types (IntegrityError,
OperationalError, DataError, TimeoutError for an exhausted pool), so one
error handler (app.py) and the routes' ``except IntegrityError`` serve both
paths alike.
"""

import asyncio
import logging
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, cast

import psycopg
from fastapi import Depends
from psycopg.conninfo import make_conninfo
from psycopg.pq import ExecStatus
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ClauseElement, CompoundSelect, Select
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.selectable import CTE
from sqlalchemy.sql.visitors import iterate

from pamps.config import settings

log = logging.getLogger("pamps")

TUPLES_OK = ExecStatus.TUPLES_OK

# The hot statements run on the plan made when they were prepared (the
# "generic" plan), never planned again. By default PostgreSQL plans such a
# statement again on every run when the generic plan's estimate looks worse
# than the specific ones, as it does for a LIMIT given as a parameter: home
# was planned on each run. S2, one connection, per run, PostgreSQL's default
# vs always generic: home 0.42 vs 0.23 ms, a user's posts 0.46 vs 0.34, the
# timeline 0.95 vs 0.88, a post and a profile ~0.2 either way
# (docs/performance.md).
# tests/test_social.py checks the generic plans of the lists, a post, a
# profile and a token's user: no Seq Scan, each list from its own index. JIT off:
# those pessimistic estimates would otherwise compile each run to machine
# code (~12 ms each) for statements that take a fraction of a millisecond.
# Memoize off (PostgreSQL 14 and later know the setting): a generic plan
# knows neither the cursor nor the LIMIT, so it guesses that `id < $1` keeps a
# third of the posts (265,600 rows for home at S3), put a Memoize in front of
# each post's author and sized its hash table for that guess (one entry per
# user), built and freed on every run for 21 rows: at S3 (50k users) a run of
# home took 0.78 ms, its rows 0.14 ms of it, and pgbench gave home's SQL
# 10,000 TPS against 20,000 without Memoize (docs/performance.md).
SESSION_SETTINGS = {"plan_cache_mode": "force_generic_plan", "jit": "off", "enable_memoize": "off"}
SESSION_OPTIONS = " ".join(f"-c {name}={value}" for name, value in SESSION_SETTINGS.items())

Row = dict[str, Any]
Params = Mapping[str, Any]


class Database(ABC):
    """Runs prebuilt statements; every call is its own transaction."""

    dialect: str

    @abstractmethod
    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        """Every row ``statement`` returns (none for a statement without rows)."""

    async def first(self, statement: Executable, params: Params | None = None) -> Row | None:
        rows = await self.all(statement, params)
        return rows[0] if rows else None

    @abstractmethod
    async def close(self) -> None:
        """Close the connections this object opened."""


class PostgresDatabase(Database):
    """psycopg 3's async pool and server-side prepared statements."""

    dialect = "postgresql"

    def __init__(self, uri: str) -> None:
        url = make_url(uri)
        query = {key: str(value) for key, value in url.query.items()}
        db = settings.db
        self.pool = AsyncConnectionPool(
            # From the URL's parts: a password may hold anything, spaces too.
            make_conninfo(
                "",
                host=url.host,
                port=url.port,
                user=url.username,
                password=url.password,
                dbname=url.database,
                **query,
            ),
            # Opened as requests need them, up to the same capacity as the
            # ORM's pool; a server keeps pool_size of them (warm_up()), others
            # close after 10 idle minutes.
            min_size=0,
            max_size=int(db.pool_size) + int(db.max_overflow),
            # Requests queue in the in-flight cap (ConcurrencyLimit) for up to
            # pool_timeout; one admitted here waits only for a connection to
            # open, so a database that is down answers 503 within the connect
            # timeout, never later.
            timeout=min(float(db.pool_timeout), float(db.connect_timeout)),
            open=False,
            name="pamps",
            # No round trip to test a connection before each use (it cost
            # ~12 % of the throughput): the first request to meet a dead one
            # has the pool tested and, if a read, is run again (all()).
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "connect_timeout": int(db.connect_timeout),
                "application_name": "pamps",
                # Dates come back in UTC, rendered with a "Z".
                "options": f"-c statement_timeout={int(db.statement_timeout_ms)} -c TimeZone=UTC "
                + SESSION_OPTIONS,
            },
        )
        self._dialect = PGDialect_psycopg()
        self._compiled: dict[int, tuple[Executable, str, dict[str, Any]]] = {}

    def _sql(self, statement: Executable) -> tuple[str, dict[str, Any]]:
        """The SQL text of ``statement`` and its fixed parameters, compiled once."""
        entry = self._compiled.get(id(statement))
        if entry is None or entry[0] is not statement:
            assert isinstance(statement, ClauseElement)
            compiled = statement.compile(dialect=self._dialect)
            entry = (statement, compiled.string, dict(compiled.params))
            self._compiled[id(statement)] = entry
        return entry[1], entry[2]

    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        sql, fixed = self._sql(statement)
        values = {**fixed, **params} if params else fixed
        try:
            if self.pool.closed:
                await self.pool.open()  # refused once closed (shutdown): a 503
            try:
                return await self._run(sql, values)
            except _Broken as broken:
                # The others idle in the pool likely died with it (a database
                # restart): test them all now, replacing the dead ones.
                await self.pool.check()
                # A read is safe to run again; a write is not (the connection
                # may have broken after it was applied): its client gets a
                # 503 and decides.
                if not reads_only(statement):
                    raise broken.error from None
            try:
                return await self._run(sql, values)
            except _Broken as broken:
                raise broken.error from None
        except PoolTimeout as error:
            raise sa_exc.TimeoutError(str(error)) from error
        except psycopg.Error as error:
            raise sa_exc.DBAPIError.instance(
                sql,
                values,
                error,
                psycopg.Error,
                hide_parameters=True,
                connection_invalidated=isinstance(error, psycopg.OperationalError),
            ) from error

    async def _run(self, sql: str, values: Params) -> list[Row]:
        # getconn/putconn, not pool.connection(): in autocommit there is no
        # transaction for its context to end, and putconn resets a connection
        # left in any other state.
        conn = await self.pool.getconn()
        try:
            cursor = conn.cursor()
            await cursor.execute(sql, values, prepare=True)
            # The result's status, not cursor.description, which builds a
            # column object per column (~10 % of a cheap request's driver time).
            result = cursor.pgresult
            if result is None or result.status != TUPLES_OK:
                return []
            return cast(list[Row], await cursor.fetchall())
        except psycopg.OperationalError as error:
            if conn.broken:  # the pool drops it when it comes back
                raise _Broken(error) from error
            raise
        finally:
            await self.pool.putconn(conn)

    async def warm_up(self) -> None:
        """Keep ``db.pool_size`` connections open from now on (opened in the
        background), so a burst at startup finds them ready."""
        await self.pool.open()
        await self.pool.resize(int(settings.db.pool_size), self.pool.max_size)

    async def close(self) -> None:
        await self.pool.close()


@lru_cache(maxsize=256)
def reads_only(statement: Executable) -> bool:
    """A SELECT that writes nothing: no INSERT, UPDATE or DELETE in a CTE
    (liking is a SELECT over an INSERT), so safe to run again."""
    if not isinstance(statement, Select | CompoundSelect):
        return False
    return not any(isinstance(node, CTE) and node.element.is_dml for node in iterate(statement))


class _Broken(Exception):
    """The connection turned out dead (a database restart, a network cut)."""

    def __init__(self, error: psycopg.OperationalError) -> None:
        self.error = error


class SQLAlchemyDatabase(Database):
    """SQLite: the async engine's Core, which converts SQLite's text dates."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        async with self.engine.begin() as conn:
            result = await conn.execute(statement, dict(params or {}))
            if not result.returns_rows:
                return []
            # Plain str keys: a compound statement's labels are a subclass,
            # which orjson refuses.
            keys = list(map(str, result.keys()))
            return [dict(zip(keys, row, strict=True)) for row in result]

    async def close(self) -> None:
        pass  # the engine is disposed with the others (pamps.db)


# Per event loop: psycopg's async pool belongs to the loop that opened it. A
# server has one loop per worker; tests and the CLI may run several.
_databases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Database]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def _make(uri: str) -> Database:
    if make_url(uri).get_backend_name() == "postgresql":
        return PostgresDatabase(uri)
    from pamps.db import get_async_engine

    return SQLAlchemyDatabase(get_async_engine())


def database() -> Database:
    """The request path's database for the configured ``db.uri`` (call on
    the event loop)."""
    loop = asyncio.get_running_loop()
    uri = str(settings.db.uri)
    per_loop = _databases.get(loop)
    found = per_loop.get(uri) if per_loop is not None else None
    if found is None:
        with _lock:
            per_loop = _databases.setdefault(loop, {})
            found = per_loop.get(uri)
            if found is None:
                found = per_loop[uri] = _make(uri)
    return found


async def get_database() -> Database:
    """:func:`database` as a dependency (async: no threadpool hop)."""
    return database()


async def warm_up() -> None:
    """Open the request path's pool of this loop (a server's startup)."""
    found = database()
    if isinstance(found, PostgresDatabase):
        await found.warm_up()


async def close_databases_async() -> None:
    """Close the pools of the running loop (its shutdown)."""
    with _lock:
        mine = _databases.pop(asyncio.get_running_loop(), {})
    for found in mine.values():
        await found.close()


def close_databases() -> None:
    """Forget every pool, closing those still open (tests, the CLI).

    A pool belongs to the loop that opened it, which has normally closed it
    at its shutdown already; one still open is closed on a loop of its own,
    and dropped if that fails (its loop is gone, and its connections with it).
    """
    from pamps.blocking import run_blocking

    with _lock:
        every = [found for per_loop in _databases.values() for found in per_loop.values()]
        _databases.clear()
    for found in every:
        if isinstance(found, PostgresDatabase) and not found.pool.closed:
            try:
                run_blocking(asyncio.wait_for(found.close(), 5))
            except Exception as error:
                log.debug("pool dropped without closing: %r", error)


DatabaseDep = Annotated[Database, Depends(get_database)]
