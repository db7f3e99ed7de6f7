"""Two Pamps hosts, one PostgreSQL, one Redis: nothing one host remembers lets
it contradict the other.

Two `pamps serve` processes in production mode run side by side on one
database, sharing only the settings a load balancer's hosts would share (the
secret key, the database, the Redis of the rate limits). A session ended on
one host is ended on the other at once, even for a token the other had
already verified; a password change on one ends the other sessions on both;
failed logins count across both; an Idempotency-Key holds across both; a
Mastodon token revoked on one is refused by the other, which knew its grant.

The hosts' Redis database is one of its own per pytest-xdist worker (7, 6,
...), apart from the rate-limit tests' (15, 14, ...). Without Redis these
tests are skipped, unless ``PAMPS_TEST_REQUIRE_REDIS=1``.
"""

import os
import secrets
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import text

from tests.conftest import get_engine
from tests.live import live_server

pytestmark = pytest.mark.postgres_only

_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URI = f"redis://127.0.0.1:6379/{7 - _WORKER % 4}"
PASSWORD = "correct horse battery"
LOGIN_LIMIT = 5


@pytest.fixture(scope="module")
def shared_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URI, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        reason = f"no Redis server at 127.0.0.1:6379 ({error})"
        if os.environ.get("PAMPS_TEST_REQUIRE_REDIS", "") not in ("", "0", "false"):
            pytest.fail(f"Redis is required here (PAMPS_TEST_REQUIRE_REDIS=1): {reason}")
        pytest.skip(f"two-host tests skipped: {reason}")
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def hosts(database_url: str, shared_redis: redis.Redis) -> Iterator[tuple[str, str]]:
    """The base URLs of hosts A and B."""
    env = {
        "PAMPS_ENV": "production",
        "PAMPS_SECURITY__SECRET_KEY": secrets.token_hex(32),
        "PAMPS_RATELIMIT__STORAGE_URI": REDIS_URI,
        "PAMPS_RATELIMIT__LOGIN": f"{LOGIN_LIMIT}/minute",
        "PAMPS_RATELIMIT__LOGIN_PER_ADDRESS": "1000/minute",
        "PAMPS_RATELIMIT__REGISTER": "1000/minute",
        "PAMPS_RATELIMIT__WRITE": "1000/minute",
    }
    with (
        live_server(database_url, env=env, cli=True, timeout=90) as a,
        live_server(database_url, env=env, cli=True, timeout=90) as b,
    ):
        yield a, b


@pytest.fixture(autouse=True)
def _fresh_limits(shared_redis: redis.Redis) -> None:
    shared_redis.flushdb()


def register(host: str) -> str:
    name = f"h_{uuid.uuid4().hex[:12]}"
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    response = httpx.post(f"{host}/user/", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return name


def login(host: str, name: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{host}/token", data={"username": name, "password": password}, timeout=30)


def tokens(host: str, name: str, password: str = PASSWORD) -> dict[str, Any]:
    response = login(host, name, password)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def me(host: str, pair: dict[str, Any]) -> int:
    return httpx.get(f"{host}/user/me/", headers=bearer(pair), timeout=30).status_code


def test_logout_on_one_host_is_refused_by_the_other_at_once(
    backend: str, hosts: tuple[str, str]
) -> None:
    a, b = hosts
    name = register(a)
    pair = tokens(b, name)
    assert me(b, pair) == 200  # B has verified this token's signature
    assert me(a, pair) == 200

    response = httpx.post(f"{a}/logout", headers=bearer(pair), timeout=30)
    assert response.status_code == 204, response.text

    assert me(b, pair) == 401
    assert me(a, pair) == 401
    refresh = httpx.post(
        f"{b}/refresh_token", json={"refresh_token": pair["refresh_token"]}, timeout=30
    )
    assert refresh.status_code == 401


def test_a_password_change_on_one_host_ends_the_other_sessions_on_both(
    backend: str, hosts: tuple[str, str]
) -> None:
    a, b = hosts
    name = register(a)
    keeper, other = tokens(a, name), tokens(b, name)
    assert me(b, other) == 200
    assert me(b, keeper) == 200

    change = {"password": "a brand new password", "current_password": PASSWORD}
    response = httpx.patch(f"{a}/user/me/", json=change, headers=bearer(keeper), timeout=30)
    assert response.status_code == 200, response.text

    assert me(b, other) == 401
    assert me(a, other) == 401
    assert me(b, keeper) == 200  # the session that changed it goes on
    assert login(b, name).status_code == 401
    assert login(b, name, "a brand new password").status_code == 200


def test_failed_logins_count_across_both_hosts(
    backend: str, hosts: tuple[str, str], shared_redis: redis.Redis
) -> None:
    a, b = hosts
    name, bystander = register(a), register(b)
    # Split over the hosts: 3 on A, 2 on B. Each host alone has seen fewer
    # than the limit; together they have seen all of them.
    spread = [a, b, a, b, a]
    assert len(spread) == LOGIN_LIMIT
    assert [login(host, name, "wrong password").status_code for host in spread] == [401] * 5

    for host in (a, b):
        refused = login(host, name, "wrong password")
        assert refused.status_code == 429, refused.text
        assert refused.headers["X-RateLimit-Limit"] == str(LOGIN_LIMIT)
        assert int(refused.headers["Retry-After"]) >= 1
    assert login(b, name).status_code == 429  # even the right password, for now
    assert login(a, bystander).status_code == 200  # other accounts unaffected
    assert shared_redis.keys("LIMITS*"), "no counters in the shared Redis"


def test_an_idempotency_key_holds_across_both_hosts(backend: str, hosts: tuple[str, str]) -> None:
    a, b = hosts
    name = register(a)
    headers = bearer(tokens(a, name)) | {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}
    body = {"text": f"once only {uuid.uuid4().hex}"}

    def post(host: str, payload: dict[str, Any] = body) -> httpx.Response:
        return httpx.post(f"{host}/post/", json=payload, headers=headers, timeout=30)

    # Both hosts at the same time, then each once more.
    with ThreadPoolExecutor(2) as pool:
        first = list(pool.map(post, [a, b]))
    again = [post(a), post(b)]

    answers = first + again
    assert sorted(r.status_code for r in first) == [200, 201], [r.text for r in first]
    assert [r.status_code for r in again] == [200, 200]
    assert len({r.json()["id"] for r in answers}) == 1
    assert {r.json()["text"] for r in answers} == {body["text"]}
    with get_engine().connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM post WHERE text = :t"), {"t": body["text"]}
        )
        assert stored.scalar_one() == 1
    assert post(b, {"text": "another body"}).status_code == 422


def test_a_mastodon_token_revoked_on_one_host_is_refused_by_the_other_at_once(
    backend: str, hosts: tuple[str, str]
) -> None:
    a, b = hosts
    name = register(a)
    oob = "urn:ietf:wg:oauth:2.0:oob"
    app = httpx.post(
        f"{a}/api/v1/apps", json={"client_name": "t", "redirect_uris": oob}, timeout=30
    ).json()
    ids = {key: app[key] for key in ("client_id", "client_secret")}
    grant = {"grant_type": "password", "username": name, "password": PASSWORD, **ids}
    token = httpx.post(f"{b}/oauth/token", data=grant, timeout=30).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def home(host: str) -> int:
        return httpx.get(f"{host}/api/v1/timelines/home", headers=headers, timeout=30).status_code

    # B's workers now know what the token grants (each request may meet another one).
    assert [home(b) for _ in range(4)] == [200] * 4
    revoked = httpx.post(f"{a}/oauth/revoke", data={**ids, "token": token}, timeout=30)
    assert revoked.status_code == 200, revoked.text
    assert [home(b) for _ in range(4)] == [401] * 4
    assert home(a) == 401
