"""Read replicas: a real PostgreSQL primary and a streaming replica of it.

Each test starts a private primary and a standby made with pg_basebackup -R
(tests/pgserver.py), migrates the primary, and runs `pamps serve` with the
standby in ``db.replicas``. Shown through the API only:

- anonymous reads are answered by the replica: with the replica's replay
  paused, a post just written is missing from anonymous answers while the
  replica is within ``db.replica_max_lag_seconds``;
- the author's own requests (with credentials) read the primary and see the
  post at once;
- past the bound the paused replica is skipped, and taken back once it has
  caught up;
- a replica stopped in the middle of a stream of requests costs none of them.

Also: the settings refuse replicas on SQLite and URIs of other databases.
"""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from alembic import command

from pamps import config
from pamps.cli import migrations_config
from pamps.config import ConfigError, settings
from tests import pgserver
from tests.live import live_server

MAX_LAG = 3  # seconds
CHECK_EVERY = 0.2  # seconds
PASSWORD = "correct horse battery"


@dataclass
class Replicated:
    primary: pgserver.PrivatePostgres
    replica: pgserver.PrivatePostgres
    primary_url: str
    replica_url: str

    def on_replica(self, sql: str) -> Any:
        with psycopg.connect(self.replica_url, autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
            return row[0] if row else None

    def pamps_connections(self) -> int:
        """Connections of Pamps' pools to the replica."""
        sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pamps'"
        return int(self.on_replica(sql))

    def caught_up(self) -> bool:
        with psycopg.connect(self.primary_url, autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert row is not None
        return bool(self.on_replica(f"SELECT pg_last_wal_replay_lsn() >= '{row[0]}'::pg_lsn"))


@pytest.fixture
def replicated(request: pytest.FixtureRequest) -> Iterator[Replicated]:
    """A migrated primary and its streaming replica, both removed afterwards."""
    if request.config.getoption("--backend") == "sqlite":
        pytest.skip("read replicas are a PostgreSQL feature")
    if pgserver.bindir() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_basebackup) not installed")
    primary = pgserver.PrivatePostgres().init()
    replica: pgserver.PrivatePostgres | None = None
    try:
        primary.start()
        with psycopg.connect(primary.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE pamps")
        primary_url = pgserver.with_database(primary.url, "pamps")
        command.upgrade(migrations_config(primary_url), "head")
        replica = primary.standby()
        replica.start()
        setup = Replicated(
            primary, replica, primary_url, pgserver.with_database(replica.url, "pamps")
        )
        pgserver.wait_until_reachable(setup.replica_url)
        wait_for(setup.caught_up, "the replica to catch up")
        yield setup
    finally:
        if replica is not None:
            replica.cleanup()
        primary.cleanup()


@pytest.fixture
def host(replicated: Replicated) -> Iterator[str]:
    env = {
        "PAMPS_DB__REPLICAS": replicated.replica_url,
        "PAMPS_DB__REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
        "PAMPS_DB__REPLICA_CHECK_SECONDS": str(CHECK_EVERY),
    }
    with live_server(replicated.primary_url, env=env, cli=True, timeout=60) as url:
        yield url


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 20) -> float:
    """Seconds until ``condition()`` holds; fails after ``seconds``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


class Author:
    """A user of the host, logged in."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.name = f"r_{uuid.uuid4().hex[:12]}"
        body = {"username": self.name, "email": f"{self.name}@example.com", "password": PASSWORD}
        assert httpx.post(f"{host}/user/", json=body, timeout=30).status_code == 201
        form = {"username": self.name, "password": PASSWORD}
        response = httpx.post(f"{host}/token", data=form, timeout=30)
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def post(self, text: str) -> int:
        response = httpx.post(f"{self.host}/post/", json={"text": text}, headers=self.headers)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def home(self, signed_in: bool) -> list[int]:
        """The ids on the home page, read with or without credentials."""
        headers = self.headers if signed_in else {}
        response = httpx.get(f"{self.host}/post/", headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return [post["id"] for post in response.json()]


def test_anonymous_reads_use_the_replica_and_authors_read_their_own_writes(
    replicated: Replicated, host: str
) -> None:
    author = Author(host)
    first = author.post("before the pause")
    wait_for(
        lambda: author.home(signed_in=False) == [first] and replicated.pamps_connections() > 0,
        "an anonymous read on the replica",
    )

    replicated.on_replica("SELECT pg_wal_replay_pause()")
    second = author.post("while the replica is paused")
    written = time.monotonic()
    # The author sees it at once: requests with credentials read the primary.
    assert author.home(signed_in=True) == [second, first]
    # Anonymous readers are served by the paused replica, within the bound.
    assert author.home(signed_in=False) == [first]
    anonymous = httpx.get(f"{host}/post/{second}/", timeout=30)
    assert anonymous.status_code == 404
    mine = httpx.get(f"{host}/post/{second}/", headers=author.headers, timeout=30)
    assert mine.status_code == 200
    profile = httpx.get(f"{host}/user/{author.name}/", timeout=30).json()
    assert profile["posts_count"] == 1

    # Past the bound the replica is skipped: anonymous reads come from the
    # primary. (It cannot happen sooner: the replica stays paused.)
    wait_for(lambda: author.home(signed_in=False) == [second, first], "the replica to be skipped")
    assert time.monotonic() - written >= MAX_LAG - 2 * CHECK_EVERY
    assert httpx.get(f"{host}/user/{author.name}/", timeout=30).json()["posts_count"] == 2

    # Resumed and caught up, it is taken back.
    replicated.on_replica("SELECT pg_wal_replay_resume()")
    wait_for(replicated.caught_up, "the replica to catch up")
    time.sleep(3 * CHECK_EVERY)
    replicated.on_replica("SELECT pg_wal_replay_pause()")
    third = author.post("after the replica came back")
    assert author.home(signed_in=False) == [second, first]
    assert author.home(signed_in=True) == [third, second, first]


def test_a_replica_stopped_halfway_costs_no_request(replicated: Replicated, host: str) -> None:
    author = Author(host)
    ids = [author.post(f"post {n}") for n in range(5)]
    wait_for(lambda: len(author.home(signed_in=False)) == 5, "the posts on the replica")
    paths = ["/post/", f"/post/{ids[2]}/", f"/user/{author.name}/", "/user/"]
    paths += [f"/post/user/{author.name}/", f"/user/{author.name}/followers/"]
    answers: list[tuple[int, str]] = []
    stopped = threading.Event()

    def read_on() -> None:
        with httpx.Client(base_url=host, timeout=30) as client:
            # Until well after the stop, and at least 300 requests.
            while len(answers) < 300 or not stopped.is_set():
                path = paths[len(answers) % len(paths)]
                answers.append((client.get(path).status_code, path))

    reader = threading.Thread(target=read_on, daemon=True)
    reader.start()
    wait_for(lambda: len(answers) >= 150, "the first half of the requests")
    replicated.replica.stop("immediate")  # as a crash: connections cut
    stopped.set()
    reader.join(timeout=120)
    assert not reader.is_alive(), "the reads did not finish"

    assert len(answers) >= 300
    assert [answer for answer in answers if answer[0] != 200] == []
    # From the primary now, and current: a new post shows at once.
    newest = author.post("after the stop")
    assert author.home(signed_in=False)[0] == newest
    assert not pgserver.reachable(replicated.replica_url)


# Settings ---------------------------------------------------------------------


@pytest.fixture
def replica_settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The testing settings, in place of the process's own, for this test."""
    testing = settings.from_env("testing")
    monkeypatch.setattr(config, "settings", testing)
    return testing


def test_sqlite_refuses_replicas_with_one_line(replica_settings: Any) -> None:
    replica_settings.set("db.uri", "sqlite:///pamps.db")
    replica_settings.set("db.replicas", "postgresql://reader:secret@replica/pamps")
    with pytest.raises(ConfigError, match="SQLite has no replicas") as error:
        config.check_settings()
    assert "\n" not in str(error.value)
    replica_settings.set("db.replicas", "")
    config.check_settings()


@pytest.mark.parametrize(
    ("value", "uris"),
    [
        ("", []),
        ("postgresql://r1/pamps", ["postgresql://r1/pamps"]),
        (
            "postgresql://r1/pamps, postgresql://r2/pamps",
            ["postgresql://r1/pamps", "postgresql://r2/pamps"],
        ),
    ],
    ids=["empty", "one", "comma-separated"],
)
def test_replica_uris_from_one_string(replica_settings: Any, value: Any, uris: list[str]) -> None:
    replica_settings.set("db.uri", "postgresql://writer/pamps")
    replica_settings.set("db.replicas", value)
    config.check_settings()
    assert config.replica_uris() == uris


def test_a_replica_of_another_kind_is_refused_without_its_uri(replica_settings: Any) -> None:
    replica_settings.set("db.uri", "postgresql://writer/pamps")
    replica_settings.set("db.replicas", "postgresql://r1/pamps,mysql://u:hunter2@r2/pamps")
    with pytest.raises(ConfigError, match="replica 2 is not a postgresql") as error:
        config.check_settings()
    assert "hunter2" not in str(error.value)
