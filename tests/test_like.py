"""Likes: /post/{id}/like/, /post/likes/{username}/ and likes_count."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import insert

from pamps.config import settings
from pamps.models import Like
from tests.conftest import LoopClient, get_engine
from tests.conftest import TestUser as ApiUser
from tests.test_post import (
    BAD_PATH_IDS,
    BAD_USERNAMES,
    POST_KEYS,
    assert_link_only_when_more,
    assert_recent,
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


def like_rows(post_id: int | None = None, user_id: int | None = None) -> int:
    """Like rows in SQL, optionally of one post and/or one user."""
    where = {"post_id": post_id, "user_id": user_id}
    clauses = [f"{name} = :{name}" for name, value in where.items() if value is not None]
    query = 'SELECT count(*) FROM "like"' + (" WHERE " + " AND ".join(clauses) if clauses else "")
    return sql_scalar(query, **{k: v for k, v in where.items() if v is not None})


def likes_count(client: TestClient, post_id: int) -> int:
    response = client.get(f"/post/{post_id}/")
    assert response.status_code == 200, response.text
    return response.json()["likes_count"]


def like(client: TestClient, user: ApiUser, post_id: int) -> httpx.Response:
    return client.post(f"/post/{post_id}/like/", headers=user.headers)


def unlike(client: TestClient, user: ApiUser, post_id: int) -> httpx.Response:
    return client.delete(f"/post/{post_id}/like/", headers=user.headers)


def concurrent_likes(client: TestClient, post_id: int, user: ApiUser, count: int = 10) -> list[int]:
    """``count`` simultaneous likes by one user, each through its own client."""
    return concurrent_posts(client, f"/post/{post_id}/like/", user.headers, count)


def test_the_same_answers_in_one_statement_or_two(
    client: TestClient, make_user: MakeUser, make_post: MakePost
) -> None:
    """``db.like_in_one_statement`` (PostgreSQL) against the plain path."""
    answers = []
    saved = settings.db.like_in_one_statement
    try:
        for one in (True, False):
            settings.set("db.like_in_one_statement", one)
            alice, bob = make_user(), make_user()
            post = make_post(alice, "like me")
            reply = make_post(bob, "a reply", parent_id=post["id"])
            gone = make_post(alice, "gone")
            assert client.delete(f"/post/{gone['id']}/", headers=alice.headers).is_success
            tried = [
                (bob, post["id"]),
                (bob, post["id"]),
                (alice, post["id"]),
                (alice, reply["id"]),
                (bob, gone["id"]),
                (bob, 999_999),
            ]
            seen = []
            for user, post_id in tried:
                answer = like(client, user, post_id)
                body = answer.json()
                if isinstance(body, dict) and "id" in body:  # ids and dates differ
                    body = {k: v for k, v in body.items() if k not in ("id", "date", "user_id")}
                    body["username"] = body["username"] == post["username"]
                    body["parent_id"] = body["parent_id"] is not None
                seen.append((answer.status_code, body))
            answers.append((seen, like_rows(post["id"]), likes_count(client, post["id"])))
    finally:
        settings.set("db.like_in_one_statement", saved)
    assert answers[0] == answers[1]
    assert [status for status, _ in answers[0][0]] == [201, 200, 201, 201, 404, 404]
    assert answers[0][1:] == (2, 2)


class TestLike:
    def test_first_like_is_201_then_200_and_one_row(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        post = make_post(alice, "like me")
        first = like(client, bob, post["id"])
        assert first.status_code == 201, first.text
        assert first.json() == {**post, "likes_count": 1}
        again = like(client, bob, post["id"])
        assert again.status_code == 200, again.text
        assert again.json() == {**post, "likes_count": 1}
        assert like_rows(post["id"], bob.id) == 1
        assert like_rows() == 1
        assert likes_count(client, post["id"]) == 1

    def test_likes_of_several_users_are_counted_everywhere(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        carol = make_user()
        post = make_post(alice, "popular")
        reply = make_post(bob, "a reply", parent_id=post["id"])
        for user in (alice, bob, carol):
            assert like(client, user, post["id"]).status_code == 201
        assert like(client, carol, reply["id"]).status_code == 201
        assert like_rows(post["id"]) == 3
        assert client.get("/post/").json() == [{**post, "likes_count": 3, "replies_count": 1}]
        assert client.get(f"/post/user/{alice.username}/").json()[0]["likes_count"] == 3
        detail = client.get(f"/post/{post['id']}/").json()
        assert detail["likes_count"] == 3
        assert detail["replies"] == [{**reply, "likes_count": 1}]
        assert client.post(f"/user/follow/{alice.id}", headers=carol.headers).status_code == 201
        timeline = client.get("/user/timeline", headers=carol.headers).json()
        assert [p["likes_count"] for p in timeline] == [3]

    def test_own_post_can_be_liked(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "mine")
        response = like(client, alice, post["id"])
        assert response.status_code == 201, response.text
        assert response.json()["likes_count"] == 1

    def test_without_token_is_401_and_no_row(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        post = make_post(make_user(), "x")
        response = client.post(f"/post/{post['id']}/like/")
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        bad = client.post(f"/post/{post['id']}/like/", headers={"Authorization": "Bearer junk"})
        assert bad.status_code == 401, bad.text
        assert like_rows() == 0

    def test_missing_post_is_404(self, client: TestClient, make_user: MakeUser) -> None:
        response = like(client, make_user(), 2147483647)
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": "Post not found"}
        assert like_rows() == 0

    def test_deleted_post_is_404_and_no_row(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        post = make_post(alice, "gone")
        assert client.delete(f"/post/{post['id']}/", headers=alice.headers).status_code == 204
        response = like(client, bob, post["id"])
        assert response.status_code == 404, response.text
        assert like_rows() == 0

    def test_bad_path_id(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        for post_id in BAD_PATH_IDS:
            response = client.post(f"/post/{post_id}/like/", headers=alice.headers)
            assert response.status_code in (404, 422), (post_id, response.text)
        assert like_rows() == 0

    def test_concurrent_likes_of_one_user_make_one_row(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        post = make_post(make_user(), "race")
        bob = make_user()
        statuses = concurrent_likes(client, post["id"], bob)
        assert like_rows(post["id"], bob.id) == 1
        assert likes_count(client, post["id"]) == like_rows(post["id"]) == 1
        # All 2xx: exactly one request created the like, the others found it.
        assert sorted(statuses) == [200] * 9 + [201]

    def test_like_unlike_storm_ends_with_count_equal_to_rows(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        post = make_post(make_user(), "storm")
        users = [make_user() for _ in range(6)]
        url = f"/post/{post['id']}/like/"
        storms = [
            [
                ("POST" if step % 2 == 0 else "DELETE", url, {"headers": user.headers})
                for step in range(5 if index % 2 else 4)
            ]
            for index, user in enumerate(users)
        ]
        answers = LoopClient(client).sequences(storms)
        results = [[response.status_code for response in run] for run in answers]
        # Odd users end on a like, even ones on an unlike.
        for statuses in results:
            assert all(200 <= status < 300 for status in statuses), results
            assert statuses[:4] == [201, 204, 201, 204]
        assert like_rows(post["id"]) == 3
        assert [like_rows(post["id"], user.id) for user in users] == [0, 1, 0, 1, 0, 1]
        assert likes_count(client, post["id"]) == 3


class TestUnlike:
    def test_unlike_is_204_and_removes_the_row(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        post = make_post(alice, "x")
        assert like(client, bob, post["id"]).status_code == 201
        response = unlike(client, bob, post["id"])
        assert response.status_code == 204, response.text
        assert response.content == b""
        assert like_rows() == 0
        assert likes_count(client, post["id"]) == 0
        assert client.get(f"/post/likes/{bob.username}/").json() == []
        assert like(client, bob, post["id"]).status_code == 201

    def test_unlike_when_not_liked_is_204(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "x")
        response = unlike(client, make_user(), post["id"])
        assert response.status_code == 204, response.text
        assert unlike(client, alice, post["id"]).status_code == 204

    def test_unlike_removes_only_own_like(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        carol = make_user()
        post = make_post(alice, "x")
        assert like(client, bob, post["id"]).status_code == 201
        assert like(client, carol, post["id"]).status_code == 201
        assert unlike(client, alice, post["id"]).status_code == 204
        assert unlike(client, bob, post["id"]).status_code == 204
        assert like_rows(post["id"]) == 1
        assert like_rows(post["id"], carol.id) == 1
        assert likes_count(client, post["id"]) == 1

    def test_without_token_is_401_and_like_stays(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "x")
        assert like(client, alice, post["id"]).status_code == 201
        response = client.delete(f"/post/{post['id']}/like/")
        assert response.status_code == 401, response.text
        assert like_rows() == 1

    def test_deleted_post_is_404(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice, "x")
        assert client.delete(f"/post/{post['id']}/", headers=alice.headers).status_code == 204
        assert unlike(client, alice, post["id"]).status_code == 404

    def test_missing_post_is_404(self, client: TestClient, make_user: MakeUser) -> None:
        assert unlike(client, make_user(), 2147483647).status_code == 404

    def test_bad_path_id(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        for post_id in BAD_PATH_IDS:
            response = client.delete(f"/post/{post_id}/like/", headers=alice.headers)
            assert response.status_code in (404, 422), (post_id, response.text)


class TestUserLikes:
    def test_most_recent_like_first_with_liked_at(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        p1 = make_post(alice, "one")
        p2 = make_post(bob, "two")
        p3 = make_post(alice, "three", parent_id=p1["id"])
        make_post(alice, "not liked")
        for post in (p1, p3, p2):
            assert like(client, bob, post["id"]).status_code == 201
        response = client.get(f"/post/likes/{bob.username}/")
        assert response.status_code == 200, response.text
        body = response.json()
        assert all(set(item) == POST_KEYS | {"liked_at"} for item in body)
        liked_at = [assert_recent(item["liked_at"]) for item in body]
        assert liked_at == sorted(liked_at, reverse=True)
        assert body == [
            {**expected_post(p2, bob, "two", likes=1), "liked_at": body[0]["liked_at"]},
            {
                **expected_post(p3, alice, "three", parent_id=p1["id"], likes=1),
                "liked_at": body[1]["liked_at"],
            },
            {
                **expected_post(p1, alice, "one", likes=1, replies=1),
                "liked_at": body[2]["liked_at"],
            },
        ]
        assert "link" not in response.headers

    def test_relike_moves_post_to_the_top(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        p1 = make_post(alice, "one")
        p2 = make_post(alice, "two")
        assert like(client, alice, p1["id"]).status_code == 201
        assert like(client, alice, p2["id"]).status_code == 201
        # Already liked: the like keeps its place.
        assert like(client, alice, p1["id"]).status_code == 200
        assert ids(client.get(f"/post/likes/{alice.username}/").json()) == [p2["id"], p1["id"]]
        assert unlike(client, alice, p1["id"]).status_code == 204
        assert like(client, alice, p1["id"]).status_code == 201
        assert ids(client.get(f"/post/likes/{alice.username}/").json()) == [p1["id"], p2["id"]]

    def test_only_that_users_likes(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        p1 = make_post(alice, "one")
        p2 = make_post(alice, "two")
        assert like(client, alice, p1["id"]).status_code == 201
        assert like(client, bob, p2["id"]).status_code == 201
        assert ids(client.get(f"/post/likes/{alice.username}/").json()) == [p1["id"]]
        assert ids(client.get(f"/post/likes/{bob.username.upper()}/").json()) == [p2["id"]]

    def test_user_without_likes(self, client: TestClient, make_user: MakeUser) -> None:
        response = client.get(f"/post/likes/{make_user().username}/")
        assert response.status_code == 200, response.text
        assert response.json() == []

    def test_deleted_posts_are_left_out(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        kept = make_post(alice, "kept")
        gone = make_post(alice, "gone")
        for post in (kept, gone):
            assert like(client, bob, post["id"]).status_code == 201
        assert client.delete(f"/post/{gone['id']}/", headers=alice.headers).status_code == 204
        assert ids(client.get(f"/post/likes/{bob.username}/").json()) == [kept["id"]]

    def test_unknown_user_is_404(self, client: TestClient) -> None:
        response = client.get("/post/likes/nobody_here/")
        assert response.status_code == 404, response.text
        assert response.json() == {"detail": "User not found"}

    def test_odd_usernames_are_404_or_422(self, client: TestClient) -> None:
        for username in BAD_USERNAMES:
            response = client.get(f"/post/likes/{username}/")
            assert response.status_code in (404, 422), (username, response.text)

    def test_bad_limit_or_cursor_is_422(self, client: TestClient, make_user: MakeUser) -> None:
        assert_rejects_bad_paging(client, f"/post/likes/{make_user().username}/")

    def test_link_walks_every_like_once(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        posts = [make_post(alice, f"p{n}") for n in range(5)]
        for post in posts[::-1]:  # like the oldest last: likes order differs from post order
            assert like(client, alice, post["id"]).status_code == 201
        first = client.get(f"/post/likes/{alice.username}/", params={"limit": 2})
        path, params = link_parts(first)
        assert path == f"/post/likes/{alice.username}/"
        assert set(params) == {"limit", "before"}
        assert params["limit"] == "2"
        walked = walk(client, f"/post/likes/{alice.username}/?limit=2", limit=2)
        assert_link_only_when_more(client, f"/post/likes/{alice.username}/", 5)
        assert len(walked) == 3
        assert [i for page in walked for i in ids(page)] == ids(posts)

    def test_default_limit_is_20(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        posts = insert_posts(alice, 21)
        with get_engine().begin() as conn:
            conn.execute(
                insert(Like),
                [{"user_id": alice.id, "post_id": p, "date": datetime.now(UTC)} for p in posts],
            )
        response = client.get(f"/post/likes/{alice.username}/")
        assert response.status_code == 200, response.text
        assert ids(response.json()) == posts[::-1][:20]
        link = next_link(response)
        assert link is not None
        assert ids(client.get(link).json()) == [posts[0]]

    def test_paging_while_user_likes_more(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        bob = make_user()
        old = [make_post(alice, f"old {n}") for n in range(5)]
        for post in old:
            assert like(client, bob, post["id"]).status_code == 201
        seen: list[int] = []
        url: str | None = f"/post/likes/{bob.username}/?limit=2"
        while url is not None:
            response = client.get(url)
            assert response.status_code == 200, response.text
            seen += ids(response.json())
            fresh = make_post(alice, "new while paging")
            assert like(client, bob, fresh["id"]).status_code == 201
            url = next_link(response)
        assert seen == ids(old[::-1])
