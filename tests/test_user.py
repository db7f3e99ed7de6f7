"""Accounts and profiles: POST /user/, GET /user/, GET /user/{username}/, GET and
PATCH /user/me/. (Follows, followers, following and the timeline are tested
elsewhere.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import text

from tests.conftest import get_engine

if TYPE_CHECKING:
    from tests.conftest import TestUser

MakeUser = Callable[..., "TestUser"]
MakePost = Callable[..., dict[str, Any]]

PASSWORD = "correct horse battery"
PUBLIC_FIELDS = {"id", "username", "avatar", "bio", "created_at"}
PROFILE_FIELDS = PUBLIC_FIELDS | {"posts_count", "followers_count", "following_count"}
LINK_NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


# --- helpers -------------------------------------------------------------------------------


def register(client: TestClient, **fields: Any) -> Response:
    payload = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}
    payload.update(fields)
    return client.post("/user/", json={k: v for k, v in payload.items() if v is not ...})


def login(client: TestClient, username: str, password: str) -> Response:
    return client.post("/token", data={"username": username, "password": password})


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def assert_recent(stamp: str) -> None:
    """An ISO 8601 timestamp with a UTC offset, from the last minute."""
    when = datetime.fromisoformat(stamp)
    assert when.utcoffset() == timedelta(0), stamp
    assert timedelta(0) <= datetime.now(UTC) - when < timedelta(minutes=1), stamp


def user_rows() -> list[dict[str, Any]]:
    with get_engine().connect() as conn:
        rows = conn.execute(text('SELECT * FROM "user" ORDER BY id')).mappings().all()
    return [dict(row) for row in rows]


def stored_hash(user_id: int) -> str:
    with get_engine().connect() as conn:
        return conn.execute(
            text('SELECT password FROM "user" WHERE id = :id'), {"id": user_id}
        ).scalar_one()


def assert_unauthorized(response: Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"


def next_link(response: Response) -> str | None:
    header = response.headers.get("link")
    if header is None:
        return None
    match = LINK_NEXT.fullmatch(header)
    assert match, header
    return match.group(1)


# --- POST /user/ ---------------------------------------------------------------------------


class TestRegister:
    def test_returns_the_public_profile(self, client: TestClient) -> None:
        response = register(client, username="Alice", email="Alice@Example.com")
        assert response.status_code == 201, response.text
        body = response.json()
        assert without(body, "id", "created_at") == {
            "username": "Alice",
            "avatar": None,
            "bio": None,
            "posts_count": 0,
            "followers_count": 0,
            "following_count": 0,
        }
        assert isinstance(body["id"], int)
        assert body["id"] >= 1
        assert_recent(body["created_at"])
        assert PASSWORD not in response.text
        assert "example.com" not in response.text.lower()

    def test_stores_a_lowercase_email_and_an_argon2_hash(self, client: TestClient) -> None:
        response = register(client, username="Alice", email="Alice@Example.COM")
        assert response.status_code == 201, response.text
        [row] = user_rows()
        assert row["id"] == response.json()["id"]
        assert row["username"] == "Alice"
        assert row["email"] == "alice@example.com"
        assert row["password"].startswith("$argon2id$")
        assert PASSWORD not in row["password"]

    @pytest.mark.parametrize(
        "avatar",
        [
            "javascript:alert(1)",
            "JavaScript:alert(document.cookie)",
            "data:image/svg+xml;base64,PHN2Zz4=",
            "vbscript:msgbox",
            "ftp://example.com/a.png",
            "//example.com/a.png",
            "/a.png",
            "https://",
            "https://exa mple.com/a.png",
            "https://example.com/a\nb.png",
            "example.com/a.png",
        ],
    )
    def test_avatar_must_be_an_http_url(
        self, client: TestClient, make_user: MakeUser, avatar: str
    ) -> None:
        response = register(client, avatar=avatar)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["body", "avatar"]
        assert response.json()["detail"][0]["msg"] == "must be an http:// or https:// URL"
        assert user_rows() == []
        bob = make_user("bob", avatar="https://example.com/bob.png")
        patched = client.patch("/user/me/", json={"avatar": avatar}, headers=bob.headers)
        assert patched.status_code == 422, patched.text
        me = client.get("/user/me/", headers=bob.headers).json()
        assert me["avatar"] == "https://example.com/bob.png"

    @pytest.mark.parametrize(
        "avatar", ["http://example.com", "https://example.com/a.png?s=64#x", "https://[::1]:8/a"]
    )
    def test_avatar_http_and_https_urls_are_kept_as_sent(
        self, client: TestClient, avatar: str
    ) -> None:
        response = register(client, avatar=avatar)
        assert response.status_code == 201, response.text
        assert response.json()["avatar"] == avatar

    def test_avatar_and_bio(self, client: TestClient) -> None:
        response = register(client, avatar="  https://example.com/a.png  ", bio="Hi, I'm Alice")
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["avatar"], body["bio"]) == ("https://example.com/a.png", "Hi, I'm Alice")

    def test_bio_is_stored_byte_identical(self, client: TestClient) -> None:
        bio = "<script>alert(1)</script> ' OR 1=1; -- 👩‍👩‍👧 \u202eRTL\u202c é ñ 中文"
        response = register(client, bio=bio)
        assert response.status_code == 201, response.text
        assert response.json()["bio"] == bio
        assert client.get("/user/alice/").json()["bio"] == bio
        assert user_rows()[0]["bio"] == bio

    @pytest.mark.parametrize("username", ["abc", "a" * 30, "A_b_9", "___", "Zoe2024", "meme"])
    def test_valid_usernames(self, client: TestClient, username: str) -> None:
        response = register(client, username=username)
        assert response.status_code == 201, response.text
        assert response.json()["username"] == username

    @pytest.mark.parametrize(
        "existing, duplicate",
        [("alice", "alice"), ("alice", "Alice"), ("Alice", "ALICE"), ("a_b", "A_B")],
    )
    def test_duplicate_username_is_409_whatever_the_case(
        self, client: TestClient, existing: str, duplicate: str
    ) -> None:
        assert register(client, username=existing, email="one@example.com").status_code == 201
        response = register(client, username=duplicate, email="two@example.com")
        assert response.status_code == 409, response.text
        assert response.json() == {"detail": "Username already taken"}
        assert [row["username"] for row in user_rows()] == [existing]

    @pytest.mark.parametrize(
        "existing, duplicate",
        [("bob@x.com", "bob@x.com"), ("bob@x.com", "Bob@X.com"), ("BOB@x.com", "bob@X.COM")],
    )
    def test_duplicate_email_is_409_whatever_the_case(
        self, client: TestClient, existing: str, duplicate: str
    ) -> None:
        assert register(client, username="bob", email=existing).status_code == 201
        response = register(client, username="bobby", email=duplicate)
        assert response.status_code == 409, response.text
        assert response.json() == {"detail": "Email already registered"}
        assert [row["username"] for row in user_rows()] == ["bob"]

    @pytest.mark.parametrize(
        "username",
        [
            "../admin",
            "a/b",
            ".",
            "..",
            "alice\u0000",
            "\u0430lice",  # Cyrillic a, U+0430
            "alic\u0435",  # Cyrillic e, U+0435
            "\uff41lice",  # fullwidth a
            "alice\u200b",  # zero-width space
            "ali ce",
            " alice",
            "alice\n",
            "alice-b",
            "alice.b",
            "alice@x",
            "%61lice",
            "<script>",
            "émile",
            "a" * 10_000,
            "ab",
            "",
            "a" * 31,
            "me",
            "ME",
            "timeline",
            "follow",
            "Follow",
            "followers",
            "following",
            "likes",
            "admin",
            "null",
        ],
        ids=lambda u: repr(u[:20]),
    )
    def test_invalid_username_is_422(self, client: TestClient, username: str) -> None:
        response = register(client, username=username)
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "username"]
        assert user_rows() == []

    @pytest.mark.parametrize("username", [None, 123, ["alice"], {"name": "alice"}, True])
    def test_non_string_username_is_422(self, client: TestClient, username: Any) -> None:
        response = register(client, username=username)
        assert response.status_code == 422, response.text
        assert user_rows() == []

    @pytest.mark.parametrize(
        "email",
        [
            "not-an-email",
            "alice@",
            "@example.com",
            "alice example@example.com",
            "alice@@example.com",
            "",
            "alice@example.com\u0000",
            "alice@example.com\n",
            "a" * 250 + "@example.com",
            "alice@" + "a" * 300 + ".com",
            None,
            42,
        ],
        ids=lambda e: repr(e)[:20],
    )
    def test_invalid_email_is_422(self, client: TestClient, email: Any) -> None:
        response = register(client, email=email)
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "email"]
        assert user_rows() == []

    @pytest.mark.parametrize(
        "password, status",
        [
            ("a" * 7, 422),
            ("a" * 8, 201),
            ("a" * 128, 201),
            ("a" * 129, 422),
            ("😀" * 128, 201),
            ("😀" * 129, 422),
            ("😀" * 7, 422),
            ("", 422),
        ],
        ids=["7", "8", "128", "129", "emoji-128", "emoji-129", "emoji-7", "empty"],
    )
    def test_password_length_is_counted_in_characters(
        self, client: TestClient, password: str, status: int
    ) -> None:
        response = register(client, password=password)
        assert response.status_code == status, response.text
        if password:
            assert password not in response.text
        if status == 201:
            assert login(client, "alice", password).status_code == 200

    def test_password_with_a_nul_is_stored_hashed(self, client: TestClient) -> None:
        password = "before\x00after-nul"
        assert register(client, password=password).status_code == 201
        assert login(client, "alice", password).status_code == 200
        assert login(client, "alice", "before").status_code == 401

    @pytest.mark.parametrize("field", ["bio", "avatar"])
    def test_text_field_with_a_nul_is_422(self, client: TestClient, field: str) -> None:
        response = register(client, **{field: "hello\x00world"})
        assert response.status_code == 422, response.text
        assert user_rows() == []

    @pytest.mark.parametrize(
        "field, value, status",
        [
            ("bio", "b" * 500, 201),
            ("bio", "b" * 501, 422),
            ("avatar", "https://x.com/" + "a" * 486, 201),
            ("avatar", "https://x.com/" + "a" * 487, 422),
            ("bio", 5, 422),
            ("avatar", ["x"], 422),
            ("bio", None, 201),
        ],
        ids=[
            "bio-500",
            "bio-501",
            "avatar-500",
            "avatar-501",
            "bio-int",
            "avatar-list",
            "bio-null",
        ],
    )
    def test_optional_field_limits(
        self, client: TestClient, field: str, value: Any, status: int
    ) -> None:
        response = register(client, **{field: value})
        assert response.status_code == status, response.text
        assert len(user_rows()) == (1 if status == 201 else 0)

    def test_server_decides_id_dates_counts_and_privileges(self, client: TestClient) -> None:
        response = register(
            client,
            id=999,
            superuser=True,
            is_superuser=True,
            admin=True,
            created_at="2000-01-01T00:00:00Z",
            posts_count=50,
            followers_count=7,
            following_count=3,
            password_hash="$argon2id$forged",
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["id"] != 999
        assert_recent(body["created_at"])
        assert (body["posts_count"], body["followers_count"], body["following_count"]) == (0, 0, 0)
        assert set(body) == PROFILE_FIELDS
        [row] = user_rows()
        assert set(row) == {
            "id",
            "email",
            "username",
            "avatar",
            "bio",
            "password",
            "created_at",
            "posts_count",
            "followers_count",
            "following_count",
        }
        assert (row["posts_count"], row["followers_count"], row["following_count"]) == (0, 0, 0)
        assert row["id"] == body["id"]
        assert row["password"].startswith("$argon2id$")
        assert login(client, "alice", PASSWORD).status_code == 200

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param({"username": "alice", "password": PASSWORD}, id="no-email"),
            pytest.param({"email": "alice@example.com", "password": PASSWORD}, id="no-username"),
            pytest.param(
                {"username": "a/b", "email": "alice@example.com", "password": PASSWORD},
                id="bad-username",
            ),
            pytest.param(
                {"username": "alice", "email": "nope", "password": PASSWORD}, id="bad-email"
            ),
            pytest.param(
                {"username": "alice", "email": "alice@example.com", "password": PASSWORD * 7},
                id="long-password",
            ),
            pytest.param(
                {"username": "alice", "email": "alice@example.com", "password": PASSWORD[:7]},
                id="short-password",
            ),
            pytest.param(
                {"username": "alice", "email": "alice@example.com", "password": [PASSWORD]},
                id="password-in-a-list",
            ),
            pytest.param([{"password": PASSWORD}], id="array-body"),
        ],
    )
    def test_422_never_echoes_the_password(self, client: TestClient, payload: Any) -> None:
        response = client.post("/user/", json=payload)
        assert response.status_code == 422, response.text
        assert PASSWORD[:7] not in response.text
        assert user_rows() == []

    @pytest.mark.parametrize("field", ["username", "email", "bio", "avatar"])
    def test_422_never_echoes_an_input_over_1_kib(self, client: TestClient, field: str) -> None:
        huge = "q" * 10_000
        response = register(client, **{field: huge})
        assert response.status_code == 422, response.text
        assert "q" * 1025 not in response.text
        assert len(response.content) < 2048

    @pytest.mark.parametrize(
        "content, content_type",
        [
            ('{"username": "alice",', "application/json"),
            ("username=alice&email=alice%40example.com", "application/x-www-form-urlencoded"),
            ("", "application/json"),
            ("null", "application/json"),
            ('"alice"', "application/json"),
            ("[" * 10_000 + "]" * 10_000, "application/json"),
        ],
        ids=["truncated-json", "form", "empty", "null", "string", "deeply-nested"],
    )
    def test_malformed_body_is_422(
        self, client: TestClient, content: str, content_type: str
    ) -> None:
        response = client.post("/user/", content=content, headers={"Content-Type": content_type})
        assert response.status_code in (400, 422), response.text
        assert user_rows() == []


# --- GET /user/ ----------------------------------------------------------------------------


class TestListUsers:
    def test_empty(self, client: TestClient) -> None:
        response = client.get("/user/")
        assert response.status_code == 200, response.text
        assert response.json() == []
        assert "link" not in response.headers

    def test_newest_first_with_public_fields_only(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        made = [make_user(name, bio=f"I am {name}") for name in ("alice", "bob", "Carol")]
        response = client.get("/user/")
        assert response.status_code == 200, response.text
        body = response.json()
        assert [without(u, "created_at") for u in body] == [
            {"id": u.id, "username": u.username, "avatar": None, "bio": f"I am {u.username}"}
            for u in reversed(made)
        ]
        for user in body:
            assert set(user) == PUBLIC_FIELDS
            assert_recent(user["created_at"])
        assert "example.com" not in response.text
        assert "argon2" not in response.text

    def test_default_page_is_20_and_link_only_when_more(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        users = [make_user() for _ in range(20)]
        response = client.get("/user/")
        assert response.status_code == 200, response.text
        assert [u["id"] for u in response.json()] == [u.id for u in reversed(users)]
        assert "link" not in response.headers

        extra = make_user()
        response = client.get("/user/")
        assert [u["id"] for u in response.json()] == [extra.id] + [u.id for u in users[:0:-1]]
        link = next_link(response)
        assert link is not None
        rest = client.get(link)
        assert rest.status_code == 200, rest.text
        assert [u["id"] for u in rest.json()] == [users[0].id]
        assert next_link(rest) is None

    def test_link_is_absent_when_the_page_is_exactly_full(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        for _ in range(3):
            make_user()
        response = client.get("/user/", params={"limit": 3})
        assert len(response.json()) == 3
        assert "link" not in response.headers
        response = client.get("/user/", params={"limit": 2})
        assert len(response.json()) == 2
        assert next_link(response) is not None

    @pytest.mark.parametrize("limit", [1, 2, 3, 7, 8, 100])
    def test_following_the_link_walks_every_user_once(
        self, client: TestClient, make_user: MakeUser, limit: int
    ) -> None:
        users = [make_user() for _ in range(7)]
        expected = [u.id for u in reversed(users)]
        seen: list[int] = []
        pages: list[int] = []
        url: str | None = f"/user/?limit={limit}"
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200, response.text
            page = [u["id"] for u in response.json()]
            assert page, "a Link never leads to an empty page"
            pages.append(len(page))
            seen.extend(page)
            url = next_link(response)
            if url is not None:
                assert f"limit={limit}" in url
                assert url.startswith("http://testserver/user/?")
            assert len(pages) <= 8
        assert seen == expected
        full, last = divmod(7, limit)
        assert pages == [limit] * full + ([last] if last else [])

    def test_users_added_between_pages_are_not_repeated_or_skipped(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        users = [make_user() for _ in range(4)]
        first = client.get("/user/", params={"limit": 2})
        make_user()  # newer than everything listed: belongs before page one
        link = next_link(first)
        assert link is not None
        second = client.get(link)
        ids = [u["id"] for u in first.json() + second.json()]
        assert ids == [u.id for u in reversed(users)]

    def test_limit_100_is_accepted(self, client: TestClient, make_user: MakeUser) -> None:
        make_user()
        response = client.get("/user/", params={"limit": 100})
        assert response.status_code == 200, response.text
        assert len(response.json()) == 1

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": "0"},
            {"limit": "-5"},
            {"limit": "abc"},
            {"limit": "100000"},
            {"limit": "101"},
            {"limit": "1.5"},
            {"limit": ""},
            {"limit": "9" * 30},
            {"before": "0"},
            {"before": "-1"},
            {"before": "abc"},
            {"before": str(2**31)},
            {"before": "1" + "0" * 20},
        ],
        ids=lambda p: "&".join(f"{k}={v[:10]}" for k, v in p.items()),
    )
    def test_bad_paging_params_are_422(
        self, client: TestClient, make_user: MakeUser, params: dict[str, str]
    ) -> None:
        make_user()
        response = client.get("/user/", params=params)
        assert response.status_code == 422, response.text

    def test_before_cursor(self, client: TestClient, make_user: MakeUser) -> None:
        users = [make_user() for _ in range(3)]
        response = client.get("/user/", params={"before": users[2].id})
        assert response.status_code == 200, response.text
        assert [u["id"] for u in response.json()] == [users[1].id, users[0].id]
        response = client.get("/user/", params={"before": 2**31 - 1})
        assert [u["id"] for u in response.json()] == [u.id for u in reversed(users)]


# --- GET /user/{username}/ -----------------------------------------------------------------


class TestReadProfile:
    def test_public_profile_with_counts(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user("alice", bio="hello", avatar="https://example.com/a.png")
        bob = make_user("bob")
        carol = make_user("carol")
        first = make_post(alice, "one")
        make_post(alice, "two")
        make_post(alice, "reply to self", parent_id=first["id"])
        make_post(bob, "bob's post")
        for fan in (bob, carol):
            r = client.post(f"/user/follow/{alice.id}", headers=fan.headers)
            assert r.status_code == 201, r.text
        r = client.post(f"/user/follow/{bob.id}", headers=alice.headers)
        assert r.status_code == 201, r.text

        response = client.get("/user/alice/")
        assert response.status_code == 200, response.text
        body = response.json()
        assert without(body, "created_at") == {
            "id": alice.id,
            "username": "alice",
            "avatar": "https://example.com/a.png",
            "bio": "hello",
            "posts_count": 3,
            "followers_count": 2,
            "following_count": 1,
        }
        assert_recent(body["created_at"])
        assert alice.email not in response.text
        assert "argon2" not in response.text

        assert without(client.get("/user/carol/").json(), "created_at") == {
            "id": carol.id,
            "username": "carol",
            "avatar": None,
            "bio": None,
            "posts_count": 0,
            "followers_count": 0,
            "following_count": 1,
        }

    def test_deleted_posts_are_not_counted(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user("alice")
        post = make_post(alice, "soon gone")
        make_post(alice, "stays")
        assert client.get("/user/alice/").json()["posts_count"] == 2
        r = client.delete(f"/post/{post['id']}/", headers=alice.headers)
        assert r.status_code == 204, r.text
        assert client.get("/user/alice/").json()["posts_count"] == 1

    @pytest.mark.parametrize("name", ["alice", "ALICE", "Alice", "aLiCe"])
    def test_lookup_is_case_insensitive(
        self, client: TestClient, make_user: MakeUser, name: str
    ) -> None:
        alice = make_user("Alice")
        make_user("bob")
        response = client.get(f"/user/{name}/")
        assert response.status_code == 200, response.text
        assert (response.json()["id"], response.json()["username"]) == (alice.id, "Alice")

    def test_unknown_user_is_404(self, client: TestClient, make_user: MakeUser) -> None:
        make_user("alice")
        response = client.get("/user/alicia/")
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": "User not found"}

    @pytest.mark.parametrize(
        "path",
        [
            "/user/%2E%2E%2Fadmin/",
            "/user/..%2Fadmin/",
            "/user/a%2Fb/",
            "/user/%2E/",
            "/user/alice%00/",
            "/user/%00/",
            "/user/%D0%B0lice/",  # Cyrillic a, U+0430
            "/user/alic%D0%B5/",  # Cyrillic e, U+0435
            "/user/alice%20/",
            "/user/al%25ice/",
            "/user/al_ce/",
            "/user/%25/",
            "/user/al'ice/",
            "/user/" + "a" * 65 + "/",
            "/user/" + "a" * 10_000 + "/",
            "/user/1/",
        ],
        ids=lambda p: p[6:26],
    )
    def test_odd_names_never_reach_another_user(
        self, client: TestClient, make_user: MakeUser, path: str
    ) -> None:
        make_user("alice")
        make_user("admin_")
        response = client.get(path)
        assert response.status_code in (404, 422), response.text
        assert set(response.json()) == {"detail"}
        assert "alice" not in response.text
        assert "a" * 1025 not in response.text

    def test_underscore_is_not_a_wildcard(self, client: TestClient, make_user: MakeUser) -> None:
        make_user("alice")
        assert client.get("/user/al_ce/").status_code == 404
        assert client.get("/user/_lice/").status_code == 404


# --- GET and PATCH /user/me/ ---------------------------------------------------------------


class TestReadMe:
    def test_own_profile_with_email(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user("Alice", email="Alice@Example.com", bio="bio")
        make_user("bob")
        make_post(alice, "hi")
        response = client.get("/user/me/", headers=alice.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert without(body, "created_at") == {
            "id": alice.id,
            "username": "Alice",
            "email": "alice@example.com",
            "avatar": None,
            "bio": "bio",
            "posts_count": 1,
            "followers_count": 0,
            "following_count": 0,
        }
        assert_recent(body["created_at"])
        assert "argon2" not in response.text
        assert "bob@example.com" not in response.text

    def test_without_token_is_401(self, client: TestClient, make_user: MakeUser) -> None:
        make_user("alice")
        response = client.get("/user/me/")
        assert_unauthorized(response)
        assert response.json() == {"detail": "Not authenticated"}


class TestUpdateMe:
    def patch(self, client: TestClient, user: TestUser, **body: Any) -> Response:
        return client.patch("/user/me/", json=body, headers=user.headers)

    def test_change_bio_and_avatar(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user("alice")
        response = self.patch(client, alice, bio="new bio 👩‍👩‍👧", avatar=" https://x.com/a.png ")
        assert response.status_code == 200, response.text
        body = response.json()
        assert without(body, "created_at") == {
            "id": alice.id,
            "username": "alice",
            "email": "alice@example.com",
            "avatar": "https://x.com/a.png",
            "bio": "new bio 👩‍👩‍👧",
            "posts_count": 0,
            "followers_count": 0,
            "following_count": 0,
        }
        assert client.get("/user/me/", headers=alice.headers).json() == body
        public = client.get("/user/alice/").json()
        assert (public["bio"], public["avatar"]) == ("new bio 👩‍👩‍👧", "https://x.com/a.png")

    def test_only_the_given_fields_change(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user("alice", bio="old bio", avatar="https://x.com/old.png")
        response = self.patch(client, alice, avatar="https://x.com/new.png")
        assert response.status_code == 200, response.text
        assert (response.json()["bio"], response.json()["avatar"]) == (
            "old bio",
            "https://x.com/new.png",
        )
        response = self.patch(client, alice)
        assert response.status_code == 200, response.text
        assert response.json()["bio"] == "old bio"

    def test_bio_can_be_cleared(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user("alice", bio="old bio")
        response = self.patch(client, alice, bio=None)
        assert response.status_code == 200, response.text
        assert response.json()["bio"] is None
        assert user_rows()[0]["bio"] is None

    @pytest.mark.parametrize(
        "body",
        [{"bio": "b" * 501}, {"avatar": "a" * 501}, {"bio": 5}, {"bio": "x\x00y"}],
        ids=["long-bio", "long-avatar", "int-bio", "nul-bio"],
    )
    def test_invalid_fields_are_422(
        self, client: TestClient, make_user: MakeUser, body: dict[str, Any]
    ) -> None:
        alice = make_user("alice", bio="old bio")
        response = client.patch("/user/me/", json=body, headers=alice.headers)
        assert response.status_code == 422, response.text
        assert user_rows()[0]["bio"] == "old bio"

    def test_change_email(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user("alice", email="alice@example.com")
        response = self.patch(client, alice, email="New.Alice@Example.org")
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "new.alice@example.org"
        assert user_rows()[0]["email"] == "new.alice@example.org"
        assert login(client, "new.alice@example.org", alice.password).status_code == 200
        assert login(client, "alice@example.com", alice.password).status_code == 401
        # The old address is free again.
        assert register(client, username="alice2", email="alice@example.com").status_code == 201

    def test_own_email_in_another_case_is_not_a_conflict(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user("alice", email="alice@example.com")
        response = self.patch(client, alice, email="ALICE@example.com")
        assert response.status_code == 200, response.text
        assert response.json()["email"] == "alice@example.com"

    @pytest.mark.parametrize("email", ["bob@x.com", "Bob@X.com", "BOB@x.COM"])
    def test_email_of_another_user_is_409(
        self, client: TestClient, make_user: MakeUser, email: str
    ) -> None:
        alice = make_user("alice", email="alice@example.com")
        make_user("bob", email="bob@x.com")
        response = self.patch(client, alice, email=email, bio="changed")
        assert response.status_code == 409, response.text
        assert response.json() == {"detail": "Email already registered"}
        assert response.text.count("bob@x.com") == 0
        rows = {row["username"]: row for row in user_rows()}
        assert rows["alice"]["email"] == "alice@example.com"
        assert rows["alice"]["bio"] is None

    def test_email_cannot_be_removed(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user("alice")
        response = self.patch(client, alice, email=None)
        assert response.status_code == 400, response.text
        assert response.json() == {"detail": "email cannot be removed"}
        assert user_rows()[0]["email"] == "alice@example.com"

    @pytest.mark.parametrize("email", ["", "nope", "a@", "x" * 300 + "@example.com"])
    def test_invalid_email_is_422(
        self, client: TestClient, make_user: MakeUser, email: str
    ) -> None:
        alice = make_user("alice")
        response = self.patch(client, alice, email=email)
        assert response.status_code == 422, response.text
        assert user_rows()[0]["email"] == "alice@example.com"

    def test_password_change_needs_the_current_password(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user("alice", password="old password 1")
        before = stored_hash(alice.id)

        missing = self.patch(client, alice, password="new password 2")
        assert missing.status_code == 400, missing.text
        assert missing.json() == {"detail": "current_password is required to change the password"}

        wrong = self.patch(
            client, alice, password="new password 2", current_password="not the old one"
        )
        assert wrong.status_code == 403, wrong.text
        assert wrong.json() == {"detail": "Current password is incorrect"}
        assert stored_hash(alice.id) == before

        right = self.patch(
            client, alice, password="new password 2", current_password="old password 1"
        )
        assert right.status_code == 200, right.text
        assert set(right.json()) == PROFILE_FIELDS | {"email"}
        assert "password" not in right.text
        after = stored_hash(alice.id)
        assert after != before
        assert after.startswith("$argon2id$")
        assert login(client, "alice", "new password 2").status_code == 200
        assert login(client, "alice", "old password 1").status_code == 401

    def test_failed_password_change_changes_nothing_else(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user("alice")
        response = self.patch(
            client, alice, bio="sneaky", password="new password 2", current_password="wrong!"
        )
        assert response.status_code == 403, response.text
        assert user_rows()[0]["bio"] is None

    def test_long_multibyte_password_change(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user("alice")
        new = "🔑" * 128
        response = self.patch(client, alice, password=new, current_password=alice.password)
        assert response.status_code == 200, response.text
        assert login(client, "alice", new).status_code == 200
        assert login(client, "alice", "🔑" * 127 + "🔒").status_code == 401

    @pytest.mark.parametrize(
        "body",
        [
            {"password": "shortpw", "current_password": PASSWORD},
            {"password": "p" * 129, "current_password": PASSWORD},
            {"password": "new password 2", "current_password": "c" * 129},
            {"password": ["new password 2"], "current_password": PASSWORD},
        ],
        ids=["short", "long", "long-current", "list"],
    )
    def test_invalid_password_is_422_without_echo(
        self, client: TestClient, make_user: MakeUser, body: dict[str, Any]
    ) -> None:
        alice = make_user("alice")
        before = stored_hash(alice.id)
        response = client.patch("/user/me/", json=body, headers=alice.headers)
        assert response.status_code == 422, response.text
        for secret in (PASSWORD, "shortpw", "p" * 129, "c" * 129, "new password 2"):
            assert secret not in response.text
        assert stored_hash(alice.id) == before

    def test_server_fields_are_ignored(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user("alice")
        bob = make_user("bob")
        created = client.get("/user/me/", headers=alice.headers).json()["created_at"]
        response = self.patch(
            client,
            alice,
            id=bob.id,
            username="mallory",
            superuser=True,
            is_superuser=True,
            created_at="2000-01-01T00:00:00Z",
            posts_count=99,
            followers_count=99,
            bio="still alice",
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert without(body, "created_at") == {
            "id": alice.id,
            "username": "alice",
            "email": "alice@example.com",
            "avatar": None,
            "bio": "still alice",
            "posts_count": 0,
            "followers_count": 0,
            "following_count": 0,
        }
        assert body["created_at"] == created
        rows = {row["id"]: row for row in user_rows()}
        assert (rows[alice.id]["username"], rows[bob.id]["username"]) == ("alice", "bob")
        assert rows[bob.id]["bio"] is None
        assert client.get("/user/mallory/").status_code == 404

    def test_without_token_is_401_and_nothing_changes(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        make_user("alice")
        assert_unauthorized(client.patch("/user/me/", json={"bio": "hacked"}))
        assert_unauthorized(
            client.patch(
                "/user/me/", json={"bio": "hacked"}, headers={"Authorization": "Bearer junk"}
            )
        )
        assert user_rows()[0]["bio"] is None

    def test_another_users_profile_cannot_be_patched(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user("alice")
        make_user("bob")
        response = client.patch("/user/bob/", json={"bio": "hacked"}, headers=alice.headers)
        assert response.status_code == 405, response.text
        response = client.put("/user/me/", json={"bio": "hacked"}, headers=alice.headers)
        assert response.status_code == 405, response.text
        assert [row["bio"] for row in user_rows()] == [None, None]
