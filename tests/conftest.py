"""Shared fixtures. Every test runs once on SQLite and once on PostgreSQL.

Each backend's database is created and migrated once per run (with Alembic,
exactly as in production); after each test every table is emptied, so no test
sees another's rows and the order of tests never matters.

PostgreSQL: see tests/pgserver.py for how a server is found. Where none can
be had the PostgreSQL half is skipped with the reason shown, unless
``PAMPS_TEST_REQUIRE_POSTGRES=1`` (set by .ci/run), which turns that into a
failure.
"""

import os

os.environ["PAMPS_ENV"] = "testing"

import asyncio
import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
from alembic import command
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from pamps import ratelimit
from pamps.app import create_app
from pamps.cli import migrations_config
from pamps.config import settings
from pamps.database import make_engine
from tests import pgserver

BACKENDS = ["sqlite", "postgresql"]
TABLES = [
    "oauth_code",
    "oauth_token",
    "oauth_app",
    "idempotency_key",
    "session",
    "like",
    "social",
    "post",
    "user",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=[*BACKENDS, "all"],
        default=os.environ.get("PAMPS_TEST_BACKEND", "all"),
        help="database backend(s) to run the suite on",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend")
        backends = BACKENDS if chosen == "all" else [chosen]
        if metafunc.definition.get_closest_marker("postgres_only"):
            backends = [b for b in backends if b == "postgresql"]
        metafunc.parametrize("backend", backends, scope="session")


def postgres_required() -> bool:
    return os.environ.get("PAMPS_TEST_REQUIRE_POSTGRES", "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a maintenance database on a server we may create databases on."""
    candidates = [os.environ.get("PAMPS_TEST_DATABASE_URL"), pgserver.DEFAULT_URL]
    for url in filter(None, candidates):
        if pgserver.reachable(url):
            yield url
            return
    private = None
    if pgserver.bindir() is not None:
        try:
            private = pgserver.PrivatePostgres().init()
            private.start()
        except Exception as error:
            reason = f"could not start a private PostgreSQL: {error}"
        else:
            yield private.url
            private.cleanup()
            return
    else:
        reason = "no PostgreSQL server reachable and no PostgreSQL binaries installed"
    if postgres_required():
        pytest.fail(f"PostgreSQL is required here: {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def create_database(server_url: str) -> str:
    name = f"pamps_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pgserver.to_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pgserver.with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(pgserver.to_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of the backend, for the whole run."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'pamps.db'}"
        server = None
    else:
        server = request.getfixturevalue("postgres_server")
        url = create_database(server)
    command.upgrade(migrations_config(url), "head")
    yield url
    dispose_engines()
    if server is not None:
        drop_database(server, url)


@pytest.fixture(autouse=True)
def _use_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """Point the app at the backend's database and empty it afterwards."""
    if "backend" not in request.fixturenames:
        yield
        return
    url = request.getfixturevalue("database_url")
    settings.set("db.uri", url)
    ratelimit.reset_limits()
    yield
    empty_tables(url)


def empty_tables(url: str) -> None:
    engine = get_engine()
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            names = ", ".join(f'"{t}"' for t in TABLES)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                conn.execute(text(f'DELETE FROM "{table}"'))


_engines: dict[str, Engine] = {}


def get_engine() -> Engine:
    """A plain engine on the database the current test uses (``db.uri``)."""
    url = str(settings.db.uri)
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    """Close the connections of :func:`get_engine`'s engines (new settings)."""
    while _engines:
        _engines.popitem()[1].dispose()


@pytest.fixture(scope="session")
def app(database_url: str) -> FastAPI:
    """The API on the backend's database."""
    return create_app(database_uri=database_url)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


class LoopClient:
    """Requests to the app of a running TestClient, on that client's event
    loop (where the app's pool and limits live), from a client ``address``
    of its own. :meth:`together` sends several at the same time."""

    def __init__(self, client: TestClient, address: str = "testclient") -> None:
        assert client.portal is not None, "the TestClient must be started (with ...)"
        self.client = client
        self.portal = client.portal
        self.address = address

    def _http(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.client.app, client=(self.address, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.together([(method, url, kwargs)])[0]

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def together(self, calls: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
        """Send every (method, url, kwargs) at once; their answers in order."""
        return [answers[0] for answers in self.sequences([[call] for call in calls])]

    def sequences(
        self, runs: list[list[tuple[str, str, dict[str, Any]]]]
    ) -> list[list[httpx.Response]]:
        """Run each list of calls in order, all lists at the same time."""

        async def one(http: httpx.AsyncClient, calls: Any) -> list[httpx.Response]:
            return [await http.request(method, url, **kwargs) for method, url, kwargs in calls]

        async def every() -> list[list[httpx.Response]]:
            async with self._http() as http:
                return list(await asyncio.gather(*(one(http, calls) for calls in runs)))

        return self.portal.call(every)


def reset_limits(client: TestClient) -> None:
    """Forget the rate-limit counters of the app ``client`` talks to."""
    assert client.portal is not None
    client.portal.call(client.app.state.limiter.reset)  # type: ignore[attr-defined]


@dataclass
class TestUser:
    id: int
    username: str
    email: str
    password: str
    client: TestClient = field(repr=False)
    _headers: dict[str, str] | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header with a fresh access token (cached)."""
        if self._headers is None:
            response = self.client.post(
                "/token", data={"username": self.username, "password": self.password}
            )
            assert response.status_code == 200, response.text
            self._headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return self._headers


_counter = itertools.count(1)


@pytest.fixture
def make_user(client: TestClient) -> Callable[..., TestUser]:
    """Register a user through the API; returns it with its password."""

    def make(
        username: str | None = None,
        password: str = "correct horse battery",
        email: str | None = None,
        **extra: Any,
    ) -> TestUser:
        username = username or f"user{next(_counter)}"
        email = email or f"{username.lower()}@example.com"
        response = client.post(
            "/user/", json={"username": username, "email": email, "password": password, **extra}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return TestUser(body["id"], body["username"], email, password, client)

    return make


@pytest.fixture
def make_post(client: TestClient) -> Callable[..., dict[str, Any]]:
    """Publish a post (or a reply) as ``user``; returns the post JSON."""

    def make(user: TestUser, text: str = "hello", parent_id: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": text}
        if parent_id is not None:
            payload["parent_id"] = parent_id
        response = client.post("/post/", json=payload, headers=user.headers)
        assert response.status_code == 201, response.text
        return response.json()

    return make


@contextmanager
def setting_as(path: str, value: Any) -> Iterator[None]:
    """The setting ``path`` (dotted) set to ``value`` for the block, then restored."""
    saved = settings[path]
    settings.set(path, value)
    try:
        yield
    finally:
        settings.set(path, saved)


@contextmanager
def db_settings(**values: Any) -> Iterator[None]:
    """Set ``db.<key>`` values (e.g. pool sizes) with fresh engines; restore after."""
    saved = {key: settings.db[key] for key in values}
    for key, value in values.items():
        settings.set(f"db.{key}", value)
    dispose_engines()
    try:
        yield
    finally:
        for key, value in saved.items():
            settings.set(f"db.{key}", value)
        dispose_engines()
