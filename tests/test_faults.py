"""Database faults: the database stopped, down at start, an exhausted pool,
statement timeouts, failures in the middle of a write.

The stop/start tests run against a private PostgreSQL cluster of their own
(initdb into a temp folder, its own port), never the shared server. The
others use the suite's test database, on PostgreSQL where the fault only
exists there and on both backends where it does not matter.
"""

import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy import exc as sa_exc

from pamps.app import app, database_unavailable
from pamps.cli import migrations_config
from pamps.config import settings
from pamps.database import (
    Database,
    PostgresDatabase,
    PostgresTransaction,
    Runner,
    SQLiteDatabase,
    SQLiteTransaction,
    engine_options,
    reads_only,
)
from pamps.models import Like, Post, Social
from pamps.services import posts, social
from tests import pgserver
from tests.conftest import db_settings, get_engine, postgres_required
from tests.live import live_server

PASSWORD = "correct horse battery"
# A live server that notices a dead database quickly and never queues a
# request for long behind a pool that cannot connect.
FAULT_ENV = {
    "PAMPS_DB__CONNECT_TIMEOUT": "2",
    "PAMPS_DB__POOL_TIMEOUT": "3",
    "PAMPS_RATELIMIT__ENABLED": "false",
}


def count(model: Any, **where: Any) -> int:
    """Rows of a table in the test database, optionally filtered."""
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    with get_engine().connect() as conn:
        return int(conn.execute(query).scalar_one())


# --- a private PostgreSQL cluster we may stop and start ---------------------


class Cluster(pgserver.PrivatePostgres):
    def running(self) -> bool:
        status = self._run("pg_ctl", "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def ensure_running(self) -> None:
        if not self.running():
            self.start()
        pgserver.wait_until_reachable(self.url, seconds=20)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A migrated private cluster for this module; removed at the end."""
    if pgserver.bindir() is None:
        reason = "PostgreSQL binaries (initdb, pg_ctl) not installed"
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    pg = Cluster()
    try:
        pg.init()
        pg.start()
        command.upgrade(migrations_config(pg.url), "head")
        yield pg
    finally:
        pg.cleanup()


@pytest.fixture
def private_pg(cluster: Cluster) -> Iterator[Cluster]:
    """The private cluster, running at the start and at the end of a test."""
    cluster.ensure_running()
    yield cluster
    cluster.ensure_running()


def register(base_url: str, username: str) -> tuple[int, dict[str, str]]:
    """A new user on a live server: its id and an Authorization header."""
    with httpx.Client(base_url=base_url, timeout=10) as http:
        response = http.post(
            "/user/",
            json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        response = http.post("/token", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return user_id, {"Authorization": f"Bearer {response.json()['access_token']}"}


# --- 1. PostgreSQL stopped for a few seconds under write load ---------------


@dataclass
class Outcome:
    text: str
    started: float
    ended: float
    status: int | None = None  # None: the request failed client-side
    post_id: int | None = None
    retry_after: str | None = None
    error: str | None = None
    body: str = ""


WRITERS = 8
RUN_SECONDS = 12.0
STOP_AFTER = 3.0
DOWN_SECONDS = 4.0
CLIENT_TIMEOUT = 10.0


def test_postgres_stopped_under_write_load(private_pg: Cluster) -> None:
    """Stop the database for ~4 s while 8 clients write: only 201 or 503 (with
    Retry-After), no hang, recovery on its own, and the database holds exactly
    the acknowledged writes."""
    outcomes: list[Outcome] = []
    with live_server(private_pg.url, env=FAULT_ENV) as base_url:
        user_id, auth = register(base_url, "writer")
        start = time.monotonic()
        deadline = start + RUN_SECONDS

        def write(worker: int) -> None:
            with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT, headers=auth) as http:
                n = 0
                while time.monotonic() < deadline:
                    outcome = Outcome(f"fault w{worker} n{n}", time.monotonic(), 0.0)
                    n += 1
                    try:
                        response = http.post("/post/", json={"text": outcome.text})
                    except httpx.HTTPError as error:
                        outcome.error = type(error).__name__
                    else:
                        outcome.status = response.status_code
                        outcome.retry_after = response.headers.get("retry-after")
                        outcome.body = response.text[:300]
                        if response.status_code == 201:
                            outcome.post_id = response.json()["id"]
                    outcome.ended = time.monotonic()
                    outcomes.append(outcome)
                    if outcome.status != 201:
                        time.sleep(0.05)  # a client backing off a little

        threads = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(STOP_AFTER)
            stopped_at = time.monotonic()
            private_pg.stop("fast")
            time.sleep(DOWN_SECONDS)
            restart_begun = time.monotonic()
            private_pg.start()
            restarted_at = time.monotonic()
        finally:
            for thread in threads:
                thread.join(timeout=RUN_SECONDS + CLIENT_TIMEOUT + 5)
        assert not any(t.is_alive() for t in threads), "a writer thread hung"

        # The service recovers by itself: a write succeeds within 10 s.
        recovered = [o for o in outcomes if o.status == 201 and o.started >= restarted_at]
        if recovered:
            recovered_at = min(o.ended for o in recovered)
        else:
            with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT, headers=auth) as http:
                while time.monotonic() < restarted_at + 10:
                    if http.post("/post/", json={"text": "after restart"}).status_code == 201:
                        break
                    time.sleep(0.2)
            recovered_at = time.monotonic()
        recovery = recovered_at - restarted_at

    with psycopg.connect(pgserver.to_libpq(private_pg.url)) as conn:
        rows = conn.execute("SELECT id, text FROM post WHERE user_id = %s", (user_id,)).fetchall()
    stored: dict[str, list[int]] = {}
    for post_id, post_text in rows:
        stored.setdefault(post_text, []).append(post_id)

    acknowledged = [o for o in outcomes if o.status == 201]
    refused = [o for o in outcomes if o.status == 503]
    ambiguous = [o for o in outcomes if o.status is None]
    others = [o for o in outcomes if o.status not in (201, 503, None)]
    missing = [o for o in acknowledged if stored.get(o.text) != [o.post_id]]
    refused_but_stored = [o for o in refused if o.text in stored]
    ambiguous_stored = [o for o in ambiguous if o.text in stored]
    duplicates = {t: ids for t, ids in stored.items() if len(ids) > 1}
    sent = {o.text for o in outcomes} | {"after restart"}
    unknown = [t for t in stored if t not in sent]
    slowest = max((o.ended - o.started for o in outcomes), default=0.0)
    errors = sorted({o.error for o in ambiguous if o.error})
    print(
        f"\n[fault test] requests={len(outcomes)} acknowledged(201)={len(acknowledged)}"
        f" found={len(acknowledged) - len(missing)} missing={len(missing)}"
        f" 503={len(refused)} 503-but-stored={len(refused_but_stored)}"
        f" client-errors={len(ambiguous)} {errors} (stored: {len(ambiguous_stored)})"
        f" other={len(others)} rows={len(rows)}"
        f" slowest={slowest:.2f}s down={restart_begun - stopped_at:.1f}s"
        f" recovery={recovery:.2f}s after restart"
    )

    assert not others, f"answers other than 201/503: {others[:5]}"
    assert all(o.retry_after for o in refused), "a 503 without Retry-After"
    assert not [o for o in ambiguous if "Timeout" in (o.error or "")], "a request hung"
    assert slowest < CLIENT_TIMEOUT
    assert refused, "no write was refused: the database was not down while writes were in flight"
    assert [o for o in acknowledged if o.ended < stopped_at], "no write succeeded before the stop"
    assert recovery < 10, f"no successful write within 10 s of the restart ({recovery:.1f} s)"
    assert not missing, f"acknowledged writes missing from the database: {missing[:5]}"
    assert not refused_but_stored, f"writes answered 503 but stored: {refused_but_stored[:5]}"
    assert not duplicates
    assert not unknown, f"rows nobody wrote: {unknown[:5]}"


Run = Callable[[Runner, Any, Any], Awaitable[list[dict[str, Any]]]]


def wrap_statements(
    monkeypatch: pytest.MonkeyPatch, wrapper: Callable[[Run, Runner, Any, Any], Awaitable[Any]]
) -> None:
    """Run every statement of the request path through ``wrapper(run, db,
    statement, params)``, ``run`` being the real one; ``db`` is the database
    or one of its transactions."""
    for cls in (PostgresDatabase, SQLiteDatabase, PostgresTransaction, SQLiteTransaction):

        def wrapped(self: Runner, statement: Any, params: Any = None, run: Run = cls.all) -> Any:
            return wrapper(run, self, statement, params)

        monkeypatch.setattr(cls, "all", wrapped)


def test_write_answered_503_is_not_stored(
    backend: str,
    client: TestClient,
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The connection is lost while POST /post/ runs its INSERT (what the stop
    above hits now and then): the client is told 503 with Retry-After, and the
    post is not stored, so a retry makes no duplicate. The answer comes from
    the INSERT's own RETURNING: there is no later step that could fail after
    the write."""
    user = make_user()
    headers = user.headers
    statements: list[Any] = []

    async def lost_on_insert(run: Run, db: Runner, statement: Any, params: Any) -> Any:
        statements.append(statement)
        if statement is posts.insert_statement(True):
            raise sa_exc.OperationalError("INSERT", {}, Exception("server closed the connection"))
        return await run(db, statement, params)

    wrap_statements(monkeypatch, lost_on_insert)
    response = client.post("/post/", json={"text": "told it failed"}, headers=headers)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert count(Post) == 0, "a write answered 503 was stored"
    # One statement, which checks the token's session too: nothing runs after it.
    assert statements == [posts.insert_statement(True)]


def kill_app_connections(client: TestClient) -> int:
    """Terminate every server process of the app's connections to the test
    database, as a database restart would; returns how many.

    First waits until the pool holds only idle connections: a pool that
    found dead ones replaces them in the background, and one of those, opened
    before the kill but handed over after it, would meet the next request dead
    (the test then flaked under load: a write's retry answered 503)."""
    deadline = time.monotonic() + 10
    db = client.app.state.database  # type: ignore[attr-defined]
    assert isinstance(db, PostgresDatabase)
    while True:
        stats = db.pool.get_stats()
        if stats["pool_size"] == stats["pool_available"]:
            break
        assert time.monotonic() < deadline, f"the pool did not settle: {stats}"
        time.sleep(0.01)
    with get_engine().connect() as conn:
        killed = conn.execute(
            text(
                # Waits (up to 5 s) until each is gone, as after a restart.
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'pamps'"
                " AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    return int(killed)


@pytest.mark.postgres_only
def test_requests_after_connections_died_are_served(
    backend: str, client: TestClient, make_user: Callable[..., Any]
) -> None:
    """The pool tests no connection before use: the first request to meet a
    dead one has the pool checked and its read run again, so a database
    restart costs no request an error."""
    user = make_user()
    headers = user.headers
    for _ in range(3):
        assert client.get("/post/").status_code == 200
        assert kill_app_connections(client) >= 1
        assert client.get("/post/").status_code == 200
        assert kill_app_connections(client) >= 1
        assert client.get(f"/user/{user.username}/").status_code == 200
        assert kill_app_connections(client) >= 1
        # A write is never run again (test_only_reads_are_run_again), but a
        # connection the server closed is seen before it is used: the write
        # goes on another and succeeds.
        response = client.post("/post/", json={"text": "after"}, headers=headers)
        assert response.status_code == 201, response.text
        url = f"/post/{response.json()['id']}/like/"
        assert kill_app_connections(client) >= 1
        response = client.post(url, headers=headers)
        assert response.status_code == 201, response.text


def test_only_reads_are_run_again() -> None:
    assert reads_only(posts.home_statement())
    assert reads_only(posts.post_with_replies_statement())
    assert reads_only(posts.timeline_statement("postgresql"))
    assert not reads_only(posts.insert_statement())
    assert not reads_only(social.like_statement("postgresql"))
    assert not reads_only(social.like_and_read_statement())  # a SELECT over an INSERT
    assert not reads_only(posts.edit_statement())


# --- 2. database down when the app starts -----------------------------------


def test_app_starts_with_database_down_and_health_recovers(private_pg: Cluster) -> None:
    private_pg.stop("fast")
    assert not private_pg.running()
    with live_server(private_pg.url, env=FAULT_ENV) as base_url:
        response = httpx.get(f"{base_url}/health", timeout=CLIENT_TIMEOUT)
        assert response.status_code == 503, response.text
        assert response.json()["status"] == "error"
        assert response.headers["retry-after"]
        # A route that needs the database says 503 too, not 500.
        response = httpx.get(f"{base_url}/post/", timeout=CLIENT_TIMEOUT)
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]

        private_pg.start()
        deadline = time.monotonic() + 15
        while True:
            response = httpx.get(f"{base_url}/health", timeout=CLIENT_TIMEOUT)
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok", "database": "ok"}
        assert httpx.get(f"{base_url}/post/", timeout=CLIENT_TIMEOUT).status_code == 200


# --- 3. connection pool exhausted -------------------------------------------


@pytest.fixture
def tiny_pool() -> Iterator[None]:
    """One connection per process, and a one-second wait for it."""
    with db_settings(pool_size=1, max_overflow=0, pool_timeout=1):
        yield


async def hold_connection(db: Database) -> Callable[[], Awaitable[None]]:
    """Check out a connection of the pool the requests use and keep it;
    returns what gives it back."""
    if isinstance(db, PostgresDatabase):
        await db.pool.open()
        held = await db.pool.getconn()
        return lambda: db.pool.putconn(held)
    assert isinstance(db, SQLiteDatabase)
    connection = await db.engine.connect()
    await connection.execute(text("SELECT 1"))
    return connection.close


@pytest.mark.postgres_only
def test_pool_exhausted_answers_503_then_recovers(
    backend: str, tiny_pool: None, database_url: str
) -> None:
    with TestClient(app) as client:
        pool_exhausted_answers_503_then_recovers(client)


def pool_exhausted_answers_503_then_recovers(client: TestClient) -> None:
    assert client.get("/post/").status_code == 200
    # The pool's only connection, taken on the app's own event loop (the
    # client's portal), where the requests below wait for it.
    assert client.portal is not None
    release = client.portal.call(hold_connection, client.app.state.database)  # type: ignore[attr-defined]
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            started = time.monotonic()
            # Bounded even if the app deadlocked: the future times out.
            response = pool.submit(client.get, "/post/").result(timeout=15)
            elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        assert 0.9 <= elapsed < 8, elapsed
        health = client.get("/health")
        assert health.status_code == 503
        assert health.headers["retry-after"]
    finally:
        client.portal.call(release)
    for _ in range(3):
        assert client.get("/post/").status_code == 200
    assert client.get("/health").status_code == 200


# --- 4. statement timeout and the error mapping -----------------------------


@pytest.fixture
def timeout_engine(database_url: str) -> Iterator[Any]:
    """An engine built like the app's, with a 100 ms statement timeout."""
    saved = settings.db.statement_timeout_ms
    settings.set("db.statement_timeout_ms", 100)
    try:
        engine = create_engine(database_url, **engine_options(database_url))
    finally:
        settings.set("db.statement_timeout_ms", saved)
    yield engine
    engine.dispose()


def raised(action: Callable[[], Any]) -> sa_exc.SQLAlchemyError:
    try:
        action()
    except sa_exc.SQLAlchemyError as error:
        return error
    raise AssertionError("no database error raised")


@pytest.mark.postgres_only
def test_statement_timeout_cancels_and_maps_to_unavailable(
    backend: str, timeout_engine: Any
) -> None:
    started = time.monotonic()
    with timeout_engine.connect() as conn:
        error = raised(lambda: conn.execute(text("SELECT pg_sleep(10)")))
    assert time.monotonic() - started < 5
    assert isinstance(error, sa_exc.OperationalError)
    assert isinstance(error.orig, psycopg.errors.QueryCanceled)
    assert error.orig.sqlstate == "57014"
    assert database_unavailable(error)


@pytest.mark.postgres_only
def test_constraint_errors_are_not_unavailable(backend: str, timeout_engine: Any) -> None:
    with timeout_engine.connect() as conn:
        conn.execute(text("CREATE TEMP TABLE fault_t (x int UNIQUE CHECK (x > 0))"))
        conn.execute(text("INSERT INTO fault_t VALUES (1)"))
        conn.commit()
        unique = raised(lambda: conn.execute(text("INSERT INTO fault_t VALUES (1)")))
        conn.rollback()
        check = raised(lambda: conn.execute(text("INSERT INTO fault_t VALUES (-1)")))
        conn.rollback()
        syntax = raised(lambda: conn.execute(text("SELEC 1")))
        conn.rollback()
    assert isinstance(unique, sa_exc.IntegrityError) and unique.orig.sqlstate == "23505"  # type: ignore[union-attr]
    assert isinstance(check, sa_exc.IntegrityError) and check.orig.sqlstate == "23514"  # type: ignore[union-attr]
    assert isinstance(syntax, sa_exc.ProgrammingError)
    for error in (unique, check, syntax):
        assert not database_unavailable(error), error


def test_connection_refused_and_pool_timeout_are_unavailable() -> None:
    url = f"postgresql://postgres@127.0.0.1:{pgserver.free_port()}/postgres"
    refused = create_engine(url, **engine_options(url))
    try:
        error = raised(lambda: refused.connect())
    finally:
        refused.dispose()
    assert isinstance(error, sa_exc.OperationalError)
    assert database_unavailable(error)
    assert database_unavailable(sa_exc.TimeoutError("QueuePool limit reached"))


def test_sqlite_database_locked_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x int)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.connect() as conn:
            error = raised(lambda: conn.execute(text("INSERT INTO t VALUES (1)")))
    finally:
        engine.dispose()
        holder.close()
    assert isinstance(error, sa_exc.OperationalError)
    assert "locked" in str(error.orig)
    assert database_unavailable(error)


SLOW = text("SELECT pg_sleep(10)")


@pytest.mark.postgres_only
def test_slow_statement_in_a_request_answers_503(
    backend: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement over db.statement_timeout_ms is cancelled: 503, not a hang."""
    saved = settings.db.statement_timeout_ms
    settings.set("db.statement_timeout_ms", 200)
    monkeypatch.setattr(posts, "post_with_replies_statement", lambda: SLOW)
    try:
        with TestClient(app) as client:
            started = time.monotonic()
            response = client.get("/post/1/")
            elapsed = time.monotonic() - started
    finally:
        settings.set("db.statement_timeout_ms", saved)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert elapsed < 5


# --- 5. failure in the middle of a multi-step write -------------------------


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (RuntimeError("crash between UPDATE and COMMIT"), 500),
        (sa_exc.OperationalError("COMMIT", {}, Exception("connection lost")), 503),
    ],
    ids=["crash", "connection-lost"],
)
def test_edit_commit_failure_leaves_the_post_unchanged(
    backend: str,
    make_user: Callable[..., Any],
    make_post: Callable[..., dict[str, Any]],
    failure: Exception,
    status: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The UPDATE has run inside the transaction when the request fails."""
    user = make_user()
    headers = user.headers
    post = make_post(user, "first draft")
    seen_in_transaction: list[str] = []

    async def fail_after_update(run: Run, db: Runner, statement: Any, params: Any) -> Any:
        rows = await run(db, statement, params)
        if statement is posts.post_statement() and not isinstance(db, Database):
            seen_in_transaction.append(rows[0]["text"])
            raise failure
        return rows

    url = f"/post/{post['id']}/"
    with monkeypatch.context() as patch:
        wrap_statements(patch, fail_after_update)
        with TestClient(app, raise_server_exceptions=False) as failing:
            response = failing.patch(url, json={"text": "half-written"}, headers=headers)
    assert response.status_code == status, response.text
    assert seen_in_transaction == ["half-written"]
    with TestClient(app) as client:
        assert client.get(url).json()["text"] == "first draft"
        assert client.get(url).json()["edited_at"] is None
        # The failed request left no broken connection behind.
        response = client.patch(url, json={"text": "whole"}, headers=headers)
        assert response.status_code == 200, response.text
        assert client.get(url).json()["text"] == "whole"


def test_like_failure_after_insert_is_safe_to_retry(
    backend: str,
    client: TestClient,
    make_user: Callable[..., Any],
    make_post: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A like is one INSERT, committed at once; if the request fails after it
    (reading the post back for the answer, in the same statement on
    PostgreSQL), the client's retry finds the like and answers 200 with the
    right count, never a second like."""
    author, fan = make_user(), make_user()
    post = make_post(author)
    lost: list[bool] = []
    if backend == "postgresql":
        last: Any = social.like_and_read_statement(True)  # its session check folded
    else:
        last = posts.post_statement()

    async def fail_after_insert(run: Run, db: Runner, statement: Any, params: Any) -> Any:
        rows = await run(db, statement, params)
        if statement is last and not lost:
            lost.append(True)
            raise sa_exc.OperationalError("SELECT", {}, Exception("connection lost"))
        return rows

    wrap_statements(monkeypatch, fail_after_insert)
    url = f"/post/{post['id']}/like/"
    response = client.post(url, headers=fan.headers)
    assert response.status_code == 503, response.text
    assert count(Like, post_id=post["id"]) == 1
    response = client.post(url, headers=fan.headers)
    assert response.status_code == 200, response.text
    assert response.json()["likes_count"] == 1
    assert count(Like, post_id=post["id"]) == 1


def test_follow_failure_after_insert_is_safe_to_retry(
    backend: str,
    client: TestClient,
    make_user: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A follow is one INSERT, committed at once; if the request fails after
    it, the retry answers 200 and there is still one edge."""
    star, fan = make_user(), make_user()
    lost: list[bool] = []

    async def fail_after_insert(run: Run, db: Runner, statement: Any, params: Any) -> Any:
        rows = await run(db, statement, params)
        if statement is social.follow_statement(backend) and not lost:
            lost.append(True)
            raise sa_exc.OperationalError("COMMIT", {}, Exception("connection lost"))
        return rows

    wrap_statements(monkeypatch, fail_after_insert)
    response = client.post(f"/user/follow/{star.id}", headers=fan.headers)
    assert response.status_code == 503, response.text
    assert count(Social) == 1
    response = client.post(f"/user/follow/{star.id}", headers=fan.headers)
    assert response.status_code == 200, response.text
    assert count(Social) == 1
    assert client.get(f"/user/{star.username}/").json()["followers_count"] == 1


# --- 6. 500s carry no internals ----------------------------------------------


def test_unexpected_error_is_a_bare_500_logged_with_request_id(
    backend: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = 'SELECT password FROM "user" -- internal detail'

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(secret)

    monkeypatch.setattr(posts, "post_with_replies", broken)
    logger = logging.getLogger("pamps")
    logger.addHandler(caplog.handler)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/post/1/", headers={"X-Request-ID": "fault-test-500"})
    finally:
        logger.removeHandler(caplog.handler)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    for leak in ("Traceback", "SELECT", "RuntimeError", "password", "pamps/"):
        assert leak not in response.text
    request_id = response.headers["x-request-id"]
    assert request_id == "fault-test-500"
    assert response.headers["x-content-type-options"] == "nosniff"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors, "the 500 was not logged"
    assert all(getattr(r, "request_id", None) == request_id for r in errors)
    assert any(r.exc_info and secret in str(r.exc_info[1]) for r in errors)
