"""Real concurrent requests against a running server.

A live ``uvicorn`` (tests/live.py) serves the backend's migrated database while
many threads fire requests released together by a barrier, so they really
overlap inside the server. Rate limits are off: only the database decides who
wins. Results are checked through the API and directly in SQL.

Both backends: SQLite in WAL mode with a busy timeout serialises the writers
and must give the same answers as PostgreSQL. The bulk tests keep WIDTH
requests in flight rather than all at once: a burst of more requests than
the threadpool has threads is its own test, test_burst_beyond_the_threadpool.
"""

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import get_engine
from tests.live import live_server

T = TypeVar("T")

PASSWORD = "correct horse battery"
TIMEOUT = 30
# Sync routes and their sync dependencies share anyio's default thread limiter.
THREADPOOL = 40
# Requests kept in flight by the bulk tests: well inside the threadpool.
WIDTH = 25


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    """One live server per backend for the whole module (tables are emptied
    after each test by the autouse fixture; the server keeps no state)."""
    with live_server(database_url, timeout=90, env={"PAMPS_RATELIMIT__ENABLED": "false"}) as url:
        yield url


@pytest.fixture
def http(backend: str, server: str) -> Iterator[httpx.Client]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    with httpx.Client(base_url=server, timeout=TIMEOUT, limits=limits) as client:
        yield client


def concurrently(calls: Sequence[Callable[[], T]], width: int | None = None) -> list[T]:
    """Run the calls on ``width`` threads (default: one each); results in order.

    The first ``width`` calls wait at a barrier and start together; each thread
    then takes the next call as soon as it is done, so ``width`` requests are
    in flight until the end.
    """
    width = min(width or len(calls), len(calls))
    barrier = threading.Barrier(width, timeout=TIMEOUT)

    def run(index: int, call: Callable[[], T]) -> T:
        if index < width:
            barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=width) as pool:
        futures = [pool.submit(run, i, call) for i, call in enumerate(calls)]
        return [future.result(timeout=4 * TIMEOUT) for future in futures]


def sql(query: str, **params: Any) -> list[Any]:
    with get_engine().connect() as conn:
        return list(conn.execute(text(query), params).all())


def scalar(query: str, **params: Any) -> Any:
    return sql(query, **params)[0][0]


@dataclass
class Account:
    id: int
    username: str
    headers: dict[str, str]


def register(http: httpx.Client, username: str) -> Account:
    response = http.post(
        "/user/",
        json={
            "username": username,
            "email": f"{username.lower()}@example.com",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    token = http.post("/token", data={"username": username, "password": PASSWORD})
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return Account(response.json()["id"], username, headers)


def write_post(
    http: httpx.Client, author: Account, text_: str, parent_id: int | None = None
) -> Any:
    payload: dict[str, Any] = {"text": text_}
    if parent_id is not None:
        payload["parent_id"] = parent_id
    response = http.post("/post/", json=payload, headers=author.headers)
    assert response.status_code == 201, response.text
    return response.json()


def statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


def test_concurrent_likes_of_one_post_by_one_user(http: httpx.Client) -> None:
    author, fan = register(http, "author"), register(http, "fan")
    post = write_post(http, author, "like me")

    responses = concurrently(
        [lambda: http.post(f"/post/{post['id']}/like/", headers=fan.headers)] * 10
    )

    assert {r.status_code for r in responses} <= {200, 201}, [r.text for r in responses]
    # Every answer, the winner's and the losers', already shows the one like.
    assert {r.json()["likes_count"] for r in responses} == {1}
    rows = scalar('SELECT count(*) FROM "like" WHERE post_id = :p', p=post["id"])
    assert rows == 1
    assert http.get(f"/post/{post['id']}/").json()["likes_count"] == rows


def test_like_unlike_storms_leave_count_equal_to_rows(http: httpx.Client) -> None:
    author = register(http, "author")
    fans = [register(http, f"fan{i}") for i in range(5)]
    post = write_post(http, author, "storm")
    url = f"/post/{post['id']}/like/"

    def like(fan: Account) -> Callable[[], httpx.Response]:
        return lambda: http.post(url, headers=fan.headers)

    def unlike(fan: Account) -> Callable[[], httpx.Response]:
        return lambda: http.delete(url, headers=fan.headers)

    calls = [op(fan) for fan in fans for op in (like, unlike) * 4]
    # The last call of each fan decides nothing: the order is shuffled.
    random.Random(4).shuffle(calls)
    for _ in range(2):  # two storms in a row, the second starting from the first's state
        responses = concurrently(calls)
        assert {r.status_code for r in responses} <= {200, 201, 204}, [
            r.text for r in responses if r.status_code >= 300
        ]

    rows = scalar('SELECT count(*) FROM "like" WHERE post_id = :p', p=post["id"])
    duplicates = sql(
        'SELECT user_id FROM "like" WHERE post_id = :p GROUP BY user_id HAVING count(*) > 1',
        p=post["id"],
    )
    assert duplicates == []
    assert 0 <= rows <= len(fans)
    assert http.get(f"/post/{post['id']}/").json()["likes_count"] == rows
    # And the counter still follows the rows once the storm is over.
    for fan in fans:
        assert http.post(url, headers=fan.headers).status_code in (200, 201)
    assert http.get(f"/post/{post['id']}/").json()["likes_count"] == len(fans)
    assert scalar('SELECT count(*) FROM "like" WHERE post_id = :p', p=post["id"]) == len(fans)


def test_concurrent_follows_make_one_edge(http: httpx.Client) -> None:
    follower, star = register(http, "follower"), register(http, "star")

    responses = concurrently(
        [lambda: http.post(f"/user/follow/{star.id}", headers=follower.headers)] * 10
    )

    assert {r.status_code for r in responses} <= {200, 201}, [r.text for r in responses]
    edges = scalar(
        "SELECT count(*) FROM social WHERE from_id = :a AND to_id = :b", a=follower.id, b=star.id
    )
    assert edges == 1
    assert scalar("SELECT count(*) FROM social") == 1
    assert http.get(f"/user/{star.username}/").json()["followers_count"] == 1
    assert http.get(f"/user/{follower.username}/").json()["following_count"] == 1


def test_one_201_then_200_for_concurrent_likes_and_follows(http: httpx.Client) -> None:
    """The routes' contract: 201 for the request that created the row, 200 for the rest."""
    author, fan = register(http, "author"), register(http, "fan")
    post = write_post(http, author, "like me")

    responses = concurrently(
        [lambda: http.post(f"/post/{post['id']}/like/", headers=fan.headers)] * 10
        + [lambda: http.post(f"/user/follow/{author.id}", headers=fan.headers)] * 10
    )

    assert statuses(responses[:10]) == [200] * 9 + [201]
    assert statuses(responses[10:]) == [200] * 9 + [201]


CASES = ["racer", "Racer", "RACER", "rAcer", "raCer", "racEr", "raceR", "RAcer", "rACER", "RaCeR"]


@pytest.mark.parametrize("clash", ["username", "email"])
def test_concurrent_registrations_have_one_winner(http: httpx.Client, clash: str) -> None:
    def body(i: int) -> dict[str, str]:
        if clash == "username":  # one name in ten spellings, ten emails
            return {
                "username": CASES[i],
                "email": f"racer{i}@example.com",
                "password": f"{PASSWORD} {i}",
            }
        return {  # one email in ten spellings, ten names
            "username": f"racer{i}",
            "email": f"{CASES[i]}@Example.com",
            "password": f"{PASSWORD} {i}",
        }

    bodies = [body(i) for i in range(10)]
    responses = concurrently([partial(http.post, "/user/", json=b) for b in bodies])

    assert statuses(responses) == [201] + [409] * 9, [r.text for r in responses]
    assert all(r.json()["detail"] for r in responses if r.status_code == 409)
    assert scalar('SELECT count(*) FROM "user"') == 1
    if clash == "username":
        assert scalar("SELECT count(*) FROM \"user\" WHERE lower(username) = 'racer'") == 1
    else:
        assert scalar("SELECT count(*) FROM \"user\" WHERE email = 'racer@example.com'") == 1
    # The row stored is the winner's: its own password logs in.
    winner = next(b for b, r in zip(bodies, responses, strict=True) if r.status_code == 201)
    token = http.post(
        "/token", data={"username": winner["username"], "password": winner["password"]}
    )
    assert token.status_code == 200, token.text


def test_ten_users_ten_concurrent_posts_each(http: httpx.Client) -> None:
    users = concurrently([partial(register, http, f"writer_{i}") for i in range(10)])
    sent = [(user, f"post {n} by {user.username}") for user in users for n in range(10)]
    random.Random(10).shuffle(sent)

    # WIDTH in flight, not all 100 at once: see test_burst_beyond_the_threadpool.
    responses = concurrently(
        [partial(http.post, "/post/", json={"text": t}, headers=u.headers) for u, t in sent],
        width=WIDTH,
    )

    assert [r.status_code for r in responses] == [201] * 100, [
        r.text for r in responses if r.status_code != 201
    ]
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 100
    assert scalar("SELECT count(*) FROM post") == 100
    reads = concurrently([partial(http.get, f"/post/{i}/") for i in ids], width=WIDTH)
    for (user, sent_text), post_id, read in zip(sent, ids, reads, strict=True):
        assert read.status_code == 200, read.text
        body = read.json()
        assert body["id"] == post_id
        assert body["text"] == sent_text
        assert (body["user_id"], body["username"]) == (user.id, user.username)
        assert body["parent_id"] is None
        assert (body["likes_count"], body["replies_count"], body["replies"]) == (0, 0, [])
    for user in users:
        listed = http.get(f"/post/user/{user.username}/", params={"limit": 100}).json()
        assert sorted(p["text"] for p in listed) == sorted(t for u, t in sent if u is user)


def test_two_concurrent_deletes_of_one_post(http: httpx.Client) -> None:
    author, other = register(http, "author"), register(http, "other")
    posts = [write_post(http, author, f"doomed {n}") for n in range(5)]
    replies = {
        post["id"]: [
            write_post(http, other, f"reply to {post['id']}", post["id"]),
            write_post(http, author, f"own reply to {post['id']}", post["id"]),
        ]
        for post in posts
    }

    calls = [
        partial(http.delete, f"/post/{post['id']}/", headers=author.headers)
        for post in posts
        for _ in range(2)
    ]
    responses = concurrently(calls)

    for n, post in enumerate(posts):
        pair = responses[2 * n : 2 * n + 2]
        assert statuses(pair) == [204, 404], [r.text for r in pair]
        assert http.get(f"/post/{post['id']}/").status_code == 404
        for reply in replies[post["id"]]:
            read = http.get(f"/post/{reply['id']}/")
            assert read.status_code == 200, read.text
            assert (read.json()["text"], read.json()["parent_id"]) == (reply["text"], post["id"])
    ids = [post["id"] for post in posts]
    deleted = sql("SELECT id FROM post WHERE deleted_at IS NOT NULL ORDER BY id")
    assert [row[0] for row in deleted] == ids
    assert scalar("SELECT count(*) FROM post WHERE deleted_at IS NULL") == 10
    assert http.get("/post/").json() == []


def test_paging_while_others_insert_sees_each_item_once(http: httpx.Client) -> None:
    author, writers = register(http, "author"), [register(http, f"writer_{i}") for i in range(3)]
    existing = [write_post(http, author, f"old {n}")["id"] for n in range(32)]
    inserted = 0
    lock = threading.Lock()
    done = threading.Event()
    pages: list[list[int]] = []

    def page_through() -> None:
        try:
            url: str | None = "/post/?limit=5"
            while url is not None:
                with lock:
                    before = inserted
                response = http.get(url)
                assert response.status_code == 200, response.text
                pages.append([p["id"] for p in response.json()])
                url = response.links.get("next", {}).get("url")
                # Let at least one insert land between two pages.
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    with lock:
                        if inserted > before:
                            break
                    time.sleep(0.002)
        finally:
            done.set()

    def insert(writer: Account) -> None:
        nonlocal inserted
        n = 0
        while not done.is_set() and n < 60:
            write_post(http, writer, f"new {n} by {writer.username}")
            n += 1
            with lock:
                inserted += 1

    tasks: list[Callable[[], None]] = [page_through, *(partial(insert, w) for w in writers)]
    concurrently(tasks)

    seen = [post_id for page in pages for post_id in page]
    assert len(pages) >= len(existing) // 5
    assert inserted >= len(pages) - 1  # inserts really ran between the pages
    assert len(seen) == len(set(seen)), Counter(seen).most_common(3)
    assert seen == sorted(seen, reverse=True)
    assert set(existing) <= set(seen)
    # Anything else seen is new and could only be on the first page.
    assert set(seen) - set(existing) <= set(pages[0])


@pytest.mark.postgres_only
def test_burst_beyond_the_threadpool(backend: str, database_url: str) -> None:
    """More simultaneous requests than threads, on a small pool: all must be served.

    The control shows the pool itself is not the limit: THREADPOOL requests
    queue for its 5 connections and all succeed.
    """
    env = {
        "PAMPS_RATELIMIT__ENABLED": "false",
        "PAMPS_DB__POOL_SIZE": "5",
        "PAMPS_DB__MAX_OVERFLOW": "0",
        "PAMPS_DB__POOL_TIMEOUT": "2",
    }
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    with (
        live_server(database_url, env=env, timeout=90) as url,
        httpx.Client(base_url=url, timeout=TIMEOUT, limits=limits) as http,
    ):
        user = register(http, "burst")

        def me() -> httpx.Response:
            return http.get("/user/me/", headers=user.headers)

        assert statuses(concurrently([me] * THREADPOOL)) == [200] * THREADPOOL
        for _ in range(3):
            responses = concurrently([me] * (THREADPOOL + 20))
            assert statuses(responses) == [200] * (THREADPOOL + 20)
