"""The token's session checked with a route's first statement (Guarded,
``db.fold_session_check``): every route that folds the check refuses a token
whose session ended, writes nothing for it, answers as the check alone does,
and runs one statement fewer."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.sql.expression import Executable

from pamps.auth import viewer
from pamps.config import settings
from pamps.database import Guarded, Params, Row
from pamps.errors import Unauthorized
from pamps.models import Post
from pamps.routes import MASTODON_ROUTERS, MOUNTS
from pamps.services import sessions
from tests.conftest import TestUser, get_engine, setting_as
from tests.test_sessions import session_id

MakeUser = Callable[..., TestUser]
MakePost = Callable[..., dict[str, Any]]

# Each route that takes the Viewer, with a request it answers 2xx to.
FOLDING = {
    ("GET", "/user/timeline"): lambda post: ("GET", "/user/timeline", {}),
    ("GET", "/user/timeline/"): lambda post: ("GET", "/user/timeline/", {}),
    ("POST", "/post/"): lambda post: ("POST", "/post/", {"json": {"text": "hi"}}),
    ("POST", "/post/{id}/like/"): lambda post: ("POST", f"/post/{post['id']}/like/", {}),
    ("DELETE", "/post/{id}/like/"): lambda post: ("DELETE", f"/post/{post['id']}/like/", {}),
}


@pytest.fixture(params=[True, False], ids=["folded", "alone"])
def fold(request: pytest.FixtureRequest) -> Iterator[bool]:
    with setting_as("db.fold_session_check", request.param):
        yield request.param


def takes_viewer(route: APIRoute) -> bool:
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is viewer:
            return True
        pending += dependant.dependencies
    return False


def test_every_route_that_folds_the_check_is_tested() -> None:
    mounts = [(router, prefix) for router, prefix, _tags in MOUNTS]
    found = {
        (method, prefix + route.path)
        for router, prefix in mounts + [(router, "") for router in MASTODON_ROUTERS]
        for route in router.routes
        if isinstance(route, APIRoute) and takes_viewer(route)
        for method in route.methods
    }
    assert found == set(FOLDING)


def count(table: str, where: str = "true") -> int:
    with get_engine().connect() as conn:
        return int(conn.execute(text(f'SELECT count(*) FROM "{table}" WHERE {where}')).scalar())


def ended(client: TestClient, user: TestUser) -> dict[str, str]:
    headers = user.headers
    assert client.post("/logout", headers=headers).status_code == 204
    return headers


@pytest.mark.usefixtures("fold")
class TestEndedSession:
    @pytest.mark.parametrize("route", list(FOLDING))
    def test_refused_and_nothing_written(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost, route: Any
    ) -> None:
        alice, bob = make_user(), make_user()
        post = make_post(bob)
        assert client.post(f"/user/follow/{bob.id}", headers=alice.headers).status_code == 201
        method, url, kwargs = FOLDING[route](post)
        if method == "DELETE":  # something to undo
            assert client.post(f"/post/{post['id']}/like/", headers=alice.headers).is_success
        assert client.request(method, url, headers=alice.headers, **kwargs).is_success
        before = count("post"), count("like")
        headers = ended(client, alice)
        response = client.request(method, url, headers=headers, **kwargs)
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert (count("post"), count("like")) == before

    def test_an_empty_timeline_page(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        assert client.get("/user/timeline", headers=alice.headers).json() == []
        assert client.get("/user/timeline", headers=ended(client, alice)).status_code == 401

    def test_liking_a_post_liked_already(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        alice = make_user()
        post = make_post(alice)
        url = f"/post/{post['id']}/like/"
        assert client.post(url, headers=alice.headers).status_code == 201
        assert client.post(url, headers=alice.headers).status_code == 200
        assert client.post(url, headers=ended(client, alice)).status_code == 401

    def test_a_reply_to_a_missing_post_is_refused_before_not_found(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user()
        body = {"text": "hi", "parent_id": 999_999}
        assert client.post("/post/", json=body, headers=alice.headers).status_code == 404
        response = client.post("/post/", json=body, headers=ended(client, alice))
        assert response.status_code == 401

    def test_an_idempotent_post(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        headers = ended(client, alice) | {"Idempotency-Key": "k1"}
        assert client.post("/post/", json={"text": "hi"}, headers=headers).status_code == 401
        assert count("post") == 0
        assert count("idempotency_key") == 0

    def test_a_deleted_user(self, client: TestClient, make_user: MakeUser) -> None:
        alice = make_user()
        headers = alice.headers
        with get_engine().begin() as conn:
            conn.execute(text('DELETE FROM "user" WHERE id = :id'), {"id": alice.id})
        assert client.post("/post/", json={"text": "hi"}, headers=headers).status_code == 401
        assert client.get("/user/timeline", headers=headers).status_code == 401


class Counting:
    """Counts the statements the app's database runs (transactions aside)."""

    def __init__(self, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[Executable] = []
        database = client.app.state.database  # type: ignore[attr-defined]
        run = database.all

        async def counted(statement: Executable, params: Params | None = None) -> list[Row]:
            self.statements.append(statement)
            return await run(statement, params)  # type: ignore[no-any-return]

        monkeypatch.setattr(database, "all", counted)

    def during(self, call: Callable[[], Any]) -> int:
        self.statements.clear()
        assert call().is_success
        return len(self.statements)


def test_one_statement_fewer(
    client: TestClient,
    make_user: MakeUser,
    make_post: MakePost,
    monkeypatch: pytest.MonkeyPatch,
    fold: bool,
    backend: str,
) -> None:
    alice, bob = make_user(), make_user()
    post = make_post(bob)
    client.post(f"/user/follow/{bob.id}", headers=alice.headers)
    headers = alice.headers
    counting = Counting(client, monkeypatch)
    extra = 0 if fold else 1
    assert counting.during(lambda: client.get("/user/timeline", headers=headers)) == 1 + extra
    new = lambda: client.post("/post/", json={"text": "x"}, headers=headers)  # noqa: E731
    assert counting.during(new) == 1 + extra
    like = lambda: client.post(f"/post/{post['id']}/like/", headers=headers)  # noqa: E731
    # The like and the post's read: one statement on PostgreSQL.
    assert counting.during(like) == (1 if backend == "postgresql" else 2) + extra
    # Liked already, the post is read afresh; where the like's statement
    # answers no row, the session is checked alone.
    again = 2 + extra if backend == "postgresql" else 3
    assert counting.during(like) == again


def test_the_same_answers_folded_or_alone(
    client: TestClient, make_user: MakeUser, make_post: MakePost
) -> None:
    alice, bob, carol = make_user(), make_user(), make_user()
    for author in (bob, carol) * 12:
        make_post(author, text=f"by {author.username}")
    for user in (bob, carol):
        client.post(f"/user/follow/{user.id}", headers=alice.headers)
    answers = []
    saved = settings.db.fold_session_check
    try:
        for folded in (True, False):
            settings.set("db.fold_session_check", folded)
            first = client.get("/user/timeline?limit=10", headers=alice.headers)
            second = client.get(first.links["next"]["url"], headers=alice.headers)
            answers.append((first.json(), first.headers["link"], second.json()))
    finally:
        settings.set("db.fold_session_check", saved)
    assert answers[0] == answers[1]
    ids = [post["id"] for post in answers[0][0] + answers[0][2]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 20


def test_a_query_with_an_answer_for_no_rows_is_still_checked(
    client: TestClient, make_user: MakeUser
) -> None:
    # count(*) answers a row even where nothing matches: the check must not
    # take that row for a sign that the session is open.
    alice = make_user()
    headers = ended(client, alice)
    sid = session_id({"access_token": headers["Authorization"].removeprefix("Bearer ")})
    database = client.app.state.database  # type: ignore[attr-defined]
    statement = select(func.count()).select_from(Post)

    async def run() -> Any:
        guarded = Guarded(database, sessions.is_open(), sessions.viewer_params(sid, alice.id))
        return await guarded.all(statement)

    assert client.portal is not None
    with pytest.raises(Unauthorized):
        client.portal.call(run)
