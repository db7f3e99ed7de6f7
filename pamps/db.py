"""The database engines and the ORM session of the less-used routes.

Those routes take a session of the async engine (:func:`get_async_engine`);
the hot routes run their statements through :mod:`pamps.database` (which, on
SQLite, uses the same async engine). The CLI, the seeder, migrations and tests
use the sync engine (:func:`get_engine`). All are built from the same ``db``
settings.
"""

import threading
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel, create_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from pamps.blocking import run_blocking
from pamps.config import settings


def engine_options(uri: str) -> dict[str, Any]:
    """Engine keyword arguments for a database URI, from settings."""
    url = make_url(uri)
    options: dict[str, Any] = {"echo": bool(settings.db.echo)}
    if url.get_backend_name() == "sqlite":
        # The sync engine's connections may cross threads (the CLI, tests):
        # the pool hands each one to a single user at a time.
        options["connect_args"] = {"check_same_thread": False, "timeout": 15}
        if url.database in (None, "", ":memory:"):
            return options  # one shared in-memory connection, no pool to size
        options.update(pool_options())
        return options
    timeout_ms = int(settings.db.statement_timeout_ms)
    options.update(
        pool_options(),
        # A connection that died with a database restart is noticed and
        # replaced before a request uses it.
        pool_pre_ping=bool(settings.db.pool_pre_ping),
        connect_args={
            "connect_timeout": int(settings.db.connect_timeout),
            # JIT off, as on the hot pool (pamps.database.SESSION_OPTIONS):
            # compiling costs ~12 ms, more than any of the API's statements.
            "options": f"-c statement_timeout={timeout_ms} -c jit=off",
            "application_name": "pamps",
        },
    )
    return options


def pool_options() -> dict[str, Any]:
    return {
        "pool_size": int(settings.db.pool_size),
        "max_overflow": int(settings.db.max_overflow),
        "pool_timeout": float(settings.db.pool_timeout),
    }


def pool_capacity() -> int:
    """Connections one worker may open: requests beyond it wait their turn."""
    return int(settings.db.pool_size) + int(settings.db.max_overflow)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers go on while one writer commits.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


E = TypeVar("E", Engine, AsyncEngine)

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _one_per_uri(registry: dict[str, E], make: Callable[[str], E]) -> E:
    """The engine of ``registry`` for the configured ``db.uri``, made once."""
    uri = str(settings.db.uri)
    engine = registry.get(uri)
    if engine is None:
        with _engines_lock:
            engine = registry.get(uri)
            if engine is None:
                engine = registry[uri] = make(uri)
    return engine


def _make_engine(uri: str) -> Engine:
    engine = create_engine(uri, **engine_options(uri))
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def get_engine() -> Engine:
    """The engine for the configured ``db.uri`` (one per URI and process)."""
    return _one_per_uri(_engines, _make_engine)


def async_uri(uri: str) -> str:
    """``uri`` with the async driver of its backend (psycopg 3 or aiosqlite)."""
    url = make_url(uri)
    backend = url.get_backend_name()
    if backend == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    else:
        raise ValueError(f"no async driver known for database backend {backend!r}")
    return url.render_as_string(hide_password=False)


_async_engines: dict[str, AsyncEngine] = {}


def _make_async_engine(uri: str) -> AsyncEngine:
    engine = create_async_engine(async_uri(uri), **engine_options(uri))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def get_async_engine() -> AsyncEngine:
    """The async engine for the configured ``db.uri``, which requests use.

    The same database, pool sizes and timeouts as :func:`get_engine`, through
    a driver that waits on the event loop instead of blocking a thread.
    """
    return _one_per_uri(_async_engines, _make_async_engine)


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines, sync and async,
    and the request path's pools (:mod:`pamps.database`).

    Callable from plain code (tests, the CLI). Async connections are closed
    on an event loop of their own: in this thread when none runs here, else
    in a helper thread, so a caller on a loop is never re-entered.
    """
    from pamps.database import close_databases

    close_databases()
    engines, async_engines = _forget_engines()
    for engine in engines:
        engine.dispose()
    if async_engines:
        run_blocking(_dispose_all(async_engines))


async def dispose_engines_async() -> None:
    """:func:`dispose_engines` for code running on the event loop."""
    from pamps.database import close_databases_async

    await close_databases_async()
    engines, async_engines = _forget_engines()
    for engine in engines:
        engine.dispose()  # no I/O to wait for: sync pools are idle at shutdown
    await _dispose_all(async_engines)


def _forget_engines() -> tuple[list[Engine], list[AsyncEngine]]:
    with _engines_lock:
        engines = list(_engines.values())
        async_engines = list(_async_engines.values())
        _engines.clear()
        _async_engines.clear()
    return engines, async_engines


async def _dispose_all(engines: list[AsyncEngine]) -> None:
    for engine in engines:
        await engine.dispose()


async def get_session() -> AsyncIterator[AsyncSession]:
    """One session per request, closed when the response is sent."""
    session = AsyncSession(get_async_engine(), expire_on_commit=False)
    try:
        yield session
    finally:
        try:
            await session.close()  # rolls back whatever is still open
        except SQLAlchemyError:
            # The database went away after the answer was decided (a restart,
            # a shutdown): the rollback it needs happens on the server anyway.
            # Raising here, after the response started, would only cut the
            # client's connection; drop the dead connections instead.
            await session.invalidate()


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def insert_or_ignore(session: AsyncSession, model: type[SQLModel], **values: Any) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was written.

    Uniqueness is the database's job: concurrent requests can never create a
    duplicate, and the loser of a race learns it from the row count.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = model.__table__  # type: ignore[attr-defined]
    # RETURNING answers a row only when one was inserted; the row count is no
    # use here (psycopg reports -1 for an INSERT ... RETURNING).
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return (await session.exec(statement)).first() is not None
