"""The database API of the request path, the engines of plain code, and the
rule that every route and dependency is ``async def`` (none waits in the
threadpool)."""

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import text

from pamps.config import ConfigError, check_pool, settings
from pamps.database import (
    UnsupportedDatabase,
    async_uri,
    database_is_local,
    local_pool_size,
    make_async_engine,
    max_overflow,
    open_database,
    pool_capacity,
    pool_size,
    usable_cores,
)
from pamps.errors import TooManyRequests
from pamps.ratelimit import RateLimiter
from pamps.routes import auth, health, post, user
from tests.conftest import db_settings

# Classes FastAPI instantiates in the threadpool. The login form is the only
# one, and only on POST /token, whose cost is the Argon2 check anyway.
THREADPOOL_ALLOWED: set[Any] = {OAuth2PasswordRequestForm}


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("postgresql://u:secret@db:5432/pamps", "postgresql+psycopg://u:secret@db:5432/pamps"),
        ("postgresql+psycopg://u@db/pamps", "postgresql+psycopg://u@db/pamps"),
        ("sqlite:///pamps.db", "sqlite+aiosqlite:///pamps.db"),
        ("sqlite:////tmp/x/pamps.db", "sqlite+aiosqlite:////tmp/x/pamps.db"),
    ],
)
def test_async_uri_maps_to_an_async_driver(uri: str, expected: str) -> None:
    assert async_uri(uri) == expected


@pytest.mark.parametrize("uri", ["mysql://u@db/pamps", "nonsense"])
def test_unsupported_databases_are_refused_in_one_line(uri: str) -> None:
    with pytest.raises(UnsupportedDatabase) as refused:
        open_database(uri)
    assert "\n" not in str(refused.value)
    assert uri.split(":")[0] in str(refused.value)


@pytest.fixture
def pool_settings() -> Iterator[None]:
    with db_settings(pool_size=3, max_overflow=2, pool_timeout=4):
        yield


def test_async_engine_follows_the_settings(backend: str, pool_settings: None) -> None:
    engine = make_async_engine(str(settings.db.uri))
    pool: Any = engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 4)

    async def probe() -> list[Any]:
        try:
            async with engine.connect() as conn:
                if backend == "sqlite":
                    queries = ["PRAGMA foreign_keys", "PRAGMA journal_mode", "PRAGMA busy_timeout"]
                else:
                    queries = ["SHOW statement_timeout", "SHOW application_name", "SHOW jit"]
                return [(await conn.execute(text(q))).scalar_one() for q in queries]
        finally:
            await engine.dispose()

    if backend == "sqlite":
        assert engine.url.drivername == "sqlite+aiosqlite"
        assert asyncio.run(probe()) == [1, "wal", 15000]
    else:
        assert engine.url.drivername == "postgresql+psycopg"
        assert asyncio.run(probe()) == ["15s", "pamps", "off"]
    assert pool_capacity() == 5


def dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from dependants(sub)


def runs_on_the_loop(call: Any) -> bool:
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    # Instances with an async __call__ (OAuth2PasswordBearer).
    return not inspect.isclass(call) and inspect.iscoroutinefunction(call.__call__)


def test_every_route_and_dependency_is_async() -> None:
    routes = [
        route
        for router in (auth.router, health.router, post.router, user.router)
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    assert len(routes) >= 20
    sync = sorted(
        {
            f"{route.path} {getattr(dep.call, '__qualname__', dep.call)}"
            for route in routes
            for dep in dependants(route.dependant)
            if dep.call is not None
            and dep.call not in THREADPOOL_ALLOWED
            and not runs_on_the_loop(dep.call)
        }
    )
    assert sync == [], "sync callables would run in the threadpool"


def test_a_rate_limiter_counts_and_resets() -> None:
    saved = {key: settings.ratelimit[key] for key in ("enabled", "storage_uri", "write")}
    settings.set("ratelimit.enabled", True)
    settings.set("ratelimit.storage_uri", "memory://")
    settings.set("ratelimit.write", "1/minute")

    async def run() -> None:
        limiter = RateLimiter()
        try:
            await limiter.hit("write", "user", "x")
            with pytest.raises(TooManyRequests):
                await limiter.hit("write", "user", "x")
            await limiter.hit("write", "user", "y")  # another key counts alone
            await limiter.reset()
            await limiter.hit("write", "user", "x")
        finally:
            await limiter.close()

    try:
        asyncio.run(run())
    finally:
        for key, value in saved.items():
            settings.set(f"ratelimit.{key}", value)


@pytest.mark.postgres_only
def test_hot_pool_session_settings(backend: str) -> None:
    """The request path's sessions: generic plans, no JIT, no Memoize, no
    parallel workers (see SESSION_OPTIONS), the statement timeout and dates
    in UTC."""
    names = (
        "plan_cache_mode",
        "jit",
        "enable_memoize",
        "max_parallel_workers_per_gather",
        "statement_timeout",
        "TimeZone",
    )
    sql = "SELECT " + ", ".join(f"current_setting('{name}') AS {name.lower()}" for name in names)

    async def probe() -> dict[str, Any]:
        db = open_database(str(settings.db.uri))
        try:
            return await db.first(text(sql)) or {}
        finally:
            await db.close()

    assert asyncio.run(probe()) == {
        "plan_cache_mode": "force_generic_plan",
        "jit": "off",
        "enable_memoize": "off",
        "max_parallel_workers_per_gather": "0",
        "statement_timeout": "15s",
        "timezone": "UTC",
    }


def test_a_transaction_commits_together_or_not_at_all(backend: str) -> None:
    """Statements on a transaction's runner are one transaction: an error in
    the block rolls back what it wrote."""
    table = text("SELECT count(*) AS n FROM social")
    insert = text(
        'INSERT INTO "user" (email, username, password, created_at)'
        " VALUES ('t@example.com', 'tx_user', 'x', CURRENT_TIMESTAMP)"
    )
    count = text("SELECT count(*) AS n FROM \"user\" WHERE username = 'tx_user'")

    async def run() -> list[int]:
        db = open_database(str(settings.db.uri))
        seen = []
        try:
            with pytest.raises(RuntimeError):
                async with db.transaction() as tx:
                    await tx.all(insert)
                    seen.append((await tx.first(count) or {})["n"])  # its own write
                    raise RuntimeError("half-way")
            seen.append((await db.first(count) or {})["n"])
            async with db.transaction() as tx:
                await tx.all(insert)
            seen.append((await db.first(count) or {})["n"])
            assert (await db.first(table) or {})["n"] == 0
        finally:
            await db.close()
        return seen

    assert asyncio.run(run()) == [1, 0, 1]


class TestPoolDefaults:
    """``db.pool_size`` and ``db.max_overflow`` "auto": sized for a database
    on this machine, or 10 + 10 for one elsewhere."""

    @pytest.mark.parametrize(
        ("uri", "local"),
        [
            ("sqlite:///pamps.db", True),
            ("postgresql://u@127.0.0.1:5432/pamps", True),
            ("postgresql://u@localhost/pamps", True),
            ("postgresql://u@[::1]:5432/pamps", True),
            ("postgresql:///pamps?host=/var/run/postgresql", True),
            ("postgresql:///pamps", True),
            ("postgresql://u@10.0.0.5/pamps", False),
            ("postgresql://u@db.internal:5432/pamps", False),
        ],
    )
    def test_where_the_database_is(self, uri: str, local: bool) -> None:
        assert database_is_local(uri) is local

    def test_two_connections_per_core_in_all(self) -> None:
        assert local_pool_size(cores=2, workers=1) == 6
        assert local_pool_size(cores=2, workers=2) == 4  # never fewer than 4
        assert local_pool_size(cores=16, workers=4) == 8
        assert local_pool_size(cores=1, workers=0) == 4

    def test_auto_on_this_machine(self) -> None:
        uri = "postgresql://u@127.0.0.1/pamps"
        with db_settings(uri=uri, pool_size="auto", max_overflow="auto"):
            workers = int(settings.server.workers)
            assert pool_size() == local_pool_size(usable_cores(), workers)
            assert max_overflow() == 0
            assert pool_capacity() == pool_size()

    def test_auto_for_a_database_elsewhere(self) -> None:
        uri = "postgresql://u@db.internal/pamps"
        with db_settings(uri=uri, pool_size="auto", max_overflow="auto"):
            assert (pool_size(), max_overflow()) == (10, 10)

    def test_numbers_win(self) -> None:
        with db_settings(uri="postgresql://u@127.0.0.1/pamps", pool_size=12, max_overflow=3):
            assert (pool_size(), max_overflow(), pool_capacity()) == (12, 3, 15)

    @pytest.mark.parametrize(
        ("name", "value"),
        [("pool_size", 0), ("pool_size", "many"), ("pool_size", True), ("max_overflow", -1)],
    )
    def test_other_values_are_refused(self, name: str, value: Any) -> None:
        with db_settings(**{name: value}), pytest.raises(ConfigError, match=f"db.{name}"):
            check_pool()
