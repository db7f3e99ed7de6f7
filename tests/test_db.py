"""The async request path: engines, the session dependency and the rule that
every route and dependency is ``async def`` (none waits in the threadpool)."""

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import text

from pamps import ratelimit
from pamps.blocking import run_blocking
from pamps.config import settings
from pamps.database import close_databases_async, database
from pamps.db import async_uri, dispose_engines, get_async_engine
from pamps.errors import TooManyRequests
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


def test_async_uri_refuses_an_unknown_backend() -> None:
    with pytest.raises(ValueError, match="mysql"):
        async_uri("mysql://u@db/pamps")


@pytest.fixture
def pool_settings() -> Iterator[None]:
    with db_settings(pool_size=3, max_overflow=2, pool_timeout=4):
        yield


def test_async_engine_follows_the_settings(backend: str, pool_settings: None) -> None:
    engine = get_async_engine()
    assert get_async_engine() is engine  # one per URI and process
    pool: Any = engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 4)

    async def probe() -> list[Any]:
        async with engine.connect() as conn:
            if backend == "sqlite":
                queries = ["PRAGMA foreign_keys", "PRAGMA journal_mode", "PRAGMA busy_timeout"]
            else:
                queries = ["SHOW statement_timeout", "SHOW application_name", "SHOW jit"]
            return [(await conn.execute(text(q))).scalar_one() for q in queries]

    if backend == "sqlite":
        assert engine.url.drivername == "sqlite+aiosqlite"
        assert asyncio.run(probe()) == [1, "wal", 15000]
    else:
        assert engine.url.drivername == "postgresql+psycopg"
        assert asyncio.run(probe()) == ["15s", "pamps", "off"]
    dispose_engines()
    assert get_async_engine() is not engine  # disposed and forgotten


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


def test_reset_limits_works_from_plain_code_and_from_a_loop() -> None:
    saved = {key: settings.ratelimit[key] for key in ("enabled", "storage_uri", "write")}
    settings.set("ratelimit.enabled", True)
    settings.set("ratelimit.storage_uri", "memory://")
    settings.set("ratelimit.write", "1/minute")
    try:
        run_blocking(ratelimit.hit("write", "user", "x"))
        with pytest.raises(TooManyRequests):
            run_blocking(ratelimit.hit("write", "user", "x"))
        ratelimit.reset_limits()  # no loop running here
        run_blocking(ratelimit.hit("write", "user", "x"))

        async def on_a_loop() -> None:
            ratelimit.reset_limits()  # a loop runs here: done on a helper thread

        asyncio.run(on_a_loop())
        run_blocking(ratelimit.hit("write", "user", "x"))
    finally:
        for key, value in saved.items():
            settings.set(f"ratelimit.{key}", value)
        ratelimit.reset_limits()


@pytest.mark.postgres_only
def test_hot_pool_session_settings(backend: str) -> None:
    """The hot pool's sessions: generic plans, no JIT, no Memoize (see
    SESSION_OPTIONS), the statement timeout and dates in UTC."""
    names = ("plan_cache_mode", "jit", "enable_memoize", "statement_timeout", "TimeZone")
    sql = "SELECT " + ", ".join(f"current_setting('{name}') AS {name.lower()}" for name in names)

    async def probe() -> dict[str, Any]:
        try:
            return await database().first(text(sql)) or {}
        finally:
            await close_databases_async()

    assert asyncio.run(probe()) == {
        "plan_cache_mode": "force_generic_plan",
        "jit": "off",
        "enable_memoize": "off",
        "statement_timeout": "15s",
        "timezone": "UTC",
    }
