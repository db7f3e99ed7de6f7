"""The social graph and the timeline: /user/follow/{id}, followers, following,
profile counters and /user/timeline; plus the query plans behind the lists."""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlmodel import col

from pamps.database import SESSION_SETTINGS
from pamps.models import Post, Social, User
from pamps.models.post import MAX_ID
from pamps.services import posts, social, users
from tests.conftest import TestUser as ApiUser
from tests.conftest import get_engine
from tests.test_post import (
    BAD_PATH_IDS,
    POST_KEYS,
    assert_link_only_when_more,
    assert_rejects_bad_paging,
    concurrent_posts,
    expected_post,
    ids,
    insert_posts,
    link_parts,
    next_link,
    sql_scalar,
    walk,
)

MakeUser = Callable[..., ApiUser]
MakePost = Callable[..., dict[str, Any]]

PUBLIC_KEYS = {"id", "username", "avatar", "bio", "created_at"}
COUNTERS = ("posts_count", "followers_count", "following_count")


def edges(from_id: int | None = None, to_id: int | None = None) -> int:
    """Follow rows in SQL, optionally from and/or to one user."""
    where = {"from_id": from_id, "to_id": to_id}
    clauses = [f"{name} = :{name}" for name, value in where.items() if value is not None]
    query = "SELECT count(*) FROM social" + (" WHERE " + " AND ".join(clauses) if clauses else "")
    return sql_scalar(query, **{k: v for k, v in where.items() if v is not None})


def follow(client: TestClient, user: ApiUser, target_id: int) -> httpx.Response:
    return client.post(f"/user/follow/{target_id}", headers=user.headers)


def unfollow(client: TestClient, user: ApiUser, target_id: int) -> httpx.Response:
    return client.delete(f"/user/follow/{target_id}", headers=user.headers)


def profile(client: TestClient, user: ApiUser) -> dict[str, Any]:
    response = client.get(f"/user/{user.username}/")
    assert response.status_code == 200, response.text
    return response.json()


def public(client: TestClient, user: ApiUser) -> dict[str, Any]:
    """The user's public object, as lists and follow answers show it."""
    body = profile(client, user)
    return {key: body[key] for key in PUBLIC_KEYS}


def counters(client: TestClient, user: ApiUser) -> tuple[int, int, int]:
    body = profile(client, user)
    return body["posts_count"], body["followers_count"], body["following_count"]


def insert_users(count: int) -> list[int]:
    """``count`` users written straight into the table; their ids, oldest first."""
    now = datetime.now(UTC)
    rows = [
        {
            "email": f"bulk{n}@example.com",
            "username": f"bulk{n}",
            "password": "x",
            "created_at": now,
        }
        for n in range(count)
    ]
    with get_engine().begin() as conn:
        conn.execute(insert(User), rows)
        query = select(col(User.id)).where(col(User.username).like("bulk%"))
        return sorted(conn.execute(query).scalars())


def insert_edges(pairs: list[tuple[int, int]]) -> None:
    now = datetime.now(UTC)
    with get_engine().begin() as conn:
        conn.execute(insert(Social), [{"from_id": f, "to_id": t, "date": now} for f, t in pairs])


def concurrent_follows(
    client: TestClient, user: ApiUser, target_id: int, count: int = 10
) -> list[int]:
    """``count`` simultaneous follows by one user."""
    return concurrent_posts(client, f"/user/follow/{target_id}", user.headers, count)


class TestFollow:
    def test_first_follow_is_201_then_200_and_one_row(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        bob = make_user(bio="about bob", avatar="https://example.com/bob.png")
        first = follow(client, alice, bob.id)
        assert first.status_code == 201, first.text
        assert first.json() == {
            **public(client, bob),
            "bio": "about bob",
            "avatar": "https://example.com/bob.png",
        }
        assert set(first.json()) == PUBLIC_KEYS
        again = follow(client, alice, bob.id)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        assert edges(alice.id, bob.id) == 1
        assert edges() == 1

    def test_follow_yourself_is_400(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        response = follow(client, alice, alice.id)
        assert response.status_code == 400, response.text
        assert response.json() == {"detail": "You cannot follow yourself"}
        assert edges() == 0

    def test_unknown_user_is_404(self, client: TestClient, make_user: MakeUser) -> None:
        response = follow(client, make_user(), 2147483647)
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": "User not found"}
        assert edges() == 0

    def test_bad_path_id(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        for user_id in BAD_PATH_IDS:
            response = client.post(f"/user/follow/{user_id}", headers=alice.headers)
            assert response.status_code in (404, 422), (user_id, response.text)
        assert edges() == 0

    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer junk"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
        ids=["none", "junk", "basic"],
    )
    def test_without_token_is_401_and_no_row(
        self, client: TestClient, make_user: MakeUser, headers: dict[str, str]
    ) -> None:
        bob = make_user()
        response = client.post(f"/user/follow/{bob.id}", headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert edges() == 0

    def test_following_is_one_way(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        bob = make_user()
        assert follow(client, alice, bob.id).status_code == 201
        assert follow(client, bob, alice.id).status_code == 201
        assert edges(alice.id, bob.id) == edges(bob.id, alice.id) == 1
        assert edges() == 2

    def test_concurrent_follows_make_one_edge(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        bob = make_user()
        statuses = concurrent_follows(client, alice, bob.id)
        assert edges(alice.id, bob.id) == 1
        assert edges() == 1
        assert counters(client, bob)[1] == 1
        # All 2xx: exactly one request created the edge, the others found it.
        assert sorted(statuses) == [200] * 9 + [201]


class TestUnfollow:
    def test_unfollow_is_204_and_removes_the_edge(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        bob = make_user()
        assert follow(client, alice, bob.id).status_code == 201
        response = unfollow(client, alice, bob.id)
        assert response.status_code == 204, response.text
        assert response.content == b""
        assert edges() == 0
        assert follow(client, alice, bob.id).status_code == 201

    def test_unfollow_when_not_following_is_204(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        response = unfollow(client, alice, make_user().id)
        assert response.status_code == 204, response.text

    def test_unfollow_removes_only_own_edge(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        bob = make_user()
        carol = make_user()
        assert follow(client, alice, bob.id).status_code == 201
        assert follow(client, carol, bob.id).status_code == 201
        assert follow(client, bob, alice.id).status_code == 201
        assert unfollow(client, alice, bob.id).status_code == 204
        assert edges(carol.id, bob.id) == 1
        assert edges(bob.id, alice.id) == 1
        assert edges() == 2

    def test_unknown_user_is_404(self, client: TestClient, make_user: MakeUser) -> None:
        response = unfollow(client, make_user(), 2147483647)
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": "User not found"}

    def test_bad_path_id(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        for user_id in BAD_PATH_IDS:
            response = client.delete(f"/user/follow/{user_id}", headers=alice.headers)
            assert response.status_code in (404, 422), (user_id, response.text)

    def test_without_token_is_401_and_edge_stays(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        bob = make_user()
        assert follow(client, alice, bob.id).status_code == 201
        response = client.delete(f"/user/follow/{bob.id}")
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert edges() == 1


class TestProfileCounters:
    def test_counts_follow_and_unfollow(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        carol = make_user()
        make_post(alice, "hi")
        before = profile(client, alice)
        assert counters(client, alice) == (1, 0, 0)
        assert follow(client, alice, bob.id).status_code == 201
        assert follow(client, alice, carol.id).status_code == 201
        assert follow(client, bob, alice.id).status_code == 201
        assert profile(client, alice) == {
            **before,
            "followers_count": 1,
            "following_count": 2,
        }
        assert counters(client, bob) == (0, 1, 1)
        assert counters(client, carol) == (0, 1, 0)
        assert follow(client, alice, bob.id).status_code == 200  # no double count
        assert counters(client, bob) == (0, 1, 1)
        assert unfollow(client, alice, bob.id).status_code == 204
        assert counters(client, alice) == (1, 1, 1)
        assert counters(client, bob) == (0, 0, 1)


class TestFollowersAndFollowing:
    @pytest.mark.parametrize("kind", ["followers", "following"])
    def test_newest_first(self, client: TestClient, make_user: MakeUser, kind: str) -> None:
        hub = make_user()
        others = [make_user(bio=f"bio {n}") for n in range(3)]
        order = [others[1], others[2], others[0]]
        for other in order:
            if kind == "followers":
                assert follow(client, other, hub.id).status_code == 201
            else:
                assert follow(client, hub, other.id).status_code == 201
        noise = make_user()
        assert follow(client, noise, others[0].id).status_code == 201
        response = client.get(f"/user/{hub.username}/{kind}/")
        assert response.status_code == 200, response.text
        assert response.json() == [public(client, other) for other in order[::-1]]
        assert "link" not in response.headers
        assert all(set(item) == PUBLIC_KEYS for item in response.json())
        assert "example.com" not in response.text  # never an email

    @pytest.mark.parametrize("kind", ["followers", "following"])
    def test_empty(self, client: TestClient, make_user: MakeUser, kind: str) -> None:
        response = client.get(f"/user/{make_user().username}/{kind}/")
        assert response.status_code == 200, response.text
        assert response.json() == []

    def test_unfollow_leaves_both_lists(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        bob = make_user()
        assert follow(client, alice, bob.id).status_code == 201
        assert unfollow(client, alice, bob.id).status_code == 204
        assert client.get(f"/user/{bob.username}/followers/").json() == []
        assert client.get(f"/user/{alice.username}/following/").json() == []

    @pytest.mark.parametrize("kind", ["followers", "following"])
    def test_unknown_user_is_404(self, client: TestClient, kind: str) -> None:
        response = client.get(f"/user/nobody_here/{kind}/")
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": "User not found"}

    @pytest.mark.parametrize("kind", ["followers", "following"])
    def test_bad_limit_or_cursor_is_422(
        self, client: TestClient, make_user: MakeUser, kind: str
    ) -> None:
        assert_rejects_bad_paging(client, f"/user/{make_user().username}/{kind}/")

    @pytest.mark.parametrize("kind", ["followers", "following"])
    def test_link_walks_every_user_once(
        self, client: TestClient, make_user: MakeUser, kind: str
    ) -> None:
        hub = make_user()
        others = [make_user() for _ in range(5)]
        for other in others:
            follower, followed = (other, hub) if kind == "followers" else (hub, other)
            assert follow(client, follower, followed.id).status_code == 201
        url = f"/user/{hub.username}/{kind}/?limit=2"
        path, params = link_parts(client.get(url))
        assert path == f"/user/{hub.username}/{kind}/"
        assert set(params) == {"limit", "before"}
        walked = walk(client, url, limit=2)
        assert_link_only_when_more(client, f"/user/{hub.username}/{kind}/", 5)
        assert len(walked) == 3
        assert [i for page in walked for i in ids(page)] == [o.id for o in others[::-1]]

    @pytest.mark.parametrize("kind", ["followers", "following"])
    def test_default_limit_is_20(self, client: TestClient, make_user: MakeUser, kind: str) -> None:
        hub = make_user()
        others = insert_users(21)
        insert_edges([(o, hub.id) if kind == "followers" else (hub.id, o) for o in others])
        response = client.get(f"/user/{hub.username}/{kind}/")
        assert response.status_code == 200, response.text
        assert ids(response.json()) == others[::-1][:20]
        link = next_link(response)
        assert link is not None
        assert ids(client.get(link).json()) == [others[0]]

    @pytest.mark.parametrize("kind", ["followers", "following"])
    def test_paging_while_the_graph_grows(
        self, client: TestClient, make_user: MakeUser, kind: str
    ) -> None:
        hub = make_user()
        old = [make_user() for _ in range(5)]
        late = [make_user() for _ in range(3)]

        def connect(other: ApiUser) -> None:
            follower, followed = (other, hub) if kind == "followers" else (hub, other)
            assert follow(client, follower, followed.id).status_code == 201

        for other in old:
            connect(other)
        seen: list[int] = []
        url: str | None = f"/user/{hub.username}/{kind}/?limit=2"
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200, response.text
            seen += ids(response.json())
            if late:
                connect(late.pop())
            url = next_link(response)
        assert seen == [o.id for o in old[::-1]]


class TestTimeline:
    def test_posts_and_replies_of_followed_users_only(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        me = make_user()
        a = make_user()
        b = make_user()
        c = make_user()
        assert follow(client, me, a.id).status_code == 201
        assert follow(client, me, b.id).status_code == 201
        assert follow(client, c, me.id).status_code == 201
        a1 = make_post(a, "a1")
        c1 = make_post(c, "c1")
        me1 = make_post(me, "me1")
        b1 = make_post(b, "b1")
        a_reply = make_post(a, "a reply", parent_id=c1["id"])
        b_reply = make_post(b, "b reply", parent_id=me1["id"])
        make_post(c, "c reply", parent_id=a1["id"])
        response = client.get("/user/timeline", headers=me.headers)
        assert response.status_code == 200, response.text
        assert response.json() == [
            expected_post(b_reply, b, "b reply", parent_id=me1["id"]),
            expected_post(a_reply, a, "a reply", parent_id=c1["id"]),
            expected_post(b1, b, "b1"),
            expected_post(a1, a, "a1", replies=1),
        ]
        assert all(set(post) == POST_KEYS for post in response.json())
        assert "link" not in response.headers

        # c follows me, not a or b: only my posts.
        theirs = client.get("/user/timeline", headers=c.headers)
        assert ids(theirs.json()) == [me1["id"]]

        assert unfollow(client, me, a.id).status_code == 204
        after = client.get("/user/timeline", headers=me.headers)
        assert ids(after.json()) == [b_reply["id"], b1["id"]]

        assert client.delete(f"/post/{b1['id']}/", headers=b.headers).status_code == 204
        assert ids(client.get("/user/timeline", headers=me.headers).json()) == [b_reply["id"]]

    def test_with_the_trailing_slash_is_the_same_timeline(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        me = make_user()
        them = make_user()
        assert follow(client, me, them.id).status_code == 201
        for text in ["one", "two", "three"]:
            make_post(them, text)
        for query in ["", "?limit=2"]:
            plain = client.get(f"/user/timeline{query}", headers=me.headers)
            slash = client.get(f"/user/timeline/{query}", headers=me.headers)
            assert slash.status_code == 200, slash.text
            assert slash.json() == plain.json() != []
        assert [p["text"] for p in slash.json()] == ["three", "two"]
        assert slash.headers["link"] == plain.headers["link"].replace("timeline?", "timeline/?")
        anonymous = client.get("/user/timeline/")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"

    def test_empty_without_follows(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        me = make_user()
        make_post(me, "mine")
        make_post(make_user(), "someone else's")
        response = client.get("/user/timeline", headers=me.headers)
        assert response.status_code == 200, response.text
        assert response.json() == []

    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer junk"}, {"Authorization": "Bearer"}],
        ids=["none", "junk", "empty"],
    )
    def test_without_token_is_401(self, client: TestClient, headers: dict[str, str]) -> None:
        response = client.get("/user/timeline", headers=headers)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("username", ["timeline", "Timeline", "TIMELINE", "follow", "me"])
    def test_route_words_cannot_be_usernames(self, client: TestClient, username: str) -> None:
        response = client.post(
            "/user/",
            json={
                "username": username,
                "email": f"{username.lower()}@example.com",
                "password": "correct horse battery",
            },
        )
        assert response.status_code == 422, response.text
        assert sql_scalar('SELECT count(*) FROM "user"') == 0

    def test_bad_limit_or_cursor_is_422(self, client: TestClient, make_user: MakeUser) -> None:
        assert_rejects_bad_paging(client, "/user/timeline", headers=make_user().headers)

    def test_link_walks_every_post_once(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        me = make_user()
        a = make_user()
        b = make_user()
        assert follow(client, me, a.id).status_code == 201
        assert follow(client, me, b.id).status_code == 201
        posts = [make_post(a if n % 2 else b, f"p{n}") for n in range(5)]
        first = client.get("/user/timeline", params={"limit": 2}, headers=me.headers)
        assert link_parts(first) == (
            "/user/timeline",
            {"limit": "2", "before": str(posts[3]["id"])},
        )
        walked = walk(client, "/user/timeline?limit=2", limit=2, headers=me.headers)
        assert_link_only_when_more(client, "/user/timeline", 5, headers=me.headers)
        assert len(walked) == 3
        assert [i for page in walked for i in ids(page)] == ids(posts[::-1])

    def test_default_limit_is_20(self, client: TestClient, make_user: MakeUser) -> None:
        me = make_user()
        a = make_user()
        assert follow(client, me, a.id).status_code == 201
        posts = insert_posts(a, 21)
        response = client.get("/user/timeline", headers=me.headers)
        assert response.status_code == 200, response.text
        assert ids(response.json()) == posts[::-1][:20]
        link = next_link(response)
        assert link is not None
        assert ids(client.get(link, headers=me.headers).json()) == [posts[0]]

    def test_paging_while_followed_users_post(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        me = make_user()
        a = make_user()
        assert follow(client, me, a.id).status_code == 201
        old = [make_post(a, f"old {n}") for n in range(5)]
        seen: list[int] = []
        url: str | None = "/user/timeline?limit=2"
        while url is not None:
            response = client.get(url, headers=me.headers)
            assert response.status_code == 200, response.text
            seen += ids(response.json())
            make_post(a, "new while paging")
            url = next_link(response)
        assert seen == ids(old[::-1])


# -- Query plans --------------------------------------------------------------

EXPECTED_INDEXES = {
    "home": "ix_post_home",
    "home page 2": "ix_post_home",
    "user posts": "ix_post_user_",
    "user posts+replies": "ix_post_user_",
    "post": "ix_post_parent_id_id",
    "timeline": "ix_post_user_visible",
    "timeline page 2": "ix_post_user_visible",
}
SEQ_SCAN = re.compile(r'Seq Scan on "?(post|like|social)"?\b')
LIMIT = 21  # a page of 20 plus the one that tells whether a next page exists


# 1,000 users with about 8 posts (half of them replies) and 8 likes each, and
# 10 followed users each; every 50th post deleted.
BULK_SQL = [
    """INSERT INTO "user" (email, username, password, created_at)
       SELECT 'bulk' || g || '@example.com', 'bulk' || g, 'x', now()
       FROM generate_series(1, 1000) g""",
    """INSERT INTO post (text, date, user_id)
       SELECT 'post ' || g, now(), (SELECT min(id) FROM "user") + mod(g, 1000)
       FROM generate_series(1, 4000) g""",
    """INSERT INTO post (text, date, user_id, parent_id)
       SELECT 'reply ' || g, now(), (SELECT min(id) FROM "user") + mod(g * 7, 1000),
              (SELECT min(id) FROM post) + mod(g, 4000)
       FROM generate_series(1, 4000) g""",
    "UPDATE post SET deleted_at = now() WHERE mod(id, 50) = 0",
    """INSERT INTO "like" (user_id, post_id, date)
       SELECT (SELECT min(id) FROM "user") + mod(g, 1000),
              (SELECT min(id) FROM post) + mod(g * 7, 8000), now()
       FROM generate_series(1, 8000) g""",
    """INSERT INTO social (from_id, to_id, date)
       SELECT u0 + g / 10, u0 + mod(g / 10 + 1 + mod(g, 10), 1000), now()
       FROM generate_series(0, 9999) g, (SELECT min(id) AS u0 FROM "user") m""",
    'ANALYZE "user", post, "like", social',
]


@pytest.mark.postgres_only
def test_list_queries_use_indexes(backend: str) -> None:
    engine = get_engine()
    with engine.begin() as conn:
        for statement in BULK_SQL:
            conn.exec_driver_sql(statement)
    with engine.connect() as conn:
        user_id = conn.execute(select(func.min(User.id))).scalar_one() + 7
        post_id = (
            conn.execute(
                select(func.min(Post.id)).where(col(Post.parent_id).is_(None))
            ).scalar_one()
            + 5
        )
        assert conn.execute(select(func.count()).select_from(Post)).scalar_one() == 8000
        username = conn.execute(
            select(col(User.username)).where(col(User.id) == user_id)
        ).scalar_one()
        reply_id = conn.execute(
            select(func.min(Post.id)).where(col(Post.parent_id) == post_id)
        ).scalar_one()
        page = {"before": MAX_ID + 1, "limit": LIMIT}
        # The statements the routes run, with a request's parameters.
        statements: dict[str, tuple[Any, dict[str, Any]]] = {
            "home": (posts.home_statement(), page),
            "home page 2": (posts.home_statement(), {**page, "before": post_id + 3000}),
            "user posts": (posts.user_posts_statement(False), {"name": username.lower(), **page}),
            "user posts+replies": (
                posts.user_posts_statement(True),
                {"name": username.lower(), **page},
            ),
            "post": (
                posts.post_with_replies_statement(),
                {"id": post_id, "after": 0, "limit": LIMIT},
            ),
            "post, replies page 2": (
                posts.post_with_replies_statement(),
                {"id": post_id, "after": reply_id, "limit": LIMIT},
            ),
            "timeline": (posts.timeline_statement("postgresql"), {"user_id": user_id, **page}),
            "timeline page 2": (
                posts.timeline_statement("postgresql"),
                {"user_id": user_id, **page, "before": post_id + 6000},
            ),
            "profile": (users.profile_by_name_statement(), {"name": username.lower()}),
            "user by id": (users.by_id_statement(), {"id": user_id}),
            "likes of user": (posts.likes_statement(), {"user_id": user_id, **page}),
            "followers": (social.graph_statement("followers"), {"id": user_id, **page}),
            "following": (social.graph_statement("following"), {"id": user_id, **page}),
            # The Mastodon face's lists, and its oldest-first pages (min_id).
            "public timeline": (posts.public_statement(), page),
            "public timeline, forward": (
                posts.public_statement(newest=False),
                {"after": post_id, "limit": LIMIT},
            ),
            "home timeline": (
                posts.timeline_statement("postgresql", True),
                {"user_id": user_id, **page},
            ),
            "home timeline, forward": (
                posts.timeline_statement("postgresql", True, newest=False),
                {"user_id": user_id, "after": post_id, "limit": LIMIT},
            ),
            "user threads": (
                posts.user_posts_statement(False, own_threads=True),
                {"name": username.lower(), **page},
            ),
            "user threads, forward": (
                posts.user_posts_statement(False, True, newest=False),
                {"name": username.lower(), "after": post_id, "limit": LIMIT},
            ),
            "profiles": (users.profiles_statement("postgresql"), {"ids": [user_id, 3, 9]}),
            "authors": (posts.authors_statement("postgresql"), {"ids": [post_id, 3, 9]}),
        }
        plans = {}
        for name, (statement, params) in statements.items():
            sql = str(
                statement.params(**params).compile(
                    dialect=conn.dialect, compile_kwargs={"literal_binds": True}
                )
            )
            assert conn.exec_driver_sql(sql).all() is not None  # the SQL runs as compiled
            plans[name] = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
        # The request path's prepared statements run a generic plan, made without
        # the parameters' values, under its session settings: it must use the
        # indexes as well.
        for setting, value in SESSION_SETTINGS.items():
            conn.exec_driver_sql(f"SET {setting} = {value}")
        for name, (statement, params) in statements.items():
            compiled = statement.compile(dialect=PGDialect_asyncpg())  # $1, $2, ...
            conn.exec_driver_sql(f"PREPARE generic AS {compiled.string}")
            values = ", ".join(
                f"'{params[key]}'"
                if isinstance(params[key], str)
                else f"ARRAY{params[key]}"
                if isinstance(params[key], list)
                else str(params[key])
                for key in compiled.positiontup or ()
            )
            explain = f"EXPLAIN EXECUTE generic({values})" if values else "EXPLAIN EXECUTE generic"
            plans[f"{name} (generic)"] = "\n".join(row[0] for row in conn.exec_driver_sql(explain))
            conn.exec_driver_sql("DEALLOCATE generic")
        for setting in SESSION_SETTINGS:
            conn.exec_driver_sql(f"RESET {setting}")
    scans = {name: SEQ_SCAN.findall(plan) for name, plan in plans.items()}
    assert {name: found for name, found in scans.items() if found} == {}, plans
    # Starting parallel workers costs milliseconds, a request's whole budget.
    assert [name for name, plan in plans.items() if "(generic)" in name and "Gather" in plan] == []
    # No Seq Scan is not enough: walking a whole index backwards while
    # filtering would be as slow. The lists start from the index made for them.
    for name, index in EXPECTED_INDEXES.items():
        for planned in (name, f"{name} (generic)"):
            assert index in plans[planned], (planned, plans[planned])
