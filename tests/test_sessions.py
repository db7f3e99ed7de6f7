"""Sessions a person can end (/logout, /user/me/sessions/, refresh rotation,
password changes) and idempotent posting (Idempotency-Key)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.conftest import LoopClient, get_engine
from tests.conftest import TestUser as ApiUser

MakeUser = Callable[..., ApiUser]
MakePost = Callable[..., dict[str, Any]]


def log_in(client: TestClient, user: ApiUser, agent: str = "pytest") -> dict[str, str]:
    response = client.post(
        "/token",
        data={"username": user.username, "password": user.password},
        headers={"User-Agent": agent},
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def bearer(pair: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def refresh(client: TestClient, pair: dict[str, str]) -> Any:
    return client.post("/refresh_token", json={"refresh_token": pair["refresh_token"]})


def works(client: TestClient, pair: dict[str, str]) -> bool:
    """Whether the pair's access token is accepted."""
    status = client.get("/user/me/", headers=bearer(pair)).status_code
    assert status in (200, 401)
    return status == 200


def session_id(pair: dict[str, str]) -> int:
    return int(jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"])


def open_sessions(user_id: int) -> int:
    with get_engine().connect() as conn:
        query = text("SELECT count(*) FROM session WHERE user_id = :u AND ended_at IS NULL")
        return int(conn.execute(query, {"u": user_id}).scalar_one())


class TestLogout:
    def test_ends_the_session_of_the_token_only(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        phone, laptop = log_in(client, alice), log_in(client, alice)
        response = client.post("/logout", headers=bearer(phone))
        assert response.status_code == 204, response.text
        assert response.content == b""
        assert not works(client, phone)
        assert refresh(client, phone).status_code == 401
        assert works(client, laptop)
        assert refresh(client, laptop).status_code == 200

    def test_a_token_verified_before_is_refused_after(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        # The worker remembers the token's signature from the first request;
        # the session's end is checked all the same.
        alice = make_user()
        pair = log_in(client, alice)
        for _ in range(3):
            assert works(client, pair)
        assert client.post("/logout", headers=bearer(pair)).status_code == 204
        assert not works(client, pair)
        headers = bearer(pair)
        assert client.post("/post/", json={"text": "x"}, headers=headers).status_code == 401
        assert client.get("/user/timeline", headers=headers).status_code == 401
        assert client.post("/logout", headers=headers).status_code == 401

    def test_needs_a_token(self, client: TestClient) -> None:
        response = client.post("/logout")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


class TestRefreshRotation:
    def test_each_refresh_token_is_good_once_and_a_replay_ends_the_session(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        first = log_in(client, alice)
        other = log_in(client, alice)
        response = refresh(client, first)
        assert response.status_code == 200, response.text
        second = response.json()
        assert session_id(second) == session_id(first)
        assert works(client, second)
        # The spent token again: a thief or a replay. The whole session ends,
        # the tokens just issued included.
        replay = refresh(client, first)
        assert replay.status_code == 401
        assert replay.json() == {"detail": "Could not validate credentials"}
        assert not works(client, second)
        assert refresh(client, second).status_code == 401
        assert not works(client, first)
        # Another session of the same user is not touched.
        assert works(client, other)
        assert open_sessions(alice.id) == 1

    def test_a_chain_of_refreshes_keeps_one_session(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        pair = log_in(client, alice)
        for _ in range(4):
            response = refresh(client, pair)
            assert response.status_code == 200, response.text
            pair = response.json()
        assert works(client, pair)
        assert open_sessions(alice.id) == 1

    def test_concurrent_replays_give_at_most_one_new_pair(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        pair = log_in(client, alice)
        body = {"json": {"refresh_token": pair["refresh_token"]}}
        answers = LoopClient(client).together([("POST", "/refresh_token", body)] * 5)
        statuses = sorted(response.status_code for response in answers)
        assert statuses.count(200) <= 1
        assert set(statuses) <= {200, 401}


class TestPasswordChange:
    def test_ends_every_other_session(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        here, elsewhere, another = (log_in(client, alice) for _ in range(3))
        change = {"password": "a brand new password", "current_password": alice.password}
        response = client.patch("/user/me/", json=change, headers=bearer(here))
        assert response.status_code == 200, response.text
        assert works(client, here)
        assert refresh(client, here).status_code == 200
        for pair in (elsewhere, another):
            assert not works(client, pair)
            assert refresh(client, pair).status_code == 401
        assert open_sessions(alice.id) == 1

    def test_other_changes_end_nothing(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        here, elsewhere = log_in(client, alice), log_in(client, alice)
        response = client.patch("/user/me/", json={"bio": "hello"}, headers=bearer(here))
        assert response.status_code == 200, response.text
        assert works(client, elsewhere)

    def test_a_wrong_current_password_ends_nothing(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        here, elsewhere = log_in(client, alice), log_in(client, alice)
        change = {"password": "a brand new password", "current_password": "not it at all"}
        response = client.patch("/user/me/", json=change, headers=bearer(here))
        assert response.status_code == 403, response.text
        assert works(client, elsewhere)


class TestMySessions:
    def test_lists_open_sessions_newest_first_with_the_current_one(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice, bob = make_user(), make_user()
        phone = log_in(client, alice, "Phone/1.0")
        laptop = log_in(client, alice, "Laptop/2.0")
        log_in(client, bob)
        response = client.get("/user/me/sessions/", headers=bearer(laptop))
        assert response.status_code == 200, response.text
        body = response.json()
        assert [s["id"] for s in body] == [session_id(laptop), session_id(phone)]
        assert [s["client"] for s in body] == ["Laptop/2.0", "Phone/1.0"]
        assert [s["current"] for s in body] == [True, False]
        assert set(body[0]) == {"id", "client", "created_at", "last_used_at", "current"}
        for session in body:
            created = datetime.fromisoformat(session["created_at"])
            assert datetime.now(UTC) - created < timedelta(minutes=1)

    def test_last_used_moves_with_a_refresh(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        pair = log_in(client, alice)
        before = client.get("/user/me/sessions/", headers=bearer(pair)).json()[0]
        pair = refresh(client, pair).json()
        after = client.get("/user/me/sessions/", headers=bearer(pair)).json()[0]
        assert after["created_at"] == before["created_at"]
        assert after["last_used_at"] > before["last_used_at"]

    def test_ending_one_refuses_its_tokens(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        phone, laptop = log_in(client, alice), log_in(client, alice)
        url = f"/user/me/sessions/{session_id(phone)}"
        assert client.delete(url, headers=bearer(laptop)).status_code == 204
        assert not works(client, phone)
        assert refresh(client, phone).status_code == 401
        assert works(client, laptop)
        ids = [s["id"] for s in client.get("/user/me/sessions/", headers=bearer(laptop)).json()]
        assert ids == [session_id(laptop)]
        # Already ended: nothing to end.
        assert client.delete(url, headers=bearer(laptop)).status_code == 404

    def test_nobody_ends_someone_elses_session(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice, mallory = make_user(), make_user()
        victim = log_in(client, alice)
        attacker = log_in(client, mallory)
        url = f"/user/me/sessions/{session_id(victim)}"
        response = client.delete(url, headers=bearer(attacker))
        assert response.status_code == 404
        assert response.json() == {"detail": "Session not found"}
        assert works(client, victim)
        for bad in ("0", "-1", "abc", str(2**31)):
            assert (
                client.delete(f"/user/me/sessions/{bad}", headers=bearer(attacker)).status_code
                == 422
            )

    def test_needs_a_token(self, client: TestClient) -> None:
        assert client.get("/user/me/sessions/").status_code == 401
        assert client.delete("/user/me/sessions/1").status_code == 401


class TestIdempotentPosting:
    def post(self, client: TestClient, user: ApiUser, key: str | None, **body: Any) -> Any:
        headers = {**user.headers, **({"Idempotency-Key": key} if key is not None else {})}
        return client.post("/post/", json={"text": "hello", **body}, headers=headers)

    def post_rows(self) -> int:
        with get_engine().connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM post")).scalar_one())

    def test_a_repeat_answers_the_first_post_and_stores_nothing(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        first = self.post(client, alice, "key-1")
        assert first.status_code == 201, first.text
        again = self.post(client, alice, "key-1")
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        assert self.post_rows() == 1
        # Another key, or none: a new post each time.
        assert self.post(client, alice, "key-2").status_code == 201
        assert self.post(client, alice, None).status_code == 201
        assert self.post_rows() == 3

    def test_the_same_key_with_another_body_is_422(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        parent = make_post(alice, "parent")
        assert self.post(client, alice, "k").status_code == 201
        for changed in ({"text": "goodbye"}, {"parent_id": parent["id"]}):
            response = self.post(client, alice, "k", **changed)
            assert response.status_code == 422, response.text
            assert response.json() == {
                "detail": "Idempotency-Key was already used with another request"
            }
        assert self.post_rows() == 2

    def test_keys_belong_to_their_user(self, client: TestClient, make_user: MakeUser) -> None:
        alice, bob = make_user(), make_user()
        mine = self.post(client, alice, "shared")
        theirs = self.post(client, bob, "shared")
        assert (mine.status_code, theirs.status_code) == (201, 201)
        assert theirs.json()["username"] == bob.username

    def test_a_key_older_than_a_day_is_spent(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        assert self.post(client, alice, "old").status_code == 201
        with get_engine().begin() as conn:
            day_ago = datetime.now(UTC) - timedelta(hours=24, seconds=1)
            conn.execute(text("UPDATE idempotency_key SET created_at = :t"), {"t": day_ago})
        assert self.post(client, alice, "old").status_code == 201
        assert self.post(client, alice, "old").status_code == 200
        assert self.post_rows() == 2

    def test_concurrent_repeats_make_one_post(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        headers = {**alice.headers, "Idempotency-Key": "burst"}
        call = ("POST", "/post/", {"json": {"text": "once"}, "headers": headers})
        answers = LoopClient(client).together([call] * 8)
        statuses = sorted(response.status_code for response in answers)
        assert statuses == [200] * 7 + [201], [r.text for r in answers]
        assert len({response.json()["id"] for response in answers}) == 1
        assert self.post_rows() == 1

    @pytest.mark.parametrize("key", ["", "k" * 256])
    def test_a_key_of_bad_length_is_422(
        self, client: TestClient, make_user: MakeUser, key: str
    ) -> None:
        response = self.post(client, make_user(), key)
        assert response.status_code == 422, response.text
        assert self.post_rows() == 0

    def test_the_header_is_documented(self, client: TestClient) -> None:
        operation = client.get("/openapi.json").json()["paths"]["/post/"]["post"]
        names = [p["name"] for p in operation["parameters"]]
        assert "Idempotency-Key" in names
        assert "200" in operation["responses"]
