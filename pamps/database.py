"""The database: one async API for every request, and engines for plain code.

Requests run prebuilt SQLAlchemy Core statements (:mod:`pamps.services`)
through one :class:`Database`, created in the application's lifespan and held
by the application (:mod:`pamps.deps`):

- on PostgreSQL each statement is compiled once to SQL text and run on
  psycopg 3's connection pool as a server-side prepared statement, rows as
  dicts, each call its own transaction unless inside :meth:`Database.transaction`;
- on SQLite it runs through SQLAlchemy's async engine (Core, no ORM), which
  also turns SQLite's text dates into timezone-aware ones.

Driver errors come out as SQLAlchemy's exception types (IntegrityError,
OperationalError, DataError, TimeoutError for an exhausted pool), so one
error handler (app.py) and the services' ``except IntegrityError`` serve both
backends alike.

The CLI, the seeder, migrations and tests use a plain SQLAlchemy engine
(:func:`make_engine`) built from the same settings.
"""

import asyncio
import ipaddress
import itertools
import logging
import math
import os
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from functools import cache, lru_cache
from select import select as socket_select
from typing import Any, cast

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.pq import ExecStatus
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import ClauseElement, CompoundSelect, Select, select
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.expression import Executable
from sqlalchemy.sql.selectable import CTE
from sqlalchemy.sql.visitors import iterate

from pamps.config import replica_uris, setting, settings
from pamps.errors import Unauthorized

log = logging.getLogger("pamps")

# Statements run on their generic plan, with JIT, Memoize and parallel workers
# off: see the "generic plans", "Memoize" and "parallel workers" rows of
# docs/performance.md.
SESSION_SETTINGS = {
    "plan_cache_mode": "force_generic_plan",
    "jit": "off",
    "enable_memoize": "off",
    "max_parallel_workers_per_gather": "0",
}
SESSION_OPTIONS = " ".join(f"-c {name}={value}" for name, value in SESSION_SETTINGS.items())
SUPPORTED_BACKENDS = ("postgresql", "sqlite")

Row = dict[str, Any]
Params = Mapping[str, Any]


class UnsupportedDatabase(ValueError):
    """A database URI of a backend Pamps does not run on."""


def backend_of(uri: str) -> str:
    """``postgresql`` or ``sqlite``; UnsupportedDatabase for anything else."""
    try:
        backend = make_url(uri).get_backend_name()
    except sa_exc.ArgumentError:
        raise UnsupportedDatabase(f"not a database URI: {uri!r}") from None
    if backend not in SUPPORTED_BACKENDS:
        raise UnsupportedDatabase(
            f"unsupported database {backend!r}: use postgresql://... or sqlite:///..."
        )
    return backend


class Runner(ABC):
    """Runs statements: the database itself, or one of its transactions."""

    dialect: str

    @abstractmethod
    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        """Every row ``statement`` returns (none for a statement without rows)."""

    async def first(self, statement: Executable, params: Params | None = None) -> Row | None:
        rows = await self.all(statement, params)
        return rows[0] if rows else None


class Database(Runner):
    """Each call is its own transaction; :meth:`transaction` groups several."""

    @abstractmethod
    def transaction(self) -> Any:
        """``async with db.transaction() as tx:`` statements on ``tx`` commit
        together when the block ends, or roll back on any exception."""

    async def open(self) -> None:
        """Open connections ahead of the first request (a server's startup)."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection this object opened."""


def open_database(uri: str) -> Database:
    """The request path's database for ``uri``; connections open on first use."""
    if backend_of(uri) == "postgresql":
        return PostgresDatabase(uri)
    return SQLiteDatabase(make_async_engine(uri))


# --- PostgreSQL: psycopg 3 --------------------------------------------------


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
            # pool_size stay open from startup (open()); the overflow closes
            # after 10 idle minutes.
            min_size=0,
            max_size=pool_capacity(),
            # Requests queue in the in-flight limit (middleware.py); one
            # admitted here waits only for a connection to open, so a database
            # that is down answers 503 within the connect timeout.
            timeout=min(float(db.pool_timeout), float(db.connect_timeout)),
            open=False,
            name="pamps",
            # No round trip to test a connection before each use: the first
            # request to meet a dead one has the pool checked (all()).
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

    def sql(self, statement: Executable, params: Params | None) -> tuple[str, dict[str, Any]]:
        """The SQL text of ``statement`` (compiled once) and its parameters."""
        entry = self._compiled.get(id(statement))
        if entry is None or entry[0] is not statement:
            assert isinstance(statement, ClauseElement)
            compiled = statement.compile(dialect=self._dialect)
            entry = (statement, compiled.string, dict(compiled.params))
            self._compiled[id(statement)] = entry
        return entry[1], {**entry[2], **params} if params else entry[2]

    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        sql, values = self.sql(statement, params)
        with _driver_errors(sql, values):
            if self.pool.closed:
                await self.pool.open()  # refused once closed (shutdown): a 503
            try:
                return await self._run(sql, values)
            except _Broken as broken:
                # The others idle in the pool likely died with it (a database
                # restart): test them all now, replacing the dead ones.
                await self.pool.check()
                # A read is safe to run again; a write is not (it may have
                # been applied before the connection broke): a 503 tells the
                # client to decide.
                if not reads_only(statement):
                    raise broken.error from None
            try:
                return await self._run(sql, values)
            except _Broken as broken:
                raise broken.error from None

    async def _run(self, sql: str, values: Params) -> list[Row]:
        # getconn/putconn: in autocommit there is no transaction for
        # pool.connection() to end, and putconn resets a connection left in
        # any other state.
        conn = await self._connection()
        try:
            return await _execute(conn, sql, values)
        except psycopg.OperationalError as error:
            if conn.broken:  # the pool drops it when it comes back
                raise _Broken(error) from error
            raise
        finally:
            await self.pool.putconn(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Runner]:
        with _driver_errors("BEGIN", {}):
            if self.pool.closed:
                await self.pool.open()
            conn = await self._connection()
        try:
            with _driver_errors("COMMIT", {}):
                async with conn.transaction():
                    yield PostgresTransaction(self, conn)
        finally:
            await self.pool.putconn(conn)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """A connection from the pool, never one the server already closed.

        A server that ends an idle connection (a restart, an administrator)
        says so on its socket, so a connection with something to read before
        it was sent anything is dead: no statement reached it, and any
        statement, a write too, can go on another. One non-blocking poll, no
        round trip."""
        conn = await self.pool.getconn()
        if _closed_by_server(conn):
            await conn.close()
            await self.pool.putconn(conn)
            await self.pool.check()  # its neighbours likely died with it
            conn = await self.pool.getconn()
        return conn

    async def open(self) -> None:
        await self.pool.open()
        await self.pool.resize(pool_size(), self.pool.max_size)

    async def close(self) -> None:
        await self.pool.close()


class PostgresTransaction(Runner):
    dialect = "postgresql"

    def __init__(self, db: PostgresDatabase, conn: psycopg.AsyncConnection[Any]) -> None:
        self.db = db
        self.conn = conn

    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        sql, values = self.db.sql(statement, params)
        with _driver_errors(sql, values):
            return await _execute(self.conn, sql, values)


async def _execute(conn: psycopg.AsyncConnection[Any], sql: str, values: Params) -> list[Row]:
    cursor = conn.cursor()
    await cursor.execute(sql, values, prepare=True)
    # The result's status, not cursor.description, which builds a column
    # object per column.
    result = cursor.pgresult
    if result is None or result.status != ExecStatus.TUPLES_OK:
        return []
    return cast(list[Row], await cursor.fetchall())


class _driver_errors:
    """psycopg's errors as SQLAlchemy's, which the error handler knows."""

    def __init__(self, sql: str, values: Params) -> None:
        self.sql = sql
        self.values = values

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, _tb: Any) -> None:
        if isinstance(error, PoolTimeout):
            raise sa_exc.TimeoutError(str(error)) from error
        if isinstance(error, psycopg.Error):
            raise sa_exc.DBAPIError.instance(
                self.sql,
                self.values,
                error,
                psycopg.Error,
                hide_parameters=True,
                connection_invalidated=isinstance(error, psycopg.OperationalError),
            ) from error


def _closed_by_server(conn: psycopg.AsyncConnection[Any]) -> bool:
    if conn.closed:
        return True
    try:
        readable, _, _ = socket_select([conn.pgconn.socket], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):
        return True
    return bool(readable)


@lru_cache(maxsize=256)
def reads_only(statement: Executable) -> bool:
    """A SELECT that writes nothing (no INSERT, UPDATE or DELETE in a CTE),
    so safe to run again."""
    if not isinstance(statement, Select | CompoundSelect):
        return False
    return not any(isinstance(node, CTE) and node.element.is_dml for node in iterate(statement))


class _Broken(Exception):
    """The connection turned out dead (a database restart, a network cut)."""

    def __init__(self, error: psycopg.OperationalError) -> None:
        self.error = error


# --- a request's credentials, checked with its first statement ----------------


class Guarded(Runner):
    """The database for one request whose credentials the database must
    confirm (an open session, a live token): ``condition``, a boolean SQL
    expression over ``params``, is checked before or with the first
    statement, and Unauthorized (saying ``refusal``) raised when it is false.

    Each statement run costs ~0.2 ms of this process's CPU, more than most
    queries take in PostgreSQL, so the check rides on the request's first
    statement instead of being one of its own ("session check" row of
    docs/performance.md):

    - a SELECT is run as ``SELECT * FROM (statement) WHERE condition``: its rows
      only when the condition holds;
    - a statement that already tests ``condition`` (it names its parameters)
      gets them, for writes that must not happen without it;
    - anything else, and every statement with ``db.fold_session_check``
      false, runs after the condition checked alone.

    An empty answer may mean the condition failed, so it checks the condition
    alone before it is returned. After the first statement the rest run as on
    ``db``.
    """

    def __init__(
        self,
        db: Database,
        condition: ColumnElement[bool],
        params: Params,
        refusal: str | None = None,
    ) -> None:
        self.db = db
        self.dialect = db.dialect
        self.condition = condition
        self.params = params
        self.refusal = refusal
        self.pending = True
        self.fold = bool(setting("db.fold_session_check"))

    async def check(self) -> None:
        """Check the condition alone, once."""
        if self.pending:
            row = await self.db.first(_check_statement(self.condition), self.params)
            if not (row and row["ok"]):
                raise Unauthorized(self.refusal)
            self.pending = False

    def folds(self, condition: ColumnElement[bool]) -> bool:
        """Whether the next statement should test ``condition`` itself: it is
        this runner's, still to be checked, and folding is on."""
        return self.pending and condition is self.condition and self.fold

    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        if not self.pending:
            return await self.db.all(statement, params)
        if not self.fold:
            await self.check()
            return await self.db.all(statement, params)
        if _names_params(statement, frozenset(self.params)):
            folded = statement
        elif reads_only(statement):
            folded = _filtered(statement, self.condition)
        else:
            await self.check()
            return await self.db.all(statement, params)
        rows = await self.db.all(folded, {**(params or {}), **self.params})
        if rows:
            self.pending = False
        else:
            await self.check()
        return rows

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Runner]:
        await self.check()
        async with self.db.transaction() as tx:
            yield tx


@lru_cache(maxsize=64)
def _check_statement(condition: ColumnElement[bool]) -> Select[Any]:
    return select(condition.label("ok"))


@lru_cache(maxsize=256)
def _filtered(
    statement: Select[Any] | CompoundSelect, condition: ColumnElement[bool]
) -> Select[Any]:
    # PostgreSQL plans the condition once per run (a one-time filter) and
    # keeps the subquery's order.
    rows = statement.subquery("guarded")
    return select(*rows.c).where(condition)


@lru_cache(maxsize=256)
def _names_params(statement: Executable, names: frozenset[str]) -> bool:
    assert isinstance(statement, ClauseElement)
    found = {node.key for node in iterate(statement) if isinstance(node, BindParameter)}
    return names <= found


# --- SQLite: SQLAlchemy's async engine ---------------------------------------


class SQLiteDatabase(Database):
    """SQLite through the async engine's Core, which converts its text dates."""

    dialect = "sqlite"

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        async with self.engine.begin() as conn:
            return await _sqlalchemy_rows(conn, statement, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Runner]:
        async with self.engine.begin() as conn:
            yield SQLiteTransaction(conn)

    async def close(self) -> None:
        await self.engine.dispose()


class SQLiteTransaction(Runner):
    dialect = "sqlite"

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        return await _sqlalchemy_rows(self.conn, statement, params)


async def _sqlalchemy_rows(
    conn: AsyncConnection, statement: Executable, params: Params | None
) -> list[Row]:
    result = await conn.execute(statement, dict(params or {}))
    if not result.returns_rows:
        return []
    # Plain str keys: a compound statement's labels are a subclass of str,
    # which orjson refuses.
    keys = list(map(str, result.keys()))
    return [dict(zip(keys, row, strict=True)) for row in result]


# --- engines -----------------------------------------------------------------


# For a database on another machine: its cores are not known from here.
REMOTE_POOL = (10, 10)


def pool_size() -> int:
    """Connections each worker keeps open (``db.pool_size``; "auto" by default)."""
    return _pool_setting("pool_size", 0)


def max_overflow() -> int:
    """Connections a worker opens beyond :func:`pool_size` under load."""
    return _pool_setting("max_overflow", 1)


def pool_capacity() -> int:
    """Connections one worker may open: requests beyond it wait their turn."""
    return pool_size() + max_overflow()


def _pool_setting(name: str, index: int) -> int:
    value = settings.db[name]
    if str(value).lower() != "auto":
        return int(value)
    if not database_is_local(str(settings.db.uri)):
        return REMOTE_POOL[index]
    return (local_pool_size(usable_cores(), int(settings.server.workers)), 0)[index]


def local_pool_size(cores: int, workers: int) -> int:
    """Connections per worker for a database on this machine's ``cores``,
    shared by ``workers`` processes: about 2 per core in all (PostgreSQL's own
    sizing advice), at least 4 per worker, no overflow.

    The in-flight cap follows the pool, so this also says how many requests a
    worker runs at once. PostgreSQL shares these cores: with more connections
    its backends only wait for the CPU in the kernel's run queue instead of in
    the in-flight limit's queue ("pool size" and "defaults" rows of
    docs/performance.md)."""
    return max(4, (2 * cores + 2) // max(1, workers))


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set counts)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def database_is_local(uri: str) -> bool:
    """Whether ``uri`` names a database on this machine: SQLite, a Unix
    socket, or a loopback host."""
    url = make_url(uri)
    if url.get_backend_name() == "sqlite":
        return True
    host = url.host or url.query.get("host")
    if not host or str(host).startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:  # a name: another machine, as far as we can tell
        return False


def engine_options(uri: str) -> dict[str, Any]:
    """SQLAlchemy engine keyword arguments for a database URI, from settings."""
    url = make_url(uri)
    options: dict[str, Any] = {"echo": bool(settings.db.echo)}
    pool = {
        "pool_size": pool_size(),
        "max_overflow": max_overflow(),
        "pool_timeout": float(settings.db.pool_timeout),
    }
    if backend_of(uri) == "sqlite":
        # The sync engine's connections may cross threads (the CLI, tests):
        # the pool hands each one to a single user at a time.
        options["connect_args"] = {"check_same_thread": False, "timeout": 15}
        if url.database in (None, "", ":memory:"):
            return options  # one shared in-memory connection, no pool to size
        return options | pool
    timeout_ms = int(settings.db.statement_timeout_ms)
    return (
        options
        | pool
        | {
            # A connection that died with a database restart is replaced before
            # it is used.
            "pool_pre_ping": True,
            "connect_args": {
                "connect_timeout": int(settings.db.connect_timeout),
                "options": f"-c statement_timeout={timeout_ms} -c jit=off",
                "application_name": "pamps",
            },
        }
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers go on while one writer commits.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def make_engine(uri: str | None = None) -> Engine:
    """A plain engine for ``uri`` (default: ``db.uri``): the CLI, the seeder,
    migrations and tests. The caller disposes of it."""
    uri = uri or str(settings.db.uri)
    engine = create_engine(uri, **engine_options(uri))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def async_uri(uri: str) -> str:
    """``uri`` with the async driver of its backend (psycopg 3 or aiosqlite)."""
    url = make_url(uri)
    driver = {"postgresql": "postgresql+psycopg", "sqlite": "sqlite+aiosqlite"}
    url = url.set(drivername=driver[backend_of(uri)])
    return url.render_as_string(hide_password=False)


def make_async_engine(uri: str) -> AsyncEngine:
    """An async engine for ``uri``, with the same options as :func:`make_engine`."""
    engine = create_async_engine(async_uri(uri), **engine_options(uri))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


# --- read replicas -------------------------------------------------------------

# A replica that cannot hand over a connection within this many seconds is
# passed over for the primary: a dead one would otherwise hold each request
# for the whole connect timeout.
REPLICA_WAIT = 1.0
# WAL positions as byte counts, which compare as numbers.
PRIMARY_POSITION = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint AS lsn"
REPLICA_POSITION = (
    "SELECT pg_is_in_recovery() AS standby,"
    " (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS lsn"
)


class Replica:
    """One streaming replica: its pool, and whether reads may go to it now."""

    def __init__(self, number: int, uri: str) -> None:
        self.number = number  # named by position in logs: a URI may hold a password
        self.db = PostgresDatabase(uri)
        self.db.pool.name = f"pamps-replica-{number}"  # in psycopg_pool's own logs
        self.usable = False  # until a check finds it up and caught up
        self.state = "not checked yet"

    async def run(self, sql: str, values: Params) -> list[Row]:
        conn = await self.db.pool.getconn(timeout=REPLICA_WAIT)
        try:
            return await _execute(conn, sql, values)
        finally:
            await self.db.pool.putconn(conn)

    async def replayed(self) -> Row:
        """Whether it is a standby, and the WAL position it has replayed."""
        rows = await self.run(REPLICA_POSITION, {})
        return rows[0]

    def mark(self, usable: bool, state: str) -> None:
        """Record what a check or a request found; log each change once."""
        if usable != self.usable:
            if usable:
                log.info("read replica %d in use", self.number)
            else:
                log.warning("read replica %d skipped: %s", self.number, state)
        self.usable, self.state = usable, state


class ReadReplicas(Runner):
    """Where anonymous reads run: the usable replicas in turn, else the primary.

    Each worker checks its replicas every ``db.replica_check_seconds`` in a
    task of its own, never on the request path: a replica is usable while it
    answers and has replayed everything the primary had written
    ``db.replica_max_lag_seconds`` ago. The primary's WAL position is sampled
    at each check, and a replica is as stale as the newest sample it has
    replayed is old; an idle primary writes nothing new, so an idle replica
    is never counted as behind. A request whose replica fails runs on the
    primary at once, and that replica is skipped until a check finds it well.
    Anything but a plain read runs on the primary.
    """

    dialect = "postgresql"

    def __init__(self, primary: PostgresDatabase, uris: list[str]) -> None:
        self.primary = primary
        self.replicas = [Replica(number, uri) for number, uri in enumerate(uris, 1)]
        self._turn = itertools.count()
        # (monotonic time, the primary's WAL position then), oldest first.
        self._samples: deque[tuple[float, int]] = deque()
        self._task: asyncio.Task[None] | None = None

    def pick(self) -> Replica | None:
        usable = [replica for replica in self.replicas if replica.usable]
        return usable[next(self._turn) % len(usable)] if usable else None

    async def all(self, statement: Executable, params: Params | None = None) -> list[Row]:
        replica = self.pick() if reads_only(statement) else None
        if replica is None:
            return await self.primary.all(statement, params)
        sql, values = self.primary.sql(statement, params)
        try:
            return await replica.run(sql, values)
        except (psycopg.OperationalError, PoolTimeout) as error:
            replica.mark(False, f"failed a request ({type(error).__name__})")
        except psycopg.Error:
            pass  # the statement's own fault: the primary gives its answer
        return await self.primary.all(statement, params)

    async def check(self) -> None:
        """Measure every replica's lag now and mark it usable or not."""
        now = time.monotonic()
        bound = float(settings.db.replica_max_lag_seconds)
        try:
            row = await self.primary.first(_primary_position())
        except sa_exc.SQLAlchemyError:
            row = None  # judged on the samples kept: they age, nothing new vouches
        if row is not None:
            self._samples.append((now, int(row["lsn"])))
        # Older samples can only show a lag past the bound.
        horizon = now - bound - 2 * float(settings.db.replica_check_seconds)
        while len(self._samples) > 1 and self._samples[0][0] < horizon:
            self._samples.popleft()
        for replica in self.replicas:
            try:
                found = await replica.replayed()
            except (psycopg.Error, PoolTimeout) as error:
                replica.mark(False, f"down ({type(error).__name__})")
                continue
            if not found["standby"]:
                replica.mark(False, "not a standby (promoted?)")
                continue
            lag = self.lag(int(found["lsn"]), time.monotonic())
            if lag > bound:
                replica.mark(False, f"behind by more than {bound:g} s")
            else:
                replica.mark(True, f"behind by at most {lag:.1f} s")

    def lag(self, replayed: int, now: float) -> float:
        """Seconds since the newest sample of the primary that a replica at
        WAL position ``replayed`` holds entirely (infinite: none is)."""
        for taken, position in reversed(self._samples):
            if replayed >= position:
                return now - taken
        return math.inf

    async def _watch(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # a check that fails must not end the checking
                log.exception("read replica check failed")
            await asyncio.sleep(float(settings.db.replica_check_seconds))

    async def open(self) -> None:
        for replica in self.replicas:
            # No connection kept open: a replica that is down is not retried
            # in the background, only by the checks.
            await replica.db.pool.open()
        self._task = asyncio.create_task(self._watch(), name="pamps-replica-check")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for replica in self.replicas:
            await replica.db.close()


@cache
def _primary_position() -> Executable:
    return text(PRIMARY_POSITION)


def open_replicas(primary: Database) -> ReadReplicas | None:
    """The replicas of ``db.replicas`` for anonymous reads; None when there
    are none (config.check_replicas refuses them on SQLite)."""
    uris = replica_uris()
    if not uris or not isinstance(primary, PostgresDatabase):
        return None
    return ReadReplicas(primary, uris)
