"""Rate limits: failed logins, registrations and writes.

The suite runs with limits off (``[testing.ratelimit] enabled = false``); these
tests switch them on with small rules and restore everything afterwards. Each
in-process test runs with the counters in memory and in Redis (db 15 on
127.0.0.1:6379, flushed before and after); a live server with two workers
shows that Redis-held limits are shared by every worker. Without a Redis
server the Redis tests are skipped, unless ``PAMPS_TEST_REQUIRE_REDIS=1``.
"""

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from mastodon import Mastodon, MastodonRatelimitError

from pamps import ratelimit
from pamps.config import settings
from tests.conftest import LoopClient, reset_limits
from tests.live import live_server
from tests.test_mastodon import token_for

# A Redis database of its own per pytest-xdist worker (15, 14, ...), since
# the tests empty it.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URI = f"redis://127.0.0.1:6379/{15 - _WORKER % 8}"
RULES = (
    "enabled",
    "storage_uri",
    "login",
    "login_per_address",
    "register",
    "write",
    "mastodon_api",
)
# Generous defaults, so only the rule a test tightens can trip.
LOOSE = {
    "login": "100/minute",
    "login_per_address": "100/minute",
    "register": "100/minute",
    "write": "100/minute",
    "mastodon_api": "100/minute",
}
PASSWORD = "correct horse battery"


def redis_required() -> bool:
    return os.environ.get("PAMPS_TEST_REQUIRE_REDIS", "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def redis_db() -> Iterator[redis.Redis]:
    """This worker's Redis database, reachable, or the test is skipped
    (failed if required)."""
    client = redis.Redis.from_url(REDIS_URI, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        reason = f"Redis tests skipped: no Redis server at 127.0.0.1:6379 ({error})"
        if redis_required():
            pytest.fail(f"Redis is required here (PAMPS_TEST_REQUIRE_REDIS=1): {reason}")
        pytest.skip(reason)
    yield client
    client.close()


@contextmanager
def rate_limits(rules: dict[str, Any], reset: bool = True) -> Iterator[None]:
    """Limits on, with ``rules`` ([ratelimit] names to values); all restored after."""
    old = {name: settings.ratelimit.get(name) for name in RULES}
    try:
        settings.set("ratelimit.enabled", True)
        for name, value in rules.items():
            settings.set(f"ratelimit.{name}", value)
        if reset:
            ratelimit.reset_limits()
        yield
    finally:
        for name, value in old.items():
            settings.set(f"ratelimit.{name}", value)
        ratelimit.reset_limits()


@pytest.fixture(params=["memory", "redis"])
def limits(request: pytest.FixtureRequest, backend: str) -> Iterator[Callable[..., None]]:
    """Limits on with LOOSE rules, counters in memory or in Redis; call it to
    tighten a rule: ``limits(login="3/minute")``."""
    store: redis.Redis | None = None
    uri = "memory://"
    if request.param == "redis":
        store = request.getfixturevalue("redis_db")
        store.flushdb()
        uri = REDIS_URI

    def tighten(**rules: str | bool) -> None:
        for name, value in rules.items():
            settings.set(f"ratelimit.{name}", value)

    try:
        with rate_limits({"storage_uri": uri, **LOOSE}):
            yield tighten
    finally:
        if store is not None:
            store.flushdb()


def from_address(client: TestClient, address: str) -> LoopClient:
    """A client of ``client``'s app whose requests come from ``address``."""
    return LoopClient(client, address)


def unique(prefix: str = "u") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def login(client: TestClient | LoopClient | httpx.Client, username: str, password: str) -> Any:
    return client.post("/token", data={"username": username, "password": password})


def assert_limited(response: Any, limit: int, window: int) -> None:
    """429 with Retry-After and X-RateLimit-* describing a ``limit``/``window`` rule."""
    assert response.status_code == 429, response.text
    assert response.json()["detail"]
    headers = response.headers
    now = time.time()
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= window
    assert headers["X-RateLimit-Limit"] == str(limit)
    assert headers["X-RateLimit-Remaining"] == "0"
    reset = int(headers["X-RateLimit-Reset"])  # epoch seconds
    assert math.floor(now) <= reset <= math.ceil(now) + window + 1


def test_failed_logins_per_account_get_429(
    client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
) -> None:
    limits(login="3/minute")
    alice = make_user()

    # The account is the name in any case.
    for name in (alice.username, alice.username.upper(), alice.username):
        assert login(client, name, "wrong password").status_code == 401

    assert_limited(login(client, alice.username, "wrong password"), 3, 60)
    # Locked means locked: the right password does not get through either,
    # or guessing could go on and tell a hit by the status.
    assert_limited(login(client, alice.username, alice.password), 3, 60)


def test_a_flood_at_someone_elses_account_never_locks_its_owner_out(
    client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
) -> None:
    """Failures count per account and address: the attacker's address is
    refused, the owner logging in from another address is not."""
    limits(login="3/minute")
    alice = make_user()
    attacker = from_address(client, "203.0.113.66")
    owner = from_address(client, "198.51.100.66")
    for _ in range(3):
        assert login(attacker, alice.username, "wrong password").status_code == 401
    for _ in range(10):
        assert_limited(login(attacker, alice.email, "wrong password"), 3, 60)
    # The right password from the attacker's address is refused too (no
    # oracle), but the owner, elsewhere, gets in, even after a typo.
    assert_limited(login(attacker, alice.username, alice.password), 3, 60)
    assert login(owner, alice.username, "a typo").status_code == 401
    assert login(owner, alice.username, alice.password).status_code == 200


def test_other_accounts_unaffected(
    client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
) -> None:
    limits(login="3/minute")
    alice, bob = make_user(), make_user()
    for _ in range(4):
        login(client, alice.username, "wrong password")
    assert login(client, alice.username, "wrong password").status_code == 429

    assert login(client, bob.username, "wrong password").status_code == 401
    assert login(client, bob.username, bob.password).status_code == 200
    assert login(client, bob.email, bob.password).status_code == 200


def test_failed_logins_per_client_address(
    client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
) -> None:
    limits(login_per_address="5/minute")
    carol = make_user()
    attacker, other = from_address(client, "203.0.113.7"), from_address(client, "198.51.100.9")

    # Five accounts, one failure each: no account is near its own limit.
    for name in [carol.username, *(unique() for _ in range(4))]:
        assert login(attacker, name, "wrong password").status_code == 401

    assert_limited(login(attacker, unique(), "wrong password"), 5, 60)
    assert_limited(login(attacker, carol.username, carol.password), 5, 60)
    # Another address is not blocked, not even for the same account.
    assert login(other, unique(), "wrong password").status_code == 401
    assert login(other, carol.username, carol.password).status_code == 200


def test_successful_logins_do_not_count(
    client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
) -> None:
    limits(login="3/minute", login_per_address="3/minute")
    dave = make_user()
    for _ in range(10):
        assert login(client, dave.username, dave.password).status_code == 200

    for _ in range(3):
        assert login(client, dave.username, "wrong password").status_code == 401
    assert_limited(login(client, dave.username, "wrong password"), 3, 60)


def test_registrations_per_client_address(client: TestClient, limits: Callable[..., None]) -> None:
    limits(register="3/hour")
    crowd, other = from_address(client, "203.0.113.20"), from_address(client, "198.51.100.20")

    def register(client: LoopClient, name: str) -> Any:
        email = f"{name}@example.com"
        return client.post("/user/", json={"username": name, "email": email, "password": PASSWORD})

    for _ in range(3):
        assert register(crowd, unique()).status_code == 201
    refused = unique()
    assert_limited(register(crowd, refused), 3, 3600)
    assert crowd.get(f"/user/{refused}/").status_code == 404  # nothing stored
    assert register(other, unique()).status_code == 201


def test_writes_per_user(
    client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
) -> None:
    limits(write="3/minute")
    erin, frank = make_user(), make_user()
    for n in range(3):
        response = client.post("/post/", json={"text": f"post {n}"}, headers=erin.headers)
        assert response.status_code == 201, response.text
    first = response.json()["id"]

    assert_limited(
        client.post("/post/", json={"text": "one too many"}, headers=erin.headers), 3, 60
    )
    # Likes are writes too.
    assert_limited(client.post(f"/post/{first}/like/", headers=erin.headers), 3, 60)
    posts = client.get(f"/post/user/{erin.username}/").json()
    assert sorted(p["text"] for p in posts) == ["post 0", "post 1", "post 2"]
    assert posts[0]["likes_count"] == 0

    # Another user still writes.
    response = client.post("/post/", json={"text": "mine"}, headers=frank.headers)
    assert response.status_code == 201, response.text
    assert client.post(f"/post/{first}/like/", headers=frank.headers).status_code == 201


def test_limits_off_by_setting(
    client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
) -> None:
    limits(enabled=False, login="1/minute", write="1/minute")
    gina = make_user()
    for _ in range(5):
        assert login(client, gina.username, "wrong password").status_code == 401
        assert client.post("/post/", json={"text": "hi"}, headers=gina.headers).status_code == 201


def test_login_by_email_counts_against_the_same_account(
    client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
) -> None:
    limits(login="3/minute")
    hank = make_user()
    # One budget, whichever name the account is given by.
    for name in (hank.username, hank.email, hank.username):
        assert login(client, name, "wrong password").status_code == 401
    assert login(client, hank.email, "wrong password").status_code == 429


def test_unreachable_storage_still_serves(
    client: TestClient, make_user: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down: every limit is skipped (and logged), nothing becomes a 500."""
    pamps_log = logging.getLogger("pamps")  # does not propagate to the root logger
    pamps_log.addHandler(caplog.handler)
    try:
        with rate_limits(
            {
                "storage_uri": "redis://127.0.0.1:1/0",
                "login": "1/minute",
                "login_per_address": "1/minute",
                "register": "1/hour",
                "write": "1/minute",
            },
            reset=False,  # resetting needs the storage
        ):
            ivan, judy = make_user(), make_user()  # two registrations, limit 1
            for _ in range(3):
                assert login(client, ivan.username, "wrong password").status_code == 401
            assert login(client, ivan.username, ivan.password).status_code == 200
            for n in range(3):
                response = client.post("/post/", json={"text": f"{n}"}, headers=judy.headers)
                assert response.status_code == 201, response.text
    finally:
        pamps_log.removeHandler(caplog.handler)
    warnings = [r for r in caplog.records if r.name == "pamps.ratelimit"]
    assert warnings and all(r.levelno == logging.WARNING for r in warnings)
    assert "rate limit storage unavailable" in warnings[0].getMessage()


def test_silent_storage_costs_bounded_time(
    client: TestClient, make_user: Callable[..., Any]
) -> None:
    """A Redis that accepts connections and never answers must not hang requests."""
    kate = make_user()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # connections complete in the backlog; nothing answers
        port = silent.getsockname()[1]
        answers: list[int] = []

        def attempt() -> None:
            answers.append(login(client, kate.username, "wrong password").status_code)

        with rate_limits({"storage_uri": f"redis://127.0.0.1:{port}/0"}, reset=False):
            started = time.monotonic()
            # A daemon thread: if the request hangs the test fails, not the run.
            worker = threading.Thread(target=attempt, daemon=True)
            worker.start()
            worker.join(timeout=20)
            elapsed = time.monotonic() - started
    # (Closing the socket resets a hung connection, which frees the thread.)
    assert elapsed < 20, "login hung on a silent Redis"
    assert answers == [401]


@pytest.mark.postgres_only
def test_redis_limits_are_shared_across_workers(
    backend: str, database_url: str, redis_db: redis.Redis
) -> None:
    """Two worker processes, one Redis: the 6th failed login is refused by
    whichever worker answers. (With memory:// each worker would count alone and
    let up to twice as many through.)"""
    redis_db.flushdb()
    env = {
        "PAMPS_RATELIMIT__ENABLED": "true",
        "PAMPS_RATELIMIT__STORAGE_URI": REDIS_URI,
        "PAMPS_RATELIMIT__LOGIN": "5/minute",
    }
    try:
        with live_server(database_url, workers=2, env=env, timeout=90) as url:
            name = unique("w")
            body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
            assert httpx.post(f"{url}/user/", json=body, timeout=30).status_code == 201

            def attempt(password: str) -> httpx.Response:
                # A new connection each time, so either worker may take it.
                with httpx.Client(base_url=url, timeout=30) as fresh:
                    return login(fresh, name, password)

            assert [attempt("wrong password").status_code for _ in range(5)] == [401] * 5
            refused = [attempt("wrong password") for _ in range(6)]
            refused.append(attempt(PASSWORD))
            for response in refused:
                assert_limited(response, 5, 60)
            assert redis_db.keys("LIMITS*"), "no counters in Redis"
    finally:
        redis_db.flushdb()


# --- the Mastodon face's X-RateLimit-* headers ----------------------------------------


def mastodon_token(client: TestClient, user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(client, user, 'read write')}"}


def rate_headers(response: Any) -> tuple[int, int, float]:
    """(limit, remaining, seconds until reset) of a Mastodon answer."""
    headers = response.headers
    reset = datetime.fromisoformat(headers["X-RateLimit-Reset"])
    assert reset.tzinfo is not None and headers["X-RateLimit-Reset"].endswith("+00:00")
    return (
        int(headers["X-RateLimit-Limit"]),
        int(headers["X-RateLimit-Remaining"]),
        reset.timestamp() - time.time(),
    )


class TestMastodonHeaders:
    def test_requests_without_a_token_count_per_address(
        self, client: TestClient, limits: Callable[..., None]
    ) -> None:
        limits(mastodon_api="3/minute")
        reset_limits(client)
        here, there = from_address(client, "10.1.0.1"), from_address(client, "10.1.0.2")
        seen = [rate_headers(here.get("/api/v1/timelines/public")) for _ in range(3)]
        assert [(limit, left) for limit, left, _ in seen] == [(3, 2), (3, 1), (3, 0)]
        assert all(0 < seconds <= 61 for _, _, seconds in seen)
        refused = here.get("/api/v1/timelines/public")
        assert refused.status_code == 429
        assert refused.json() == {"error": "Too many requests, try again later"}
        assert rate_headers(refused)[:2] == (3, 0)
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # Another address has its own budget; so do 404s, which count too.
        assert rate_headers(there.get("/api/v1/statuses/999"))[:2] == (3, 2)

    def test_a_users_requests_count_together_from_anywhere(
        self, client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
    ) -> None:
        limits(mastodon_api="5/minute")
        headers = mastodon_token(client, make_user())
        reset_limits(client)
        here, there = from_address(client, "10.2.0.1"), from_address(client, "10.2.0.2")
        assert rate_headers(here.get("/api/v1/timelines/home", headers=headers))[1] == 4
        assert (
            rate_headers(there.get("/api/v1/accounts/verify_credentials", headers=headers))[1] == 3
        )
        # Without the token, that address is counted on its own.
        assert rate_headers(there.get("/api/v1/timelines/public"))[1] == 4

    def test_the_nearer_rule_is_reported(
        self, client: TestClient, make_user: Callable[..., Any], limits: Callable[..., None]
    ) -> None:
        limits(mastodon_api="50/minute", write="2/minute")
        headers = mastodon_token(client, make_user())
        reset_limits(client)
        posted = client.post("/api/v1/statuses", json={"status": "a"}, headers=headers)
        assert posted.status_code == 200
        assert rate_headers(posted)[:2] == (2, 1)
        assert rate_headers(client.get("/api/v1/timelines/home", headers=headers))[:2] == (50, 48)
        client.post("/api/v1/statuses", json={"status": "b"}, headers=headers)
        refused = client.post("/api/v1/statuses", json={"status": "c"}, headers=headers)
        assert refused.status_code == 429
        assert rate_headers(refused)[:2] == (2, 0)

    def test_all_three_or_none(self, client: TestClient, limits: Callable[..., None]) -> None:
        # The native API keeps its answers as they were.
        assert not any(h.startswith("x-ratelimit") for h in client.get("/post/").headers)
        limits(enabled=False)
        answer = client.get("/api/v1/timelines/public")
        assert answer.status_code == 200
        assert not any(h.startswith("x-ratelimit") for h in answer.headers)


def test_mastodon_py_reads_the_headers(backend: str, database_url: str) -> None:
    """Mastodon.py takes the limit, what is left and the reset from them, and
    its "throw" mode raises once the limit is reached."""
    env = {"PAMPS_RATELIMIT__ENABLED": "true", "PAMPS_RATELIMIT__MASTODON_API": "3/minute"}
    with live_server(database_url, env=env) as url:
        api = Mastodon(api_base_url=url, ratelimit_method="throw", version_check_mode="none")
        api.timeline_public()
        assert api.ratelimit_limit == 3
        left = api.ratelimit_remaining
        assert 0 <= left < 3
        # (Mastodon.py shifts it by the server clock, read from Date to the second.)
        assert time.time() < api.ratelimit_reset <= time.time() + 62
        for _ in range(left):
            api.timeline_public()
        assert api.ratelimit_remaining == 0
        with pytest.raises(MastodonRatelimitError):
            api.timeline_public()
