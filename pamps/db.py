"""The database engine and the one session every request uses."""

import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine

from pamps.config import settings


def engine_options(uri: str) -> dict[str, Any]:
    """Engine keyword arguments for a database URI, from settings."""
    url = make_url(uri)
    options: dict[str, Any] = {"echo": bool(settings.db.echo)}
    if url.get_backend_name() == "sqlite":
        # Requests run in the threadpool; SQLite connections may cross threads
        # because the pool hands each one to a single request at a time.
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
            "options": f"-c statement_timeout={timeout_ms}",
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


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine() -> Engine:
    """The engine for the configured ``db.uri`` (one per URI and process)."""
    uri = str(settings.db.uri)
    engine = _engines.get(uri)
    if engine is None:
        with _engines_lock:
            engine = _engines.get(uri)
            if engine is None:
                engine = create_engine(uri, **engine_options(uri))
                if engine.dialect.name == "sqlite":
                    event.listen(engine, "connect", _sqlite_pragmas)
                _engines[uri] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


async def get_session() -> AsyncIterator[Session]:
    """One session per request, closed when the response is sent.

    An ``async`` dependency on purpose: making a Session does no I/O, so it
    needs no trip through the threadpool; closing it may (a ROLLBACK), so
    that part runs in the threadpool, and only when a connection is held.
    """
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(_close, session)
        else:
            session.close()


def _close(session: Session) -> None:
    try:
        session.close()  # rolls back whatever is still open
    except SQLAlchemyError:
        # The database went away after the answer was decided (a restart,
        # a shutdown): the rollback it needs happens on the server anyway.
        # Raising here, after the response started, would only cut the
        # client's connection; drop the dead connections instead.
        session.invalidate()


SessionDep = Annotated[Session, Depends(get_session)]


def insert_or_ignore(session: Session, model: type[SQLModel], **values: Any) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when a row was written.

    Uniqueness is the database's job: concurrent requests can never create a
    duplicate, and the loser of a race learns it from the row count.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = model.__table__  # type: ignore[attr-defined]
    # RETURNING answers a row only when one was inserted; the row count is no
    # use here (psycopg reports -1 for an INSERT ... RETURNING).
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return session.execute(statement).first() is not None
