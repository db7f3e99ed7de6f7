"""Posts and replies: /post/, /post/{id}/ and /post/user/{username}/.

The helpers defined here (SQL counts, Link walking, expected post objects) are
shared with test_like.py and test_social.py.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text
from sqlmodel import col
from starlette.datastructures import URL
from starlette.requests import Request

from pamps.config import settings
from pamps.models import Post
from pamps.pagination import base_url, page_url, request_url
from tests.conftest import LoopClient, get_engine
from tests.conftest import TestUser as ApiUser

MakeUser = Callable[..., ApiUser]
MakePost = Callable[..., dict[str, Any]]

POST_KEYS = {
    "id",
    "text",
    "date",
    "user_id",
    "username",
    "parent_id",
    "edited_at",
    "likes_count",
    "replies_count",
}
# Path ids that can name no post: above the 32-bit column, negative, zero,
# not an integer.
BAD_PATH_IDS = ["2147483648", "99999999999999999999", "-1", "0", "1.5", "abc"]
BAD_LIMITS = ["0", "-5", "abc", "1.5", "101", "100000"]
BAD_BEFORE = ["0", "-1", "abc", "1.5", "2147483648"]
BAD_AFTER = ["-1", "abc", "1.5", "2147483648"]
BAD_USERNAMES = ["nobody_here", "x" * 30, "a" * 65, "%2e%2e", "a.b", "%00", "me%2F..%2Fx"]


def request_for(url: str) -> Request:
    """A request for ``url``, its host in the Host header, as a server gives it."""
    parts = urlsplit(url)
    scope = {"type": "http", "scheme": parts.scheme, "server": ("127.0.0.1", 8000)}
    scope |= {"path": unquote(parts.path), "query_string": parts.query.encode(), "root_path": ""}
    return Request(scope | {"headers": [(b"host", parts.netloc.encode())]})


def sql_scalar(query: str, **params: Any) -> Any:
    with get_engine().connect() as conn:
        return conn.execute(text(query), params).scalar_one()


def post_rows() -> int:
    return sql_scalar("SELECT count(*) FROM post")


def insert_posts(user: ApiUser, count: int, parent_id: int | None = None) -> list[int]:
    """Write ``count`` posts straight into the table (fast); their ids, oldest first."""
    rows = [
        {"text": f"bulk {n}", "user_id": user.id, "parent_id": parent_id, "date": datetime.now(UTC)}
        for n in range(count)
    ]
    with get_engine().begin() as conn:
        conn.execute(insert(Post), rows)
        query = select(col(Post.id)).where(col(Post.user_id) == user.id)
        return sorted(conn.execute(query).scalars())


def next_link(response: httpx.Response) -> str | None:
    """The URL of the RFC 8288 rel="next" link, if any."""
    link = response.headers.get("link")
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert match, link
    return match.group(1)


def link_parts(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """Path and query parameters of the next link (parameter order is free)."""
    url = next_link(response)
    assert url is not None, "no Link header"
    parsed = httpx.URL(url)
    assert (parsed.scheme, parsed.host) == ("http", "testserver"), url
    return parsed.path, dict(parsed.params)


def walk(
    client: TestClient, url: str, limit: int, headers: dict[str, str] | None = None
) -> list[list[dict[str, Any]]]:
    """Every page of a list, following Link headers; checks page sizes."""
    pages: list[list[dict[str, Any]]] = []
    next_url: str | None = url
    while next_url is not None:
        response = client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        next_url = next_link(response)
        assert len(pages) <= 50, "pagination does not end"
    assert all(len(page) == limit for page in pages[:-1]), [len(p) for p in pages]
    assert 0 < len(pages[-1]) <= limit or len(pages) == 1
    return pages


def assert_rejects_bad_paging(
    client: TestClient, url: str, headers: dict[str, str] | None = None, cursor: str = "before"
) -> None:
    """Out-of-range or malformed ``limit`` and cursor values are 422."""
    cursors = BAD_BEFORE if cursor == "before" else BAD_AFTER
    for name, values in (("limit", BAD_LIMITS), (cursor, cursors)):
        for value in values:
            response = client.get(url, params={name: value}, headers=headers)
            assert response.status_code == 422, (name, value, response.text)
    ok = client.get(url, params={"limit": 100}, headers=headers)
    assert ok.status_code == 200, ok.text


def assert_link_only_when_more(
    client: TestClient,
    url: str,
    total: int,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> None:
    """A page ending with the last item has no Link; one item short, it has."""
    full = client.get(url, params={**(params or {}), "limit": total}, headers=headers)
    assert full.status_code == 200, full.text
    assert "link" not in full.headers, full.headers["link"]
    short = client.get(url, params={**(params or {}), "limit": total - 1}, headers=headers)
    assert short.status_code == 200, short.text
    assert next_link(short) is not None


def ids(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]


def assert_recent(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.tzinfo is not None, value
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1), value
    return moment


def expected_post(
    post: dict[str, Any],
    user: ApiUser,
    text_: str,
    parent_id: int | None = None,
    likes: int = 0,
    replies: int = 0,
) -> dict[str, Any]:
    """The whole post object we expect, taking the server-chosen id/date."""
    return {
        "id": post["id"],
        "text": text_,
        "date": post["date"],
        "user_id": user.id,
        "username": user.username,
        "parent_id": parent_id,
        "edited_at": None,
        "likes_count": likes,
        "replies_count": replies,
    }


def test_workshop_flow(client: TestClient, make_user: MakeUser, make_post: MakePost) -> None:
    user1 = make_user("user1")
    user2 = make_user("user2")
    first = make_post(user1, "start here")
    second = make_post(user1, "second post")
    reply1 = make_post(user1, "replying to myself", parent_id=first["id"])
    reply2 = make_post(user2, "a reply", parent_id=first["id"])

    home = client.get("/post/")
    assert home.status_code == 200, home.text
    assert home.json() == [
        expected_post(second, user1, "second post"),
        expected_post(first, user1, "start here", replies=2),
    ]

    detail = client.get(f"/post/{first['id']}/")
    assert detail.status_code == 200, detail.text
    assert detail.json() == {
        **expected_post(first, user1, "start here", replies=2),
        "replies": [
            expected_post(reply1, user1, "replying to myself", parent_id=first["id"]),
            expected_post(reply2, user2, "a reply", parent_id=first["id"]),
        ],
    }

    mine = client.get("/post/user/user1/")
    assert mine.status_code == 200, mine.text
    assert ids(mine.json()) == [second["id"], first["id"]]

    with_replies = client.get("/post/user/user1/", params={"include_replies": "true"})
    assert with_replies.status_code == 200, with_replies.text
    assert ids(with_replies.json()) == [reply1["id"], second["id"], first["id"]]


def concurrent_posts(
    client: TestClient, path: str, headers: dict[str, str], count: int = 10
) -> list[int]:
    """Statuses of ``count`` simultaneous POSTs to ``path``."""
    calls = [("POST", path, {"headers": headers})] * count
    return [response.status_code for response in LoopClient(client).together(calls)]


class TestCreatePost:
    def test_creates_post_as_token_user(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        response = client.post("/post/", json={"text": "hello world"}, headers=alice.headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == POST_KEYS
        assert body == expected_post(body, alice, "hello world")
        assert_recent(body["date"])
        assert post_rows() == 1
        assert sql_scalar("SELECT user_id FROM post WHERE id = :id", id=body["id"]) == alice.id

    def test_payload_cannot_choose_author_id_date_or_counters(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        mallory = make_user()
        payload = {
            "text": "mine",
            "user_id": alice.id,
            "username": alice.username,
            "id": 4242,
            "date": "2001-01-01T00:00:00Z",
            "edited_at": "2001-01-01T00:00:00Z",
            "likes_count": 99,
            "replies_count": 7,
        }
        response = client.post("/post/", json=payload, headers=mallory.headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["id"] != 4242
        assert body == expected_post(body, mallory, "mine")
        assert_recent(body["date"])
        assert sql_scalar("SELECT count(*) FROM post WHERE user_id = :id", id=alice.id) == 0
        assert sql_scalar("SELECT count(*) FROM post WHERE id = 4242") == 0

    @pytest.mark.parametrize(
        ("sent", "stored"),
        [
            ("  padded  ", "padded"),
            ("\n\t line one\nline two \r\n", "line one\nline two"),
            ("  " + "x" * 500 + "  ", "x" * 500),
            ("x", "x"),
        ],
    )
    def test_text_is_trimmed(
        self, client: TestClient, make_user: MakeUser, sent: str, stored: str
    ) -> None:
        alice = make_user()
        response = client.post("/post/", json={"text": sent}, headers=alice.headers)
        assert response.status_code == 201, response.text
        assert response.json()["text"] == stored
        assert sql_scalar("SELECT text FROM post WHERE id = :id", id=response.json()["id"]) == (
            stored
        )

    @pytest.mark.parametrize(
        "payload",
        [
            {"text": ""},
            {"text": "   "},
            {"text": "\n\t \r\n"},
            {"text": "x" * 501},
            {"text": "  " + "x" * 501 + "  "},
            {"text": "nul\x00inside"},
            {"text": "\x00"},
            {"text": None},
            {"text": 123},
            {"text": ["a"]},
            {},
            {"parent_id": None},
        ],
        ids=[
            "empty",
            "spaces",
            "whitespace",
            "501",
            "501-padded",
            "nul",
            "only-nul",
            "null",
            "number",
            "list",
            "no-text",
            "only-parent",
        ],
    )
    def test_invalid_text_is_422_and_nothing_stored(
        self, client: TestClient, make_user: MakeUser, payload: dict[str, Any]
    ) -> None:
        alice = make_user()
        response = client.post("/post/", json=payload, headers=alice.headers)
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], list)
        assert post_rows() == 0

    @pytest.mark.parametrize("body", ["not json", "[]", '"text"', "null"])
    def test_malformed_body_is_422(
        self, client: TestClient, make_user: MakeUser, body: str
    ) -> None:
        alice = make_user()
        headers = {**alice.headers, "Content-Type": "application/json"}
        response = client.post("/post/", content=body, headers=headers)
        assert response.status_code == 422, response.text
        assert post_rows() == 0

    def test_length_limit_comes_from_settings(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        original = settings.posts.max_length
        settings.set("posts.max_length", 10)
        try:
            too_long = client.post("/post/", json={"text": "x" * 11}, headers=alice.headers)
            fits = client.post("/post/", json={"text": "x" * 10}, headers=alice.headers)
        finally:
            settings.set("posts.max_length", original)
        assert too_long.status_code == 422, too_long.text
        assert fits.status_code == 201, fits.text
        assert post_rows() == 1

    @pytest.mark.parametrize(
        "value",
        [
            "Robert'); DROP TABLE post;--",
            "' OR '1'='1' -- ; SELECT * FROM \"user\"; %_\\",
            "<script>alert('x')</script><img src=x onerror=alert(1)>",
            "emoji 😀🎉🐍 and 𝕏",  # noqa: RUF001
            "family 👩\u200d👩\u200d👧\u200d👦 flag 🏳️\u200d🌈",
            "\u202eRTL override\u202c and \u200fשלום\u200f mark",  # noqa: RUF001
            "\u200fעברית עם מספרים 123 والعربية\u200e",  # noqa: RUF001
            "quotes \" ' ` and backslash \\ and tab\tinside",
            "combining e\u0301 and nfc é and width\u200bspace",
        ],
        ids=["sql", "sql-like", "script", "emoji", "zwj", "rtl", "bidi", "quotes", "combining"],
    )
    def test_text_is_stored_and_returned_byte_identical(
        self, client: TestClient, make_user: MakeUser, value: str
    ) -> None:
        alice = make_user()
        response = client.post("/post/", json={"text": value}, headers=alice.headers)
        assert response.status_code == 201, response.text
        post_id = response.json()["id"]
        assert response.json()["text"] == value
        detail = client.get(f"/post/{post_id}/")
        assert detail.status_code == 200, detail.text
        assert detail.json()["text"].encode() == value.encode()
        assert client.get("/post/").json()[0]["text"] == value
        stored = sql_scalar("SELECT text FROM post WHERE id = :id", id=post_id)
        assert stored.encode() == value.encode()

    def test_reply(self, client: TestClient, make_user: MakeUser, make_post: MakePost) -> None:
        alice = make_user()
        bob = make_user()
        parent = make_post(alice, "parent")
        response = client.post(
            "/post/", json={"text": "reply", "parent_id": parent["id"]}, headers=bob.headers
        )
        assert response.status_code == 201, response.text
        assert response.json() == expected_post(response.json(), bob, "reply", parent["id"])
        assert client.get(f"/post/{parent['id']}/").json()["replies_count"] == 1

    @pytest.mark.parametrize(
        "parent_id",
        [2147483647, 0, -1, "1", "abc", False, True, 1.5, 2**31, 10**20, [1], {"id": 1}],
        ids=[
            "missing",
            "zero",
            "negative",
            "string",
            "word",
            "false",
            "true",
            "float",
            "2^31",
            "10^20",
            "list",
            "object",
        ],
    )
    def test_bad_parent_is_404_or_422(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost, parent_id: Any
    ) -> None:
        alice = make_user()
        make_post(alice, "post 1 exists, so a lenient '1' or true would find it")
        response = client.post(
            "/post/", json={"text": "orphan", "parent_id": parent_id}, headers=alice.headers
        )
        assert response.status_code in (404, 422), response.text
        assert post_rows() == 1

    def test_missing_parent_is_404(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        response = client.post(
            "/post/", json={"text": "orphan", "parent_id": 999999}, headers=alice.headers
        )
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": "Post not found"}
        assert post_rows() == 0

    def test_reply_to_deleted_post_is_404(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        parent = make_post(alice, "soon gone")
        assert client.delete(f"/post/{parent['id']}/", headers=alice.headers).status_code == 204
        response = client.post(
            "/post/", json={"text": "too late", "parent_id": parent["id"]}, headers=bob.headers
        )
        assert response.status_code == 404, response.text
        assert post_rows() == 1

    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer not-a-token"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
        ],
        ids=["none", "empty", "junk", "basic"],
    )
    def test_without_valid_token_is_401_and_nothing_stored(
        self, client: TestClient, make_user: MakeUser, headers: dict[str, str]
    ) -> None:
        make_user()
        response = client.post("/post/", json={"text": "anonymous"}, headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert post_rows() == 0


class TestHome:
    def test_empty(self, client: TestClient) -> None:
        response = client.get("/post/")
        assert response.status_code == 200, response.text
        assert response.json() == []
        assert "link" not in response.headers

    def test_top_level_posts_newest_first(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        first = make_post(alice, "one")
        second = make_post(bob, "two")
        make_post(bob, "a reply", parent_id=first["id"])
        third = make_post(alice, "three")
        response = client.get("/post/")
        assert response.status_code == 200, response.text
        assert response.json() == [
            expected_post(third, alice, "three"),
            expected_post(second, bob, "two"),
            expected_post(first, alice, "one", replies=1),
        ]
        assert all(set(post) == POST_KEYS for post in response.json())
        assert "link" not in response.headers

    def test_default_limit_is_20(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        posts = insert_posts(make_user(), 21)
        response = client.get("/post/")
        assert response.status_code == 200, response.text
        assert ids(response.json()) == posts[::-1][:20]
        link = next_link(response)
        assert link is not None
        rest = client.get(link)
        assert ids(rest.json()) == [posts[0]]
        assert "link" not in rest.headers

    def test_limit_100_is_accepted(self, client: TestClient) -> None:
        response = client.get("/post/", params={"limit": 100})
        assert response.status_code == 200, response.text

    def test_bad_limit_or_cursor_is_422(self, client: TestClient) -> None:
        assert_rejects_bad_paging(client, "/post/")

    @pytest.mark.parametrize(("count", "pages"), [(4, 2), (5, 3), (2, 1), (1, 1)])
    def test_link_walks_every_post_once(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        count: int,
        pages: int,
    ) -> None:
        alice = make_user()
        posts = [make_post(alice, f"post {n}") for n in range(count)]
        walked = walk(client, "/post/?limit=2", limit=2)
        assert len(walked) == pages
        assert [i for page in walked for i in ids(page)] == ids(posts[::-1])

    def test_link_format(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        posts = [make_post(alice, f"post {n}") for n in range(3)]
        response = client.get("/post/", params={"limit": 2})
        assert link_parts(response) == ("/post/", {"limit": "2", "before": str(posts[1]["id"])})

    @pytest.mark.parametrize(
        "url",
        [
            "http://testserver/post/",
            "https://example.org:8443/base/post/user/a_b/",
            "http://testserver/api/v1/timelines/public",
            "http://testserver/post/?limit=2",
            "http://testserver/api/v1/timelines/home?max_id=9&limit=5&local=true",
            "http://testserver/api/v1/timelines/public?since_id=3&since_id=4&x=&y=a%20b",
            "http://testserver/post/?before=1&limit=3&limit=4",
        ],
    )
    def test_page_urls_are_starlettes(self, url: str) -> None:
        drop = ("max_id", "since_id", "min_id")
        plain = URL(url).remove_query_params(drop).include_query_params(max_id=7, limit=20)
        assert page_url(request_for(url), {"max_id": 7, "limit": 20}, drop) == str(plain)
        assert page_url(request_for(url), {"before": 7, "limit": 2}) == str(
            URL(url).include_query_params(before=7, limit=2)
        )

    @pytest.mark.parametrize(
        "where",
        [
            {},
            {"headers": [(b"host", b"example.com:8443")], "scheme": "https"},
            {"headers": [(b"host", b"example.com:443")], "scheme": "https"},
            {"headers": [(b"host", b"[::1]:8000")]},
            {"headers": [(b"host", b"bad host/")], "server": ("10.0.0.1", 8000)},
            {"headers": [(b"host", b"example.com:99999")], "server": ("10.0.0.1", 80)},
            {"headers": [], "server": ("10.0.0.1", 80)},
            {"headers": [], "server": ("::1", 8000)},
            {"headers": [], "server": None},
            {"headers": [], "server": None, "path": "//x/"},
            {"headers": [], "server": None, "root_path": "//r"},
            {"path": "//x/"},
            {"path": "/a?b#c\\d/é/"},
            {"root_path": "/pamps", "path": "/pamps/post/"},
            {"app_root_path": "/a", "root_path": "/b"},
            {"root_path": "/a?b/"},
        ],
    )
    def test_request_urls_are_starlettes(self, where: dict[str, Any]) -> None:
        """The request's URL and base URL, their scheme and host remembered
        per way of addressing the server, are Starlette's."""
        scope = {"type": "http", "scheme": "http", "server": ("127.0.0.1", 8000), "path": "/x/"}
        scope |= {"query_string": b"", "root_path": "", "headers": [(b"host", b"testserver")]}
        scope |= where
        url, base = str(Request(dict(scope)).url), str(Request(dict(scope)).base_url)
        for _ in range(2):  # worked out, then remembered
            assert request_url(Request(dict(scope))) == url
            assert base_url(Request(dict(scope))) == base.rstrip("/")

    def test_paging_while_others_post_sees_each_old_post_once(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        old = [make_post(alice, f"old {n}") for n in range(5)]
        seen: list[int] = []
        url: str | None = "/post/?limit=2"
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200, response.text
            seen += ids(response.json())
            make_post(bob, "new post while paging")
            url = next_link(response)
        assert seen == ids(old[::-1])

    def test_deleted_posts_are_left_out(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        kept = make_post(alice, "kept")
        gone = make_post(alice, "gone")
        assert client.delete(f"/post/{gone['id']}/", headers=alice.headers).status_code == 204
        assert ids(client.get("/post/").json()) == [kept["id"]]


class TestPostDetail:
    def test_post_with_replies_oldest_first(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        post = make_post(alice, "root")
        r1 = make_post(bob, "first reply", parent_id=post["id"])
        r2 = make_post(alice, "second reply", parent_id=post["id"])
        make_post(bob, "reply to a reply", parent_id=r1["id"])
        make_post(bob, "unrelated")
        response = client.get(f"/post/{post['id']}/")
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == POST_KEYS | {"replies"}
        assert body == {
            **expected_post(post, alice, "root", replies=2),
            "replies": [
                expected_post(r1, bob, "first reply", post["id"], replies=1),
                expected_post(r2, alice, "second reply", post["id"]),
            ],
        }
        assert "link" not in response.headers

    def test_reply_detail(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "root")
        reply = make_post(alice, "reply", parent_id=post["id"])
        response = client.get(f"/post/{reply['id']}/")
        assert response.status_code == 200, response.text
        assert response.json() == {
            **expected_post(reply, alice, "reply", post["id"]),
            "replies": [],
        }

    def test_deleted_reply_is_left_out_and_not_counted(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "root")
        gone = make_post(alice, "gone", parent_id=post["id"])
        kept = make_post(alice, "kept", parent_id=post["id"])
        assert client.delete(f"/post/{gone['id']}/", headers=alice.headers).status_code == 204
        body = client.get(f"/post/{post['id']}/").json()
        assert body["replies_count"] == 1
        assert ids(body["replies"]) == [kept["id"]]

    def test_missing_post_is_404(self, client: TestClient) -> None:
        response = client.get("/post/2147483647/")
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": "Post not found"}

    def test_bad_path_id(self, client: TestClient) -> None:
        for post_id in BAD_PATH_IDS:
            response = client.get(f"/post/{post_id}/")
            assert response.status_code in (404, 422), (post_id, response.text)

    def test_replies_are_paged_with_after(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "root")
        replies = [make_post(alice, f"r{n}", parent_id=post["id"]) for n in range(5)]
        first = client.get(f"/post/{post['id']}/", params={"limit": 2})
        assert first.status_code == 200, first.text
        assert link_parts(first) == (
            f"/post/{post['id']}/",
            {"limit": "2", "after": str(replies[1]["id"])},
        )
        seen: list[list[int]] = []
        url: str | None = f"/post/{post['id']}/?limit=2"
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200, response.text
            body = response.json()
            # Every page still carries the post itself.
            assert body["id"] == post["id"]
            assert body["replies_count"] == 5
            seen.append(ids(body["replies"]))
            url = next_link(response)
        assert seen == [ids(replies[0:2]), ids(replies[2:4]), ids(replies[4:])]
        assert_link_only_when_more(client, f"/post/{post['id']}/", 5)

    def test_replies_default_limit_is_20(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        post = make_post(make_user(), "root")
        replies = insert_posts(make_user(), 21, parent_id=post["id"])
        response = client.get(f"/post/{post['id']}/")
        assert ids(response.json()["replies"]) == replies[:20]
        link = next_link(response)
        assert link is not None
        assert ids(client.get(link).json()["replies"]) == [replies[20]]

    def test_paging_replies_while_others_reply(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        post = make_post(alice, "root")
        old = [make_post(alice, f"r{n}", parent_id=post["id"]) for n in range(5)]
        seen: list[int] = []
        new: list[int] = []
        url: str | None = f"/post/{post['id']}/?limit=2"
        while url is not None and len(seen) < 100:
            response = client.get(url)
            assert response.status_code == 200, response.text
            seen += ids(response.json()["replies"])
            if len(new) < 3:
                new.append(make_post(bob, "late reply", parent_id=post["id"])["id"])
            url = next_link(response)
        # Oldest first: replies written meanwhile come after all old ones.
        assert seen[: len(old)] == ids(old)
        assert seen[len(old) :] == new

    def test_bad_limit_or_cursor_is_422(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        post = make_post(make_user(), "root")
        assert_rejects_bad_paging(client, f"/post/{post['id']}/", cursor="after")


class TestUserPosts:
    def test_posts_of_one_user_newest_first(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        p1 = make_post(alice, "one")
        make_post(bob, "bob's")
        r1 = make_post(alice, "reply", parent_id=p1["id"])
        p2 = make_post(alice, "two")
        response = client.get(f"/post/user/{alice.username}/")
        assert response.status_code == 200, response.text
        assert response.json() == [
            expected_post(p2, alice, "two"),
            expected_post(p1, alice, "one", replies=1),
        ]
        with_replies = client.get(
            f"/post/user/{alice.username}/", params={"include_replies": "true"}
        )
        assert with_replies.status_code == 200, with_replies.text
        assert with_replies.json() == [
            expected_post(p2, alice, "two"),
            expected_post(r1, alice, "reply", p1["id"]),
            expected_post(p1, alice, "one", replies=1),
        ]
        explicit = client.get(f"/post/user/{alice.username}/", params={"include_replies": "false"})
        assert ids(explicit.json()) == [p2["id"], p1["id"]]

    def test_username_is_case_insensitive(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user("Alice_W")
        post = make_post(alice, "hi")
        response = client.get("/post/user/alice_w/")
        assert response.status_code == 200, response.text
        assert response.json() == [expected_post(post, alice, "hi")]

    def test_user_without_posts(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        response = client.get(f"/post/user/{alice.username}/")
        assert response.status_code == 200, response.text
        assert response.json() == []

    def test_odd_usernames_are_404_or_422(self, client: TestClient) -> None:
        for username in BAD_USERNAMES:
            response = client.get(f"/post/user/{username}/")
            assert response.status_code in (404, 422), (username, response.text)

    def test_non_ascii_lookalike_of_a_username_is_404(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        """Python lowercases the Kelvin sign to "k": "\u212aate" must not
        find kate (nor put a non-Latin-1 character in a Link header)."""
        kate = make_user(username="kate_k")
        make_post(kate, "one")
        make_post(kate, "two")
        lookalike = "\u212aate_k"
        for path in (
            f"/post/user/{lookalike}/",
            f"/post/likes/{lookalike}/",
            f"/user/{lookalike}/",
            f"/user/{lookalike}/followers/",
        ):
            response = client.get(path, params={"limit": 1})
            assert response.status_code == 404, (path, response.text)

    def test_unknown_user_is_404(self, client: TestClient) -> None:
        response = client.get("/post/user/nobody_here/")
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": "User not found"}

    def test_bad_query_is_422(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        for value in ("maybe", "2"):
            response = client.get(
                f"/post/user/{alice.username}/", params={"include_replies": value}
            )
            assert response.status_code == 422, (value, response.text)
        assert_rejects_bad_paging(client, f"/post/user/{alice.username}/")

    def test_link_keeps_include_replies_and_walks_once(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        root = make_post(alice, "root")
        posts = [root] + [
            make_post(alice, f"r{n}", parent_id=root["id"] if n % 2 else None) for n in range(4)
        ]
        url = f"/post/user/{alice.username}/?include_replies=true&limit=2"
        first = client.get(url)
        assert link_parts(first) == (
            f"/post/user/{alice.username}/",
            {"include_replies": "true", "limit": "2", "before": str(posts[3]["id"])},
        )
        walked = walk(client, url, limit=2)
        assert_link_only_when_more(
            client, f"/post/user/{alice.username}/", 5, params={"include_replies": "true"}
        )
        assert [i for page in walked for i in ids(page)] == ids(posts[::-1])

    def test_default_limit_is_20(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        posts = insert_posts(alice, 21)
        response = client.get(f"/post/user/{alice.username}/")
        assert ids(response.json()) == posts[::-1][:20]
        link = next_link(response)
        assert link is not None
        assert ids(client.get(link).json()) == [posts[0]]

    def test_paging_while_user_posts(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        old = [make_post(alice, f"old {n}") for n in range(5)]
        seen: list[int] = []
        url: str | None = f"/post/user/{alice.username}/?limit=2"
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200, response.text
            seen += ids(response.json())
            make_post(alice, "new while paging")
            url = next_link(response)
        assert seen == ids(old[::-1])


class TestEditPost:
    def test_author_edits_text(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "typo")
        response = client.patch(
            f"/post/{post['id']}/", json={"text": "  fixed  "}, headers=alice.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == POST_KEYS
        edited_at = assert_recent(body["edited_at"])
        assert edited_at >= datetime.fromisoformat(post["date"])
        assert body == {**post, "text": "fixed", "edited_at": body["edited_at"]}
        detail = client.get(f"/post/{post['id']}/")
        assert detail.json() == {**body, "replies": []}

    def test_edit_keeps_counters_and_ignores_other_fields(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        parent = make_post(alice, "parent")
        post = make_post(alice, "reply", parent_id=parent["id"])
        make_post(bob, "reply to reply", parent_id=post["id"])
        assert client.post(f"/post/{post['id']}/like/", headers=bob.headers).status_code == 201
        response = client.patch(
            f"/post/{post['id']}/",
            json={
                "text": "edited",
                "user_id": bob.id,
                "parent_id": None,
                "id": 777,
                "date": "2001-01-01T00:00:00Z",
                "likes_count": 50,
            },
            headers=alice.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            **post,
            "text": "edited",
            "edited_at": response.json()["edited_at"],
            "likes_count": 1,
            "replies_count": 1,
        }

    def test_other_user_gets_403_and_post_is_unchanged(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        mallory = make_user()
        post = make_post(alice, "original")
        response = client.patch(
            f"/post/{post['id']}/", json={"text": "hacked"}, headers=mallory.headers
        )
        assert response.status_code == 403, response.text
        assert response.json() == {"detail": "You can only change your own posts"}
        assert client.get(f"/post/{post['id']}/").json() == {**post, "replies": []}
        assert sql_scalar("SELECT text FROM post WHERE id = :id", id=post["id"]) == "original"

    @pytest.mark.parametrize(
        "payload",
        [{"text": ""}, {"text": "   "}, {"text": "x" * 501}, {"text": "a\x00"}, {}, {"text": None}],
        ids=["empty", "spaces", "501", "nul", "missing", "null"],
    )
    def test_invalid_text_is_422_and_post_unchanged(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        payload: dict[str, Any],
    ) -> None:
        alice = make_user()
        post = make_post(alice, "original")
        response = client.patch(f"/post/{post['id']}/", json=payload, headers=alice.headers)
        assert response.status_code == 422, response.text
        assert client.get(f"/post/{post['id']}/").json() == {**post, "replies": []}

    def test_edit_can_be_repeated(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "v1")
        first = client.patch(f"/post/{post['id']}/", json={"text": "v2"}, headers=alice.headers)
        second = client.patch(f"/post/{post['id']}/", json={"text": "v3"}, headers=alice.headers)
        assert first.status_code == second.status_code == 200
        assert second.json()["text"] == "v3"
        assert second.json()["edited_at"] >= first.json()["edited_at"]

    def test_deleted_post_is_404(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "gone")
        assert client.delete(f"/post/{post['id']}/", headers=alice.headers).status_code == 204
        response = client.patch(f"/post/{post['id']}/", json={"text": "x"}, headers=alice.headers)
        assert response.status_code == 404, response.text
        assert sql_scalar("SELECT text FROM post WHERE id = :id", id=post["id"]) == "gone"

    def test_missing_post_is_404(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        response = client.patch("/post/2147483647/", json={"text": "x"}, headers=alice.headers)
        assert response.status_code == 404, response.text

    def test_bad_path_id(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        for post_id in BAD_PATH_IDS:
            response = client.patch(f"/post/{post_id}/", json={"text": "x"}, headers=alice.headers)
            assert response.status_code in (404, 422), (post_id, response.text)

    def test_without_token_is_401(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "original")
        response = client.patch(f"/post/{post['id']}/", json={"text": "anonymous"})
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert client.get(f"/post/{post['id']}/").json() == {**post, "replies": []}


class TestDeletePost:
    def test_author_deletes(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "bye")
        response = client.delete(f"/post/{post['id']}/", headers=alice.headers)
        assert response.status_code == 204, response.text
        assert response.content == b""
        detail = client.get(f"/post/{post['id']}/")
        assert detail.status_code == 404, detail.text
        assert detail.json() == {"detail": "Post not found"}
        assert client.get("/post/").json() == []
        assert client.get(f"/post/user/{alice.username}/").json() == []
        assert client.get(f"/user/{alice.username}/").json()["posts_count"] == 0

    def test_deleted_post_leaves_likes_and_timeline(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        kept = make_post(alice, "kept")
        post = make_post(alice, "bye")
        assert client.post(f"/user/follow/{alice.id}", headers=bob.headers).status_code == 201
        for liked in (kept, post):
            assert client.post(f"/post/{liked['id']}/like/", headers=bob.headers).status_code == 201
        assert ids(client.get("/user/timeline", headers=bob.headers).json()) == [
            post["id"],
            kept["id"],
        ]
        assert client.delete(f"/post/{post['id']}/", headers=alice.headers).status_code == 204
        assert ids(client.get(f"/post/likes/{bob.username}/").json()) == [kept["id"]]
        assert ids(client.get("/user/timeline", headers=bob.headers).json()) == [kept["id"]]
        assert ids(client.get(f"/post/user/{alice.username}/?include_replies=true").json()) == [
            kept["id"]
        ]

    def test_replies_by_others_survive(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        post = make_post(alice, "parent")
        reply = make_post(bob, "bob's reply", parent_id=post["id"])
        assert client.delete(f"/post/{post['id']}/", headers=alice.headers).status_code == 204
        # The deleted post is gone even though it has a visible reply.
        assert client.get(f"/post/{post['id']}/").status_code == 404
        response = client.get(f"/post/{reply['id']}/")
        assert response.status_code == 200, response.text
        body = response.json()
        # The reply is unchanged; whether it still names its (deleted) parent
        # is the server's choice.
        assert body["parent_id"] in (post["id"], None)
        assert {**body, "parent_id": post["id"]} == {**reply, "replies": []}
        listed = client.get(f"/post/user/{bob.username}/", params={"include_replies": "true"})
        assert listed.status_code == 200, listed.text
        assert ids(listed.json()) == [reply["id"]]
        assert sql_scalar("SELECT text FROM post WHERE id = :id", id=reply["id"]) == "bob's reply"

    def test_deleted_post_cannot_be_edited_liked_or_replied_to(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        post = make_post(alice, "gone")
        assert client.delete(f"/post/{post['id']}/", headers=alice.headers).status_code == 204
        path = f"/post/{post['id']}/"
        assert client.patch(path, json={"text": "x"}, headers=alice.headers).status_code == 404
        assert client.post(f"{path}like/", headers=bob.headers).status_code == 404
        reply = client.post(
            "/post/", json={"text": "late", "parent_id": post["id"]}, headers=bob.headers
        )
        assert reply.status_code == 404, reply.text
        assert client.delete(path, headers=alice.headers).status_code == 404
        assert post_rows() == 1
        assert sql_scalar('SELECT count(*) FROM "like"') == 0

    def test_other_user_gets_403(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        mallory = make_user()
        post = make_post(alice, "mine")
        response = client.delete(f"/post/{post['id']}/", headers=mallory.headers)
        assert response.status_code == 403, response.text
        assert client.get(f"/post/{post['id']}/").json() == {**post, "replies": []}
        assert ids(client.get("/post/").json()) == [post["id"]]

    def test_without_token_is_401(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "mine")
        response = client.delete(f"/post/{post['id']}/")
        assert response.status_code == 401, response.text
        assert client.get(f"/post/{post['id']}/").status_code == 200

    def test_missing_post_is_404(self, client: TestClient, make_user: MakeUser) -> None:
        response = client.delete("/post/2147483647/", headers=make_user().headers)
        assert response.status_code == 404, response.text

    def test_bad_path_id(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        for post_id in BAD_PATH_IDS:
            response = client.delete(f"/post/{post_id}/", headers=alice.headers)
            assert response.status_code in (404, 422), (post_id, response.text)
