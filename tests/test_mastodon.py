"""The Mastodon-compatible API, driven by the real client Mastodon.py
against a live server, and by plain HTTP for what a client hides; every
JSON answer is checked against the schemas of Mastodon's entities."""

import gc
import re
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
import requests
from fastapi import Request
from fastapi.testclient import TestClient
from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError, MastodonUnauthorizedError
from sqlalchemy import text

from pamps.config import settings
from pamps.routes.mastodon import entities
from pamps.routes.mastodon.grants import Grant, KnownTokens
from pamps.routes.mastodon.rendered import PageCache
from pamps.services import oauth, posts
from tests import mastodon_schemas as schemas
from tests.conftest import TestUser as User
from tests.conftest import get_engine
from tests.live import live_server

# Which schema each answer of the live server must match, by method and path.
ANSWERS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", r"/api/v1/apps", schemas.CREDENTIAL_APPLICATION),
    ("GET", r"/api/v1/apps/verify_credentials", schemas.APPLICATION),
    ("POST", r"/oauth/token", schemas.TOKEN),
    ("POST", r"/oauth/revoke", schemas.EMPTY_OBJECT),
    ("GET", r"/api/v1/custom_emojis", schemas.EMPTY),
    ("GET", r"/api/v1/preferences", schemas.PREFERENCES),
    ("GET", r"/api/v1/instance", schemas.INSTANCE_V1),
    ("GET", r"/api/v2/instance", schemas.INSTANCE_V2),
    ("GET", r"/api/v1/accounts/verify_credentials", schemas.CREDENTIAL_ACCOUNT),
    ("GET", r"/api/v1/accounts/(lookup|\d+)", schemas.ACCOUNT),
    ("POST", r"/api/v1/statuses", schemas.STATUS),
    ("GET|DELETE|PUT", r"/api/v1/statuses/\d+", schemas.STATUS),
    ("GET", r"/api/v1/statuses/\d+/source", schemas.STATUS_SOURCE),
    ("GET", r"/api/v1/statuses/\d+/history", schemas.STATUS_EDITS),
    ("GET", r"/api/v1/statuses/\d+/context", schemas.CONTEXT),
    ("GET", r"/api/v1/statuses/\d+/favourited_by", schemas.ACCOUNTS),
    (
        "GET",
        r"/api/v1/(favourites|timelines/(home|public)|accounts/\d+/statuses)",
        schemas.STATUSES,
    ),
    ("GET", r"/api/v1/accounts/\d+/(followers|following)", schemas.ACCOUNTS),
    ("POST", r"/api/v1/accounts/\d+/(un)?follow", schemas.RELATIONSHIP),
    ("GET", r"/api/v1/accounts/relationships", schemas.RELATIONSHIPS),
    ("PATCH", r"/api/v1/accounts/update_credentials", schemas.CREDENTIAL_ACCOUNT),
    ("GET", r"/api/v2/search", schemas.SEARCH),
    ("GET", r"/api/v1/accounts/search", schemas.ACCOUNTS),
    ("POST", r"/api/v1/statuses/\d+/(un)?favourite", schemas.STATUS),
]


def expected_schema(method: str, path: str, status: int) -> dict[str, Any] | None:
    if status >= 400:
        return schemas.OAUTH_ERROR if path.startswith("/oauth/") else schemas.ERROR
    for methods, pattern, schema in ANSWERS:
        if re.fullmatch(methods, method) and re.fullmatch(pattern, path):
            return schema
    return None


class CheckedSession(requests.Session):
    """A requests session that validates every answer of /api and /oauth."""

    def __init__(self) -> None:
        super().__init__()
        self.checked: list[str] = []
        self.hooks["response"].append(self._check)

    def _check(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        path = requests.utils.urlparse(response.url).path.rstrip("/")
        if not path.startswith(("/api/", "/oauth/")):
            return
        method = response.request.method or ""
        schema = expected_schema(method, path, response.status_code)
        if schema is None:
            if path.startswith("/.well-known"):
                return
            raise AssertionError(f"no schema for {method} {path}")
        try:
            schemas.check(schema, response.json())
        except AssertionError as error:
            raise AssertionError(
                f"{method} {path} {response.status_code}: {response.text}"
            ) from error
        self.checked.append(f"{method} {path}")


@pytest.fixture(scope="module")
def server(backend: str, database_url: str) -> Iterator[str]:
    """One server per backend: each test still starts from empty tables."""
    with live_server(database_url) as url:
        yield url


@pytest.fixture
def session() -> CheckedSession:
    return CheckedSession()


@pytest.fixture
def registered(server: str, session: CheckedSession) -> tuple[str, str]:
    """(client_id, client_secret) of an app registered with Mastodon.py."""
    return Mastodon.create_app("pamps-tests", api_base_url=server, session=session)


@pytest.fixture
def login(
    server: str, session: CheckedSession, registered: tuple[str, str]
) -> Callable[[User], Mastodon]:
    def log_in(user: User, name: str | None = None) -> Mastodon:
        api = Mastodon(*registered, api_base_url=server, session=session)
        api.log_in(name or user.username, user.password)
        return api

    return log_in


def signup(base: str, username: str) -> User:
    email = f"{username}@example.com"
    body = {"username": username, "email": email, "password": "correct horse battery"}
    response = requests.post(f"{base}/user/", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return User(response.json()["id"], username, email, body["password"], None)  # type: ignore[arg-type]


class TestWithMastodonPy:
    def test_login_and_verify_credentials(
        self, server: str, session: CheckedSession, login: Callable[..., Mastodon]
    ) -> None:
        alice = signup(server, "alice")
        # By email, as toot does, and by username.
        api = login(alice, alice.email)
        me = api.account_verify_credentials()
        assert (str(me.id), me.username, me.acct) == (str(alice.id), "alice", "alice")
        assert me.url == f"{server}/@alice"
        assert me.source.privacy == "public"
        assert login(alice).me().username == "alice"
        assert api.app_verify_credentials().name == "pamps-tests"
        assert "GET /api/v1/accounts/verify_credentials" in session.checked

    def test_wrong_password(
        self, server: str, registered: tuple[str, str], session: CheckedSession
    ) -> None:
        signup(server, "alice")
        api = Mastodon(*registered, api_base_url=server, session=session)
        with pytest.raises(Exception, match="Invalid user name, password"):
            api.log_in("alice", "not the password")

    def test_post_read_favourite_delete(self, server: str, login: Callable[..., Mastodon]) -> None:
        alice, bob = signup(server, "alice"), signup(server, "bob")
        a, b = login(alice), login(bob)
        status = a.status_post("Hello <b>world</b>\nsee https://example.com/x")
        assert status.content == (
            '<p>Hello &lt;b&gt;world&lt;/b&gt;<br>see <a href="https://example.com/x" '
            'rel="nofollow noopener noreferrer" target="_blank">https://example.com/x</a></p>'
        )
        assert str(status.account.id) == str(alice.id)
        assert status.url == f"{server}/@alice/{status.id}"
        reply = b.status_post("Hi!", in_reply_to_id=status.id)
        assert str(reply.in_reply_to_id) == str(status.id)
        assert str(reply.in_reply_to_account_id) == str(alice.id)
        liked = b.status_favourite(status.id)
        assert (liked.favourited, liked.favourites_count) == (True, 1)
        # The same like through the native API: it is the same row.
        native = requests.get(f"{server}/post/{status.id}/", timeout=10).json()
        assert native["likes_count"] == 1
        assert a.status(status.id).replies_count == 1
        assert b.status_unfavourite(status.id).favourites_count == 0
        with pytest.raises(MastodonAPIError) as forbidden:
            b.status_delete(status.id)
        assert forbidden.value.args[1] == 403
        deleted = a.status_delete(status.id)
        assert deleted.text == "Hello <b>world</b>\nsee https://example.com/x"
        with pytest.raises(MastodonNotFoundError):
            a.status(status.id)

    def test_lookup_and_account(self, server: str, login: Callable[..., Mastodon]) -> None:
        alice = signup(server, "alice")
        api = login(alice)
        api.status_post("one")
        found = api.account_lookup("@alice")
        assert (str(found.id), found.statuses_count) == (str(alice.id), 1)
        assert api.account(alice.id).username == "alice"
        with pytest.raises(MastodonNotFoundError):
            api.account_lookup("nobody")
        with pytest.raises(MastodonNotFoundError):
            api.account(999999)

    def test_idempotency_key(self, server: str, login: Callable[..., Mastodon]) -> None:
        api = login(signup(server, "alice"))
        first = api.status_post("once", idempotency_key="k1")
        again = api.status_post("once", idempotency_key="k1")
        other = api.status_post("once", idempotency_key="k2")
        assert first.id == again.id != other.id

    def test_revoked_token_is_refused(
        self, server: str, registered: tuple[str, str], login: Callable[..., Mastodon]
    ) -> None:
        api = login(signup(server, "alice"))
        api.revoke_access_token()
        api2 = Mastodon(*registered, api_base_url=server, access_token=api.access_token)
        with pytest.raises(MastodonUnauthorizedError):
            api2.account_verify_credentials()

    def test_timelines_paged_to_the_end(self, server: str, login: Callable[..., Mastodon]) -> None:
        alice, bob, carol = (signup(server, name) for name in ("alice", "bob", "carol"))
        a, b, c = login(alice), login(bob), login(carol)
        mine = [a.status_post(f"alice {n}").id for n in range(3)]
        theirs = [b.status_post(f"bob {n}").id for n in range(3)]
        c.status_post("carol, not followed")
        a.account_follow(bob.id)
        seen: list[str] = []
        page = a.timeline_home(limit=2)
        while page:
            assert len(page) <= 2
            seen += [str(s.id) for s in page]
            page = a.fetch_next(page)
        expected = sorted((str(i) for i in mine + theirs), key=int, reverse=True)
        assert seen == expected
        public = a.timeline_public(limit=4)
        everyone = [str(s.id) for s in public] + [str(s.id) for s in a.fetch_next(public)]
        assert len(everyone) == 7 and everyone == sorted(everyone, key=int, reverse=True)
        newest = a.timeline_home(limit=2)
        assert [str(s.id) for s in a.fetch_previous(newest)] == []
        newer = a.timeline_home(since_id=theirs[1])
        assert [str(s.id) for s in newer] == [str(theirs[2])]

    def test_follow_relationships_and_lists(
        self, server: str, login: Callable[..., Mastodon]
    ) -> None:
        alice, bob = signup(server, "alice"), signup(server, "bob")
        a, b = login(alice), login(bob)
        followed = a.account_follow(bob.id)
        assert (followed.following, followed.followed_by) == (True, False)
        b.account_follow(alice.id)
        [rel] = a.account_relationships([bob.id])
        assert (str(rel.id), rel.following, rel.followed_by) == (str(bob.id), True, True)
        assert [x.username for x in a.account_followers(bob.id)] == ["alice"]
        assert [x.username for x in a.account_following(alice.id)] == ["bob"]
        assert a.account(bob.id).followers_count == 1
        assert a.account_unfollow(bob.id).following is False
        assert a.account_followers(bob.id) == []
        with pytest.raises(MastodonAPIError):
            a.account_follow(alice.id)

    def test_thread_edit_and_favourites(self, server: str, login: Callable[..., Mastodon]) -> None:
        alice, bob = signup(server, "alice"), signup(server, "bob")
        a, b = login(alice), login(bob)
        root = a.status_post("root")
        r1 = b.status_post("r1", in_reply_to_id=root.id)
        r2 = a.status_post("r2", in_reply_to_id=root.id)
        r11 = a.status_post("r1.1", in_reply_to_id=r1.id)
        thread = b.status_context(r1.id)
        assert [str(s.id) for s in thread.ancestors] == [str(root.id)]
        assert [str(s.id) for s in thread.descendants] == [str(r11.id)]
        whole = b.status_context(root.id)
        assert [str(s.id) for s in whole.descendants] == [str(r1.id), str(r11.id), str(r2.id)]
        edited = a.status_update(root.id, "root, edited")
        assert edited.content == "<p>root, edited</p>" and edited.edited_at is not None
        assert a.status_source(root.id).text == "root, edited"
        b.status_favourite(root.id)
        b.status_favourite(r2.id)
        assert [str(s.id) for s in b.favourites()] == [str(r2.id), str(root.id)]
        assert [x.username for x in a.status_favourited_by(root.id)] == ["bob"]
        assert [s.favourited for s in b.favourites()] == [True, True]
        own = a.account_statuses(alice.id)
        assert [str(s.id) for s in own] == [str(r11.id), str(r2.id), str(root.id)]
        # Without replies to others: her reply to bob goes, her own thread stays.
        top = a.account_statuses(alice.id, exclude_replies=True)
        assert [str(s.id) for s in top] == [str(r2.id), str(root.id)]
        assert a.account_statuses(alice.id, pinned=True) == []
        changed = a.account_update_credentials(note="I <3 posts")
        assert changed.note == "<p>I &lt;3 posts</p>" and changed.source.note == "I <3 posts"

    def test_min_id_pages_forward(self, server: str, login: Callable[..., Mastodon]) -> None:
        alice, bob = signup(server, "alice"), signup(server, "bob")
        a, b = login(alice), login(bob)
        ids = [str(a.status_post(f"post {n}").id) for n in range(7)]
        b.account_follow(alice.id)
        for n in (0, 2, 3, 5, 6):
            b.status_favourite(ids[n])
        liked = [ids[n] for n in (0, 2, 3, 5, 6)]

        def forward(first: list[Any]) -> list[str]:
            """Everything newer than the cursor, page by page, as Mastodon.py
            follows rel="prev" (min_id) to the newest end."""
            seen: list[str] = []
            page = first
            while page:
                assert [str(s.id) for s in page] == sorted(
                    (str(s.id) for s in page), key=int, reverse=True
                )
                seen = [str(s.id) for s in page] + seen
                page = b.fetch_previous(page)
            return seen

        # The page just after the cursor, newest first; then forward to the end.
        first = b.timeline_home(min_id=ids[1], limit=2)
        assert [str(s.id) for s in first] == [ids[3], ids[2]]
        assert forward(b.timeline_home(min_id=ids[1], limit=2)) == ids[2:][::-1]
        assert forward(b.timeline_public(min_id=ids[0], limit=3)) == ids[1:][::-1]
        assert forward(b.account_statuses(alice.id, min_id=ids[4], limit=1)) == ids[5:][::-1]
        # since_id: the newest page above the cursor, not the one next to it.
        assert [str(s.id) for s in b.timeline_public(since_id=ids[1], limit=2)] == ids[:4:-1]
        # Between two cursors.
        between = b.timeline_public(min_id=ids[1], max_id=ids[5], limit=10)
        assert [str(s.id) for s in between] == [ids[4], ids[3], ids[2]]
        # Favourites page on the like, not the status.
        newest_likes = b.favourites(limit=2)
        assert [str(s.id) for s in newest_likes] == liked[:2:-1]
        older = b.fetch_next(newest_likes)
        assert [str(s.id) for s in older] == [liked[2], liked[1]]
        assert [str(s.id) for s in b.fetch_previous(older)] == liked[:2:-1]

    def test_replies_in_the_public_timeline_and_exclude_replies(
        self, server: str, login: Callable[..., Mastodon]
    ) -> None:
        alice, bob = signup(server, "alice"), signup(server, "bob")
        a, b = login(alice), login(bob)
        root = a.status_post("root")
        thread = a.status_post("more", in_reply_to_id=root.id)
        answer = b.status_post("answer", in_reply_to_id=thread.id)
        back = a.status_post("back", in_reply_to_id=answer.id)
        own = b.status_post("bob's own")
        # As Mastodon's: replies to others are left out, threads stay.
        public = [str(s.id) for s in a.timeline_public()]
        assert public == [str(own.id), str(thread.id), str(root.id)]
        mine = a.account_statuses(alice.id, exclude_replies=True)
        assert [str(s.id) for s in mine] == [str(thread.id), str(root.id)]
        every = a.account_statuses(alice.id)
        assert [str(s.id) for s in every] == [str(back.id), str(thread.id), str(root.id)]

    def test_history(self, server: str, login: Callable[..., Mastodon]) -> None:
        api = login(signup(server, "alice"))
        status = api.status_post("first words")
        [version] = api.status_history(status.id)
        assert version.content == "<p>first words</p>"
        assert version.created_at == status.created_at
        edited = api.status_update(status.id, "second words")
        # Pamps keeps no earlier texts: the current one, dated by the edit.
        [version] = api.status_history(status.id)
        assert version.content == "<p>second words</p>"
        assert version.created_at == edited.edited_at
        assert str(version.account.id) == str(status.account.id)
        with pytest.raises(MastodonNotFoundError):
            api.status_history(999999)

    def test_search_accounts(self, server: str, login: Callable[..., Mastodon]) -> None:
        for name in ("alice", "alina", "a_b", "axb", "bob"):
            signup(server, name)
        api = login(User(0, "alice", "", "correct horse battery", None))  # type: ignore[arg-type]
        found = api.search_v2("AL", result_type="accounts")
        assert [x.username for x in found.accounts] == ["alice", "alina"]
        assert (found.statuses, found.hashtags) == ([], [])
        # "_" is a character here, not a wildcard.
        assert [x.username for x in api.account_search("a_")] == ["a_b"]
        assert api.account_search("zed") == []

    def test_discovery(self, server: str, login: Callable[..., Mastodon]) -> None:
        api = login(signup(server, "alice"))
        assert api.instance_v1().version.startswith("4.2.0 (compatible; Pamps ")
        assert api.instance_v2().configuration.statuses.max_characters == 500
        assert api.custom_emojis() == []
        assert api.preferences()["posting:default:visibility"] == "public"
        assert api.verify_minimum_version("4.2.0")


def token_for(client: TestClient, user: User, scopes: str = "read write follow") -> str:
    app = client.post(
        "/api/v1/apps",
        json={"client_name": "t", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": scopes},
    )
    assert app.status_code == 200, app.text
    schemas.check(schemas.CREDENTIAL_APPLICATION, app.json())
    ids = {k: app.json()[k] for k in ("client_id", "client_secret")}
    answer = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": user.username,
            "password": user.password,
            "scope": scopes,
            **ids,
        },
    )
    assert answer.status_code == 200, answer.text
    schemas.check(schemas.TOKEN, answer.json())
    assert answer.json()["scope"] == scopes
    return str(answer.json()["access_token"])


class TestProtocol:
    def test_scopes_are_enforced(self, client: TestClient, make_user: Any) -> None:
        token = token_for(client, make_user(), "read")
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/accounts/verify_credentials", headers=headers).status_code == 200
        answer = client.post("/api/v1/statuses", json={"status": "x"}, headers=headers)
        assert answer.status_code == 403
        assert answer.json() == {"error": "This action is outside the authorized scopes"}

    def test_errors_in_mastodon_shape(self, client: TestClient) -> None:
        for path in ("/api/v1/nothing", "/api/v1/statuses/abc", "/api/v1/accounts/0"):
            answer = client.get(path)
            assert answer.status_code == 404, path
            schemas.check(schemas.ERROR, answer.json())
        answer = client.get("/api/v1/accounts/verify_credentials")
        assert answer.status_code == 401
        schemas.check(schemas.ERROR, answer.json())
        answer = client.post("/api/v1/statuses", headers={"Authorization": "Bearer nope"})
        assert answer.json() == {"error": "The access token is invalid"}
        # The native API keeps its own shape.
        assert "detail" in client.get("/post/999/").json()

    def test_an_unexpected_error_is_a_500_in_mastodon_shape(
        self, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("internal detail")

        monkeypatch.setattr(posts, "read", broken)
        answer = client.get("/api/v1/statuses/1")
        assert answer.status_code == 500
        assert answer.json() == {"error": "Internal Server Error"}
        assert "internal detail" not in answer.text
        monkeypatch.setattr(posts, "post_with_replies", broken)
        assert client.get("/post/1/").json() == {"detail": "Internal Server Error"}

    def test_oauth_errors(self, client: TestClient, make_user: Any) -> None:
        answer = client.post(
            "/oauth/token", data={"grant_type": "password", "client_id": "x", "client_secret": "y"}
        )
        assert answer.status_code == 401
        schemas.check(schemas.OAUTH_ERROR, answer.json())
        assert answer.json()["error"] == "invalid_client"
        app = client.post(
            "/api/v1/apps", data={"client_name": "t", "redirect_uris": "urn:x", "scopes": "read"}
        ).json()
        ids = {k: app[k] for k in ("client_id", "client_secret")}
        wider = client.post(
            "/oauth/token", data={"grant_type": "client_credentials", "scope": "write", **ids}
        )
        assert wider.json()["error"] == "invalid_scope"
        odd = client.post("/oauth/token", data={"grant_type": "magic", **ids})
        assert odd.json()["error"] == "unsupported_grant_type"

    def test_client_credentials_and_refresh(self, client: TestClient, make_user: Any) -> None:
        user = make_user()
        app = client.post(
            "/api/v1/apps",
            data={"client_name": "t", "redirect_uris": "urn:x", "scopes": "read write"},
        ).json()
        ids = {k: app[k] for k in ("client_id", "client_secret")}
        own = client.post("/oauth/token", data={"grant_type": "client_credentials", **ids}).json()
        assert own["scope"] == "read" and "refresh_token" not in own
        headers = {"Authorization": f"Bearer {own['access_token']}"}
        verified = client.get("/api/v1/apps/verify_credentials", headers=headers)
        schemas.check(schemas.APPLICATION, verified.json())
        # An app's own token names no user.
        assert client.get("/api/v1/accounts/verify_credentials", headers=headers).status_code == 422
        login = {"grant_type": "password", "username": user.email, "password": user.password}
        first = client.post("/oauth/token", data={**login, "scope": "read write", **ids}).json()
        fresh = client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **ids},
        )
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["scope"] == "read write"
        old = {"Authorization": f"Bearer {first['access_token']}"}
        new = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
        assert client.get("/api/v1/accounts/verify_credentials", headers=old).status_code == 401
        assert client.get("/api/v1/accounts/verify_credentials", headers=new).status_code == 200
        spent = client.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **ids},
        )
        assert spent.json()["error"] == "invalid_grant"

    def test_a_page_costs_the_same_queries_whatever_its_length(
        self, client: TestClient, make_user: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Statuses are rendered with a fixed number of queries per page: the
        authors, the authors replied to, the viewer's likes."""
        users = [make_user() for _ in range(4)]
        tokens = [{"Authorization": f"Bearer {token_for(client, u)}"} for u in users]
        first = client.post("/api/v1/statuses", json={"status": "0"}, headers=tokens[0]).json()
        parent = first["id"]
        for n in range(1, 12):
            body = {"status": str(n), "in_reply_to_id": parent} if n % 2 else {"status": str(n)}
            made = client.post("/api/v1/statuses", json=body, headers=tokens[n % 4])
            parent = made.json()["id"]
        database = client.app.state.database  # type: ignore[attr-defined]
        calls: list[str] = []
        real = database.all

        async def counted(statement: Any, params: Any = None) -> Any:
            calls.append(str(statement)[:40])
            return await real(statement, params)

        monkeypatch.setattr(database, "all", counted)

        def queries(path: str) -> int:
            calls.clear()
            answer = client.get(path, headers=tokens[0])
            assert answer.status_code == 200, answer.text
            return len(calls)

        for other in users[1:]:
            assert client.post(f"/api/v1/accounts/{other.id}/follow", headers=tokens[0]).is_success
        page = client.get("/api/v1/timelines/home?limit=40", headers=tokens[0]).json()
        assert len(page) == 12 and len({s["account"]["id"] for s in page}) == 4
        assert sum(1 for s in page if s["in_reply_to_account_id"]) == 6
        assert queries("/api/v1/timelines/home?limit=1") == queries(
            "/api/v1/timelines/home?limit=40"
        )
        assert queries("/api/v1/timelines/public?limit=1") == queries(
            "/api/v1/timelines/public?limit=40"
        )

    def test_discovery_documents(self, client: TestClient) -> None:
        schemas.check(schemas.INSTANCE_V1, client.get("/api/v1/instance").json())
        schemas.check(schemas.INSTANCE_V2, client.get("/api/v2/instance/").json())
        links = client.get("/.well-known/nodeinfo").json()["links"]
        assert links[0]["href"] == "http://testserver/nodeinfo/2.0"
        assert client.get("/nodeinfo/2.0").json()["software"]["name"] == "pamps"
        avatar = client.get("/api/pamps/avatar.png")
        assert avatar.headers["content-type"] == "image/png"
        assert avatar.content.startswith(b"\x89PNG")

    def test_form_status_with_shared_write_limit(self, client: TestClient, make_user: Any) -> None:
        user = make_user()
        headers = {"Authorization": f"Bearer {token_for(client, user)}"}
        made = client.post("/api/v1/statuses", data={"status": "by form"}, headers=headers)
        assert made.status_code == 200, made.text
        schemas.check(schemas.STATUS, made.json())
        blank = client.post("/api/v1/statuses", data={"status": "  "}, headers=headers)
        assert blank.status_code == 422
        schemas.check(schemas.ERROR, blank.json())


def assert_zero_turns_off(name: str, from_settings: Callable[[], object]) -> None:
    """With setting ``name`` at 0, ``from_settings`` builds nothing."""
    size = settings.get(name)
    settings.set(name, 0)
    try:
        assert from_settings() is None
    finally:
        settings.set(name, size)


@contextmanager
def rendered_anew(client: TestClient) -> Iterator[None]:
    """No list's answer kept: each rendered anew."""
    state = client.app.state  # type: ignore[attr-defined]
    kept, state.pages = state.pages, None
    try:
        yield
    finally:
        state.pages = kept


class TestStatusRendering:
    """A Status reads the same in every list and alone, through either
    renderer, with the kept pages or without, and shows at once whatever
    has changed."""

    PRIVATE = ("/api/v1/timelines/home?limit=40", "/api/v1/favourites")

    def answers(self, client: TestClient, headers: dict[str, str], ids: list[int]) -> list[Any]:
        """Every list and status showing ``ids`` (posts of two accounts),
        with the viewer's token and, where anyone may read, without."""
        authors = {client.get(f"/api/v1/statuses/{i}").json()["account"]["id"] for i in ids}
        paths = [
            *self.PRIVATE,
            "/api/v1/timelines/public?limit=40",
            *(f"/api/v1/accounts/{a}/statuses" for a in sorted(authors)),
            *(f"/api/v1/statuses/{i}" for i in ids),
        ]
        answers = []
        for path in paths:
            for auth in (headers, {}):
                if auth or path not in self.PRIVATE:
                    answer = client.get(path, headers=auth)
                    assert answer.status_code == 200, answer.text
                    answers.append((path, bool(auth), answer.json()))
        return answers

    def anew(self, client: TestClient, headers: dict[str, str], ids: list[int]) -> list[Any]:
        with rendered_anew(client):
            return self.answers(client, headers, ids)

    def test_the_same_everywhere_and_never_stale(
        self, client: TestClient, make_user: Any, make_post: Any
    ) -> None:
        viewer = make_user(bio="Reads <b>things</b>\n\nsee https://example.com/x.")
        author = make_user(avatar="https://example.com/a.png")
        headers = {"Authorization": f"Bearer {token_for(client, viewer)}"}
        top = make_post(author, "first line\nsecond http://example.org/a?b=1&c=2")
        ids = [
            top["id"],
            make_post(viewer, "a reply", top["id"])["id"],
            make_post(author, "own thread", top["id"])["id"],
            make_post(viewer, "<not> a tag")["id"],
        ]
        client.post(f"/user/follow/{author.id}", headers=viewer.headers)
        client.post(f"/post/{top['id']}/like/", headers=viewer.headers)
        kept = self.answers(client, headers, ids)
        assert kept == self.answers(client, headers, ids)  # lists now from what was kept
        assert kept == self.anew(client, headers, ids)
        # Alone as in the lists (the viewer's).
        listed = {
            s["id"]: s for _, auth, body in kept if auth and isinstance(body, list) for s in body
        }
        assert sorted(listed) == sorted(map(str, ids))
        assert all(
            body == listed[body["id"]] for _, auth, body in kept if auth and isinstance(body, dict)
        )
        for _, _, body in kept:
            for status in body if isinstance(body, list) else [body]:
                schemas.check(schemas.STATUS, status)
        # Against the other renderer (rows without the viewer's columns,
        # which context uses): the thread below the first post.
        thread = client.get(f"/api/v1/statuses/{top['id']}/context", headers=headers).json()
        assert len(thread["descendants"]) == 2
        for status in thread["descendants"]:
            single = client.get(f"/api/v1/statuses/{status['id']}", headers=headers)
            assert single.json() == status

        # Whatever a Status shows changes, the next answer shows it.
        before = client.get(f"/api/v1/statuses/{top['id']}", headers=headers).json()
        client.delete(f"/post/{top['id']}/like/", headers=viewer.headers)
        client.patch(f"/post/{top['id']}/", json={"text": "edited"}, headers=author.headers)
        client.post(f"/user/follow/{author.id}", headers=make_user().headers)
        profile = {"bio": "new bio", "avatar": "https://example.com/b.png"}
        client.patch("/user/me/", json=profile, headers=author.headers)
        after = client.get(f"/api/v1/statuses/{top['id']}", headers=headers).json()
        assert (before["favourited"], after["favourited"]) == (True, False)
        assert before["favourites_count"] - 1 == after["favourites_count"] == 0
        assert after["content"] == "<p>edited</p>" and after["edited_at"] is not None
        assert after["account"]["followers_count"] == before["account"]["followers_count"] + 1
        assert after["account"]["note"] == "<p>new bio</p>"
        assert before["account"]["avatar"] == "https://example.com/a.png"
        assert after["account"]["avatar"] == "https://example.com/b.png"
        assert self.answers(client, headers, ids) == self.anew(client, headers, ids)


class TestPageCache:
    """Lists' answers kept (pamps.routes.mastodon.rendered.PageCache) are
    those rendered anew, Link headers too, for every window and viewer, and
    never what has since changed."""

    LISTS = (
        "/api/v1/timelines/public",
        "/api/v1/timelines/public?limit=2",
        "/api/v1/timelines/public?limit=2&max_id={middle}",
        "/api/v1/timelines/public?limit=2&min_id={oldest}",
        "/api/v1/timelines/public?since_id={middle}",
        "/api/v1/timelines/home?limit=3",
        "/api/v1/favourites?limit=1",
        "/api/v1/accounts/{author}/statuses?limit=2",
    )

    def answers(self, client: TestClient, viewers: list[dict[str, str]], **where: int) -> list[Any]:
        answers = []
        for path in self.LISTS:
            for headers in viewers:
                answer = client.get(path.format(**where), headers=headers)
                answers.append(
                    (path, answer.status_code, answer.content, answer.headers.get("link"))
                )
        return answers

    def test_kept_answers_as_rendered_anew(
        self, client: TestClient, make_user: Any, make_post: Any
    ) -> None:
        pages = client.app.state.pages  # type: ignore[attr-defined]
        assert pages is not None
        author, reader, other = make_user(), make_user(), make_user()
        ids = [make_post(author, f"post {n}")["id"] for n in range(4)]
        ids.append(make_post(author, "own thread", ids[0])["id"])
        client.post(f"/user/follow/{author.id}", headers=reader.headers)
        client.post(f"/post/{ids[1]}/like/", headers=reader.headers)
        viewers = [
            {},
            *({"Authorization": f"Bearer {token_for(client, u)}"} for u in (reader, other)),
        ]
        where = {"middle": ids[2], "oldest": ids[0], "author": author.id}

        def check() -> list[Any]:
            first = self.answers(client, viewers, **where)
            hits = pages.hits
            assert self.answers(client, viewers, **where) == first  # now from what was kept
            assert pages.hits - hits >= 14  # every list answered, for each who may read it
            with rendered_anew(client):
                assert self.answers(client, viewers, **where) == first
            return first

        before = check()
        # Every list answers, but home and favourites without a token.
        assert sorted(status for _, status, _, _ in before) == [200] * 22 + [401] * 2
        # The home timelines of two readers are kept apart.
        homes = [body for path, _, body, _ in before if "home" in path]
        assert homes[1] != homes[2]
        changes: list[tuple[str, str, dict[str, Any], User]] = [
            ("post", f"/post/{ids[1]}/like/", {}, other),
            ("patch", f"/post/{ids[3]}/", {"json": {"text": "edited"}}, author),
            ("post", "/post/", {"json": {"text": "a new one"}}, author),
            ("delete", f"/post/{ids[4]}/", {}, author),
            ("post", f"/user/follow/{author.id}", {}, other),
            ("patch", "/user/me/", {"json": {"bio": "new bio"}}, author),
        ]
        for method, path, body, user in changes:
            answer = client.request(method, path, headers=user.headers, **body)
            assert answer.status_code < 300, answer.text
            after = check()
            assert after != before, path
            before = after

    def test_bounded_and_switched_off(self) -> None:
        pages = PageCache(2)
        rows = [{"id": 1, "viewer_liked": False}]
        wheres = [
            PageCache.where("http://x", {"path": f"/{n}", "query_string": b""}, 0) for n in range(3)
        ]
        for where in wheres:
            pages.keep(where, rows, where[1].encode(), None)
        assert pages.kept() == 2
        assert pages.find(wheres[0], rows) is None  # the oldest went
        assert pages.find(wheres[2], rows) == (b"/2", None)
        assert pages.find(wheres[2], [{"id": 1, "viewer_liked": True}]) is None
        # What is kept for the JSON is about its size, not orjson's buffer's.
        statuses = [{"id": str(n), "content": "<p>text</p>"} for n in range(20)]
        size = len(orjson.dumps(statuses))
        gc.collect()
        tracemalloc.start()
        try:
            pages.keep(wheres[0], rows, orjson.dumps(statuses), None)
            kept = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert kept < size + 1024
        assert_zero_turns_off("mastodon.page_cache", PageCache.from_settings)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 2, 3, 4, 5, 678901),  # naive: UTC, as SQLite gives it
        datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 5, 4, 5, 999999, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 1, 2, 3, 4, 5, 1000, tzinfo=ZoneInfo("Europe/London")),  # offset 0
        datetime(2026, 7, 2, 3, 4, 5, 1000, tzinfo=ZoneInfo("America/New_York")),
    ],
)
def test_dates_in_utc_with_milliseconds(value: datetime) -> None:
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    expected = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    assert entities.when(value) == expected


class TestBaseURL:
    """The base URL of Statuses' links, remembered per way of addressing the
    server, is Starlette's."""

    @pytest.mark.parametrize(
        "where",
        [
            {"headers": [(b"host", b"example.com")]},
            {"headers": [(b"host", b"example.com:8443")], "scheme": "https"},
            {"headers": [(b"host", b"[::1]:8000")]},
            {"headers": [(b"host", b"bad host/")], "server": ("10.0.0.1", 8000)},
            {"headers": [], "server": ("10.0.0.1", 80)},
            {"headers": [], "server": ("::1", 8000)},
            {"headers": [], "server": None},
            {"headers": [(b"host", b"example.com")], "root_path": "/pamps"},
            {"headers": [(b"host", b"example.com")], "app_root_path": "/a", "root_path": "/b"},
        ],
    )
    def test_as_starlettes(self, where: dict[str, Any]) -> None:
        scope = {"type": "http", "scheme": "http", "server": ("127.0.0.1", 8000), "path": "/x"}
        scope |= {"query_string": b"a=1", "root_path": ""} | where
        expected = str(Request(dict(scope)).base_url).rstrip("/")
        assert entities.base_url(Request(dict(scope))) == expected
        assert entities.base_url(Request(dict(scope))) == expected  # remembered


class TestKnownTokens:
    """A worker remembers what a token grants (pamps.routes.mastodon.grants);
    whether the token is still live, the database answers with each
    request's first statement, on every worker."""

    HOME = "/api/v1/timelines/home?limit=2"

    def login(self, client: TestClient, user: User, scopes: str = "read write") -> dict[str, str]:
        """A token of a new app for ``user``: the app's ids and the token."""
        app = client.post(
            "/api/v1/apps",
            json={
                "client_name": "t",
                "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                "scopes": scopes,
            },
        ).json()
        ids = {k: app[k] for k in ("client_id", "client_secret")}
        grant = {"grant_type": "password", "username": user.username, "password": user.password}
        answer = client.post("/oauth/token", data={**grant, "scope": scopes, **ids})
        assert answer.status_code == 200, answer.text
        return {**ids, "token": answer.json()["access_token"]}

    def get(self, client: TestClient, token: str, path: str = HOME) -> Any:
        return client.get(path, headers={"Authorization": f"Bearer {token}"})

    def reads(self, client: TestClient, token: str, post_id: int) -> list[tuple[str, Any, str]]:
        """Every read a known token needs no lookup for, as (path, body,
        Link): the lists paged to their end, a status and its thread."""
        status = client.get(f"/api/v1/statuses/{post_id}").json()
        firsts = [
            self.HOME,
            "/api/v1/timelines/public?limit=2",
            f"/api/v1/accounts/{status['account']['id']}/statuses?limit=2",
            f"/api/v1/statuses/{post_id}",
            f"/api/v1/statuses/{post_id}/context",
        ]
        seen = []
        for path in firsts:
            while path:
                answer = self.get(client, token, path)
                assert answer.status_code == 200, answer.text
                link = answer.headers.get("link", "")
                seen.append((path, answer.json(), link))
                path = link.split(">", 1)[0][1:] if 'rel="next"' in link else ""
        return seen

    def test_a_known_token_answers_as_one_looked_up(
        self, client: TestClient, make_user: Any, make_post: Any
    ) -> None:
        viewer, author = make_user(), make_user()
        client.post(f"/user/follow/{author.id}", headers=viewer.headers)
        ids = [make_post(author, f"post {n}")["id"] for n in range(3)]
        reply = make_post(viewer, "a reply", ids[0])["id"]
        client.post(f"/post/{ids[0]}/like/", headers=viewer.headers)
        token = self.login(client, viewer)["token"]
        known = client.app.state.tokens  # type: ignore[attr-defined]

        looked_up = self.reads(client, token, ids[0])  # the first request looks it up
        hits = known.hits
        assert self.reads(client, token, ids[0]) == looked_up
        assert known.hits > hits
        client.app.state.tokens = None  # type: ignore[attr-defined]
        try:
            assert self.reads(client, token, ids[0]) == looked_up
        finally:
            client.app.state.tokens = known  # type: ignore[attr-defined]
        home = [s for path, body, _ in looked_up if "home" in path for s in body]
        assert [s["id"] for s in home] == [str(i) for i in [reply, *reversed(ids)]]
        assert [s["favourited"] for s in home] == [False, False, False, True]
        single = next(body for path, body, _ in looked_up if path.endswith(f"/{ids[0]}"))
        assert single["favourited"] is True
        # Each token sees its own user's flags: the author, known too, has no like.
        other = self.login(client, author)["token"]
        for _ in range(2):
            status = self.get(client, other, f"/api/v1/statuses/{ids[0]}").json()
            assert status["favourited"] is False and status["favourites_count"] == 1

    def test_without_a_token_nothing_is_favourited(
        self, client: TestClient, make_user: Any, make_post: Any
    ) -> None:
        liker, author = make_user(), make_user()
        post = make_post(author, "hello")
        client.post(f"/post/{post['id']}/like/", headers=liker.headers)
        token = self.login(client, liker)["token"]
        for path in (
            "/api/v1/timelines/public",
            f"/api/v1/accounts/{author.id}/statuses",
            f"/api/v1/statuses/{post['id']}",
        ):
            for _ in range(2):  # the liker's token looked up, then known
                answers = [self.get(client, token, path).json(), client.get(path).json()]
                statuses = [a if isinstance(a, dict) else a[0] for a in answers]
                assert all(isinstance(a, dict) or len(a) == 1 for a in answers)
                flags = [(s["favourited"], s["favourites_count"]) for s in statuses]
                assert flags == [(True, 1), (False, 1)], path

    @pytest.mark.parametrize("follows", [True, False], ids=["rows", "empty"])
    def test_a_revoked_token_is_refused_at_once(
        self, client: TestClient, make_user: Any, make_post: Any, follows: bool
    ) -> None:
        viewer, author = make_user(), make_user()
        post = make_post(author, "hello")
        if follows:  # else home's statement has no rows: the check runs alone
            client.post(f"/user/follow/{author.id}", headers=viewer.headers)
        login = self.login(client, viewer)
        for _ in range(2):
            answer = self.get(client, login["token"])
            assert answer.status_code == 200 and len(answer.json()) == int(follows)
        reads = [path for path, _, _ in self.reads(client, login["token"], post["id"])]
        missing = "/api/v1/statuses/999999"
        assert self.get(client, login["token"], missing).status_code == 404
        known = client.app.state.tokens  # type: ignore[attr-defined]
        assert known.get(oauth.digest(login["token"])) is not None
        revoked = client.post("/oauth/revoke", data=login)
        assert revoked.status_code == 200
        for path in [*reads, missing]:
            refused = self.get(client, login["token"], path)
            assert refused.status_code == 401, path
            assert refused.json() == {"error": "The access token is invalid"}
            assert refused.headers["www-authenticate"] == "Bearer"
        # Another token of the same user still reads.
        assert self.get(client, self.login(client, viewer)["token"]).status_code == 200

    def test_a_deleted_users_token_is_refused(self, client: TestClient, make_user: Any) -> None:
        viewer = make_user()
        token = self.login(client, viewer)["token"]
        assert self.get(client, token).status_code == 200
        with get_engine().begin() as conn:
            conn.execute(text('DELETE FROM "user" WHERE id = :id'), {"id": viewer.id})
        refused = self.get(client, token)
        assert refused.status_code == 401
        assert refused.json() == {"error": "The access token is invalid"}

    def test_its_scopes_still_apply(self, client: TestClient, make_user: Any) -> None:
        token = self.login(client, make_user(), scopes="write")["token"]
        headers = {"Authorization": f"Bearer {token}"}
        posted = client.post("/api/v1/statuses", json={"status": "hi"}, headers=headers)
        assert posted.status_code == 200  # the token is now known
        for _ in range(2):
            refused = self.get(client, token)
            assert refused.status_code == 403
            assert refused.json() == {"error": "This action is outside the authorized scopes"}

    def test_bounded_and_switched_off(self) -> None:
        known = KnownTokens(2)
        for n in range(3):
            known.remember(f"digest {n}", Grant(n, n, "read"))
        assert len(known) == 2 and known.get("digest 0") is None
        assert known.get("digest 2") == Grant(2, 2, "read")
        assert_zero_turns_off("mastodon.token_cache", KnownTokens.from_settings)
