"""`pamps seed` on a tiny scale, on both backends."""

import re
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from pamps.seed import SCALES, SEED_PASSWORD, SeedError, seed, seed_command
from tests.conftest import get_engine
from tests.test_counters import assert_counters_true

USERS, POSTS, FOLLOWS, LIKES = 40, 300, 6, 500
TINY = ["--users", "40", "--posts", "300", "--follows", "6", "--likes", "500"]


def run(*args: str) -> Any:
    app = typer.Typer()
    app.command()(seed_command)
    return CliRunner().invoke(app, list(args))


def rows(table: str) -> list[tuple[Any, ...]]:
    with get_engine().connect() as conn:
        return [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{table}" ORDER BY id'))]


def count(table: str) -> int:
    with get_engine().connect() as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())


def test_command_seeds_counts(backend: str) -> None:
    result = run(*TINY, "--seed", "3")
    assert result.exit_code == 0, result.output
    assert SEED_PASSWORD in result.output
    assert count("user") == USERS
    assert count("post") == POSTS
    assert count("social") == USERS * FOLLOWS
    assert count("like") == LIKES


def test_says_how_much_disk_it_takes(backend: str) -> None:
    result = seed(get_engine(), USERS, POSTS, FOLLOWS, LIKES, seed=2, progress=False)
    assert result.disk_bytes is not None and result.disk_bytes > 0
    printed = run(*TINY, "--force")
    assert printed.exit_code == 0, printed.output
    assert re.search(r"The database takes [0-9,]+ MB on disk\.", printed.output), printed.output


def test_the_fifth_scale_is_seeded_and_benchmarked() -> None:
    from bench.run import parse_args

    assert SCALES["S4"] == (200_000, 5_000_000, 50, 10_000_000)
    assert parse_args(["--scale", "S4"]).scale == "S4"
    assert "S4" in run("--help").output


def test_scale_preset(backend: str) -> None:
    result = run("--scale", "S0")
    assert result.exit_code == 0, result.output
    assert (count("user"), count("post"), count("like")) == (50, 300, 600)
    assert count("social") == 50 * 5


def test_shape_of_the_network(backend: str) -> None:
    seed(get_engine(), USERS, POSTS, FOLLOWS, LIKES, seed=5, progress=False)
    users = rows("user")
    assert [u[0] for u in users] == list(range(1, USERS + 1))
    assert users[0][2] == "user000001"
    assert users[0][1] == "user000001@example.com"
    assert len({u[5] for u in users}) == 1  # one shared password hash

    posts = rows("post")
    replies = [p for p in posts if p[4] is not None]
    assert 0.12 < len(replies) / len(posts) < 0.28
    assert all(p[4] < p[0] for p in replies)  # parents are earlier posts
    dates = [p[2] for p in posts]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert all(p[6] is None for p in posts)  # nothing deleted

    follows = [(s[1], s[2]) for s in rows("social")]
    assert all(a != b for a, b in follows)
    assert len(set(follows)) == len(follows)
    followers: dict[int, int] = {}
    for _, to_id in follows:
        followers[to_id] = followers.get(to_id, 0) + 1
    # Skewed: the most followed account has several times the average.
    assert max(followers.values()) > 3 * FOLLOWS

    likes = [(lk[1], lk[2]) for lk in rows("like")]
    assert len(set(likes)) == len(likes) == LIKES
    # The counters are set for the network loaded (PostgreSQL counts after
    # the load, SQLite's triggers as rows arrive), and count on afterwards.
    assert_counters_true()
    with get_engine().begin() as conn:
        conn.execute(text('DELETE FROM "like" WHERE id <= 10'))
        conn.execute(text("UPDATE post SET deleted_at = CURRENT_TIMESTAMP WHERE id <= 10"))
    assert_counters_true()


@pytest.mark.postgres_only
def test_indexes_are_usable_at_once(backend: str) -> None:
    """PostgreSQL ignores an index built over rows its own transaction
    updated (pg_index.indcheckxmin) until older transactions end: the seed
    writes each row once, with its counters, in id order."""
    seed(get_engine(), USERS, POSTS, FOLLOWS, LIKES, seed=4, progress=False)
    with get_engine().connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indcheckxmin "
                "AND indrelid IN ('\"user\"'::regclass, 'post'::regclass, "
                "'social'::regclass, '\"like\"'::regclass)"
            )
        ).all()
        ids = [row[0] for row in conn.execute(text("SELECT id FROM post"))]
    assert waiting == []
    assert ids == sorted(ids)  # stored in id order, as loaded
    assert_counters_true()


def test_same_seed_same_rows(backend: str) -> None:
    assert run(*TINY, "--seed", "42").exit_code == 0
    first = {t: rows(t) for t in ("user", "post", "social", "like")}
    result = run(*TINY, "--seed", "42", "--force")
    assert result.exit_code == 0, result.output
    again = {t: rows(t) for t in ("user", "post", "social", "like")}
    # The password hash is salted: everything else must be identical.
    strip = lambda rs: [r[:5] + r[6:] for r in rs]  # noqa: E731
    assert strip(first["user"]) == strip(again["user"])
    for table in ("post", "social", "like"):
        assert first[table] == again[table], table

    assert run(*TINY, "--seed", "43", "-f").exit_code == 0
    assert rows("post") != first["post"]


def test_refuses_a_database_with_users(backend: str) -> None:
    assert run(*TINY).exit_code == 0
    result = run(*TINY)
    assert result.exit_code == 1
    assert "already has users" in result.output
    assert "--force" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(SeedError):
        seed(get_engine(), 5, 5, 1, 5, progress=False)
    assert count("post") == POSTS  # untouched


def test_impossible_numbers_are_one_line(backend: str) -> None:
    result = run("--users", "3", "--posts", "2", "--follows", "5", "--likes", "0")
    assert result.exit_code == 1
    assert "--follows 5" in result.output
    assert run("--scale", "S9").exit_code == 1
    assert count("user") == 0


def test_seeded_users_log_in_and_ids_continue(backend: str, client: TestClient) -> None:
    seed(get_engine(), USERS, POSTS, FOLLOWS, LIKES, seed=1, progress=False)
    response = client.post("/token", data={"username": "user000007", "password": SEED_PASSWORD})
    assert response.status_code == 200, response.text
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    timeline = client.get("/user/timeline", headers=headers)
    assert timeline.status_code == 200
    assert timeline.json()  # follows produce a timeline

    registered = client.post(
        "/user/",
        json={"username": "newcomer", "email": "newcomer@example.com", "password": "x" * 12},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["id"] == USERS + 1

    posted = client.post("/post/", json={"text": "after the seed"}, headers=headers)
    assert posted.status_code == 201, posted.text
    assert posted.json()["id"] == POSTS + 1
    liked = client.post(f"/post/{POSTS}/like/", headers=headers)
    assert liked.status_code in (200, 201), liked.text
