"""LeanRoute (pamps/routing.py): the hot reads resolve their parameters
without FastAPI's general solver, and answer exactly as FastAPI would.

Every comparison sends the same request twice: once on the lean path, once
with a dependency override set on the app, which hands every request to
FastAPI's own handler."""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import fastapi.routing
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Depends,
    FastAPI,
    Form,
    HTTPException,
    Query,
    Request,
    Response,
    Security,
)
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import AfterValidator, BaseModel
from starlette.routing import Match

from pamps.app import create_app
from pamps.config import settings
from pamps.render import JSONBytes, json_response
from pamps.routing import LeanRoute, Plan, SectionRouter
from tests.conftest import TestUser as ApiUser
from tests.test_mastodon import token_for
from tests.test_post import BAD_AFTER, BAD_BEFORE, BAD_LIMITS, BAD_PATH_IDS, BAD_USERNAMES

MakeUser = Callable[..., ApiUser]
MakePost = Callable[..., dict[str, Any]]

PLANNED = {
    ("GET", "/post/"),
    ("GET", "/post/{id}/"),
    ("GET", "/post/likes/{username}/"),
    ("GET", "/post/user/{username}/"),
    ("GET", "/user/"),
    ("GET", "/user/me/"),
    ("GET", "/user/me/sessions/"),
    ("GET", "/user/{username}/"),
    ("GET", "/user/{username}/followers/"),
    ("GET", "/user/{username}/following/"),
    ("GET", "/user/timeline"),
    ("GET", "/user/timeline/"),
    ("PATCH", "/post/{id}/"),
    ("PATCH", "/user/me/"),
    ("POST", "/post/"),
    ("POST", "/post/{id}/like/"),
    ("POST", "/user/"),
}


def _unused() -> None:
    """A dependency no route has: overriding it only switches the lean path off."""


@contextmanager
def fastapi_handler(client: TestClient) -> Iterator[None]:
    app = client.app
    assert isinstance(app, FastAPI)
    app.dependency_overrides[_unused] = _unused
    try:
        yield
    finally:
        app.dependency_overrides.pop(_unused, None)


@contextmanager
def solver_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the calls of FastAPI's dependency solver."""
    calls: list[int] = []
    solve = fastapi.routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    yield calls


def answer(response: Any) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}
    return response.status_code, headers, response.content


def without_ids(
    response: Any, post: dict[str, Any] | None, length: bool = True
) -> tuple[int, dict[str, str], bytes]:
    """:func:`answer` with ``post``'s own id and date stood in for."""
    status, headers, _ = answer(response)
    body = response.text
    if post is not None:
        body = body.replace(f'"id":{post["id"]},', '"id":N,').replace(post["date"], "DATE")
    if not length:
        headers.pop("content-length")
    return status, headers, body.encode()


def planned_routes() -> set[tuple[str, str]]:
    from pamps.routes.post import router as posts
    from pamps.routes.user import router as users

    found = set()
    for prefix, router in (("/post", posts), ("/user", users)):
        for route in router.routes:
            assert isinstance(route, LeanRoute)
            if Plan.of(route.dependant, route._embed_body_fields) is not None:
                found |= {(method, prefix + route.path) for method in route.methods or ()}
    return found


class TestPlans:
    def test_the_routes_that_answer_a_response_are_planned(self, client: TestClient) -> None:
        # The others answer a pydantic model (or nothing): FastAPI's handler
        # serves them.
        assert isinstance(client.app, FastAPI)
        assert planned_routes() == PLANNED

    @pytest.mark.parametrize(
        "make_endpoint",
        [
            # A Response parameter (headers to merge), BackgroundTasks, a body.
            lambda: _endpoint("response: Response"),
            lambda: _endpoint("tasks: BackgroundTasks"),
            lambda: _endpoint("body: dict[str, int]"),
            # Bodies FastAPI nests under their names, a form.
            lambda: _endpoint("a: _Model, b: _Model"),
            lambda: _endpoint("a: Annotated[_Model, Body(embed=True)]"),
            lambda: _endpoint("a: Annotated[_Model, Form()]"),
            # A list in the query, an alias.
            lambda: _endpoint("ids: Annotated[list[int], Query()]"),
            lambda: _endpoint("n: Annotated[int, Query(alias='N')] = 1"),
            # A dependency with a parameter of its own, one with yield, one
            # not cached, one with security scopes.
            lambda: _endpoint("x: Annotated[int, Depends(_with_param)]"),
            lambda: _endpoint("x: Annotated[int, Depends(_with_yield)]"),
            lambda: _endpoint("x: Annotated[int, Depends(_plain_dependency, use_cache=False)]"),
            lambda: _endpoint("x: Annotated[int, Security(_plain_dependency, scopes=['a'])]"),
            # A class to instantiate, a default factory, a validator.
            lambda: _endpoint("x: Annotated[Any, Depends(_ClassDependency)]"),
            lambda: _endpoint("n: Annotated[int, Query(default_factory=lambda: 1)]"),
            lambda: _endpoint("n: Annotated[int, AfterValidator(abs), Query()] = 1"),
        ],
    )
    def test_what_the_solver_must_handle_is_not_planned(
        self, make_endpoint: Callable[[], Callable[..., Any]]
    ) -> None:
        router = APIRouter(route_class=LeanRoute)
        router.add_api_route("/", make_endpoint(), methods=["POST"])
        route = router.routes[0]
        assert isinstance(route, APIRoute)
        assert Plan.of(route.dependant, route._embed_body_fields) is None

    def test_one_json_model_is_planned(self) -> None:
        router = APIRouter(route_class=LeanRoute)
        router.add_api_route("/", _endpoint("a: _Model"), methods=["POST"])
        route = router.routes[0]
        assert isinstance(route, APIRoute)
        assert Plan.of(route.dependant, route._embed_body_fields) is not None

    def test_sync_endpoints_and_other_answers_are_not_planned(self) -> None:
        def sync(n: int = 1) -> JSONBytes:
            return json_response(n)

        async def model(n: int = 1) -> dict[str, int]:
            return {"n": n}

        router = APIRouter(route_class=LeanRoute)
        router.add_api_route("/sync", sync)
        router.add_api_route("/model", model)
        assert [Plan.of(r.dependant) for r in router.routes if isinstance(r, APIRoute)] == [
            None,
            None,
        ]

    def test_a_planned_route_answers_and_falls_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        seen: list[str] = []

        async def dependency(request: Request) -> str:
            seen.append(request.url.path)
            return "dep"

        async def endpoint(
            request: Request,
            d: Annotated[str, Depends(dependency)],
            n: Annotated[int, Query(ge=1, le=5)] = 2,
            flag: bool = False,
            name: str | None = None,
        ) -> JSONBytes:
            body = {"d": d, "n": n, "flag": flag, "name": name, "path": request.url.path}
            return json_response(body)

        app = FastAPI()
        router = APIRouter(route_class=LeanRoute)
        router.add_api_route("/x", endpoint)
        app.include_router(router, prefix="/p")
        with TestClient(app) as test, solver_calls(monkeypatch) as calls:
            body = test.get("/p/x?n=3&flag=yes&name=a").json()
            assert body == {"d": "dep", "n": 3, "flag": True, "name": "a", "path": "/p/x"}
            assert test.get("/p/x").json()["n"] == 2
            assert calls == []
            invalid = test.get("/p/x?n=9")
            assert invalid.status_code == 422
            assert invalid.json()["detail"][0]["loc"] == ["query", "n"]
            assert calls == [1]
        # The dependency ran once per valid request, and for the invalid one
        # on FastAPI's path (its solver calls dependencies first, as always).
        assert seen == ["/p/x"] * 3

    def test_nested_dependencies_run_once_each_in_fastapis_order(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls: list[str] = []

        async def token(request: Request) -> str:
            calls.append("token")
            return request.headers.get("x-user", "")

        async def limit(user: Annotated[str, Depends(token)]) -> None:
            calls.append(f"limit {user}")

        async def endpoint(user: Annotated[str, Depends(token)], id: int) -> JSONBytes:
            calls.append("endpoint")
            return json_response({"user": user, "id": id})

        app = FastAPI()
        router = APIRouter(route_class=LeanRoute)
        router.add_api_route("/{id}", endpoint, dependencies=[Depends(limit)])
        app.include_router(router)
        with TestClient(app) as test, solver_calls(monkeypatch) as solver:
            assert test.get("/7", headers={"x-user": "ann"}).json() == {"user": "ann", "id": 7}
            assert solver == []
            lean = list(calls)
            calls.clear()
            with fastapi_handler(test):
                assert test.get("/7", headers={"x-user": "ann"}).json() == {"user": "ann", "id": 7}
            assert solver == [1]
        assert lean == calls == ["token", "limit ann", "endpoint"]

    def test_the_dependencies_of_an_include_run(self, monkeypatch: pytest.MonkeyPatch) -> None:
        async def deny() -> None:
            raise HTTPException(401, "no")

        async def endpoint() -> JSONBytes:
            return json_response(1)

        app = FastAPI()
        router = APIRouter(route_class=LeanRoute)
        router.add_api_route("/x", endpoint)
        app.include_router(router, dependencies=[Depends(deny)])
        with TestClient(app) as test, solver_calls(monkeypatch) as calls:
            assert test.get("/x").status_code == 401
            assert calls == []  # planned, with the include's dependency

    def test_an_endpoint_that_returns_no_response_is_an_error(self) -> None:
        async def endpoint() -> JSONBytes:
            return {"not": "a response"}  # type: ignore[return-value]

        app = FastAPI()
        router = APIRouter(route_class=LeanRoute)
        router.add_api_route("/x", endpoint)
        app.include_router(router)
        with TestClient(app) as test, pytest.raises(TypeError, match="must return a Response"):
            test.get("/x")


async def _with_param(n: int) -> int:
    return n


async def _with_yield() -> Any:
    yield 1


async def _plain_dependency() -> int:
    return 1


class _Model(BaseModel):
    n: int


class _ClassDependency:
    async def __call__(self) -> int:
        return 1


def _endpoint(parameter: str) -> Callable[..., Any]:
    namespace: dict[str, Any] = {}
    exec(
        f"async def endpoint({parameter}) -> JSONBytes:\n    return json_response(1)\n",
        {
            **globals(),
            "Response": Response,
            "BackgroundTasks": BackgroundTasks,
            "Annotated": Annotated,
            "Query": Query,
            "Depends": Depends,
            "Security": Security,
            "AfterValidator": AfterValidator,
            "Body": Body,
            "Form": Form,
            "Any": Any,
        },
        namespace,
    )
    return namespace["endpoint"]  # type: ignore[no-any-return]


class TestSameAnswers:
    def test_lists_posts_and_profiles(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        alice = make_user("Alice")
        first = make_post(alice, "one")
        for n in range(3):
            make_post(alice, f"reply {n}", parent_id=first["id"])
        make_post(alice, "two")
        urls = [
            "/post/",
            "/post/?limit=1",
            "/post/?limit=1&limit=2",
            "/post/?limit=&before=",
            "/post/?limit=%201",
            "/post/?limit=+1",
            "/post/?unknown=1",
            f"/post/?before={first['id'] + 1}",
            *(f"/post/?limit={bad}" for bad in BAD_LIMITS),
            *(f"/post/?before={bad}" for bad in BAD_BEFORE),
            f"/post/{first['id']}/",
            f"/post/{first['id']}/?limit=1",
            f"/post/{first['id']}/?limit=1&after=0",
            *(f"/post/{bad}/" for bad in BAD_PATH_IDS),
            *(f"/post/{first['id']}/?after={bad}" for bad in BAD_AFTER),
            "/post/user/alice/",
            "/post/user/ALICE/?include_replies=true&limit=2",
            "/post/user/alice/?include_replies=maybe",
            *(f"/post/user/{bad}/" for bad in BAD_USERNAMES),
            "/user/alice/",
            *(f"/user/{bad}/" for bad in BAD_USERNAMES),
        ]
        with solver_calls(monkeypatch) as calls:
            lean = [answer(client.get(url)) for url in urls]
            lean_calls = len(calls)
            with fastapi_handler(client):
                standard = [answer(client.get(url)) for url in urls]
            # Every request that reached a route went through FastAPI's solver
            # (a path no route matches is the router's plain 404).
            routed = [a for a in standard if a[2] != b'{"detail":"Not Found"}']
            assert len(calls) - lean_calls == len(routed) > len(urls) - 3
        for url, mine, theirs in zip(urls, lean, standard, strict=True):
            assert mine == theirs, url
        # Only the invalid requests went through the solver on the lean path.
        invalid = sum(status == 422 for status, _, _ in lean)
        assert invalid > 10
        assert lean_calls == invalid
        assert {status for status, _, _ in lean} == {200, 404, 422}

    def test_timeline(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        alice, bob = make_user("alice"), make_user("bob")
        for n in range(3):
            make_post(bob, f"post {n}")
        assert client.post(f"/user/follow/{bob.id}", headers=alice.headers).status_code == 201
        token = alice.headers
        bad_token = {"Authorization": "Bearer not-a-token"}
        requests: list[tuple[str, dict[str, str]]] = [
            ("/user/timeline", token),
            ("/user/timeline?limit=1", token),
            ("/user/timeline?limit=0", token),
            ("/user/timeline?before=abc", token),
            ("/user/timeline", {}),
            ("/user/timeline", bad_token),
            # A bad token and a bad parameter: the 401 comes first, as ever.
            ("/user/timeline?limit=0", bad_token),
            ("/user/timeline", {"Authorization": "Basic abc"}),
        ]
        with solver_calls(monkeypatch) as calls:
            lean = [answer(client.get(url, headers=headers)) for url, headers in requests]
            assert len(calls) == 3  # the requests with invalid parameters
            with fastapi_handler(client):
                standard = [answer(client.get(url, headers=headers)) for url, headers in requests]
            assert len(calls) == 3 + len(requests)
        assert lean == standard
        assert [status for status, _, _ in lean] == [200, 200, 422, 422, 401, 401, 401, 401]

    def test_liking(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        alice = make_user("alice")

        def scenario() -> list[tuple[int, dict[str, str], bytes]]:
            post = make_post(alice, "likeable")
            answers = [
                client.post(f"/post/{post['id']}/like/", headers=alice.headers),
                client.post(f"/post/{post['id']}/like/", headers=alice.headers),
                client.post("/post/999999/like/", headers=alice.headers),
                client.post("/post/abc/like/", headers=alice.headers),
                client.post(f"/post/{post['id']}/like/"),
                client.post("/post/abc/like/", headers={"Authorization": "Bearer bad"}),
            ]
            # The same answers but for the new post's own id and date.
            return [without_ids(r, post) for r in answers]

        assert alice.headers  # logged in before counting
        with solver_calls(monkeypatch) as calls:
            lean = scenario()
            assert len(calls) == 2  # the invalid ids (posting is planned too)
            with fastapi_handler(client):
                standard = scenario()
            assert len(calls) == 2 + 1 + 6
        assert [status for status, _, _ in lean] == [201, 200, 404, 422, 401, 401]
        assert lean == standard

    def test_posting(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        alice = make_user("alice")
        parent = make_post(alice, "parent")
        token = alice.headers
        json_type = {"Content-Type": "application/json"}

        def scenario() -> list[tuple[int, dict[str, str], bytes]]:
            sent: list[tuple[bytes, dict[str, str]]] = [
                (b'{"text": "hello"}', {**token, **json_type}),
                (b'{"text": "re", "parent_id": %d}' % parent["id"], {**token, **json_type}),
                (b'{"text": "re", "parent_id": 999999}', {**token, **json_type}),
                (
                    b'{"text": "hello"}',
                    {**token, "Content-Type": "application/json; charset=utf-8"},
                ),
                (b'{"text": "hello"}', {**token, "Content-Type": "text/plain"}),
                (b'{"text": "hello"}', token),
                (b'{"text": ""}', {**token, **json_type}),
                (b'{"text": "x"}', {**token, **json_type, "X-Extra": "1"}),
                (b'{"txt": "hello"}', {**token, **json_type}),
                (b'{"text": "hello", "extra": 1}', {**token, **json_type}),
                (b'["hello"]', {**token, **json_type}),
                (b'{"text": ', {**token, **json_type}),
                (b"\xff\xfe", {**token, **json_type}),
                (b"", {**token, **json_type}),
                (b'{"text": "' + b"x" * 300 + b'"}', {**token, **json_type}),
                (b'{"text": "hello"}', json_type),
                # JSON, invalid for the model, and no token: 401 first, as ever.
                (b'{"txt": "hello"}', json_type),
                (b'{"text": ', {"Authorization": "Bearer bad", **json_type}),
            ]
            answers = [client.post("/post/", content=body, headers=h) for body, h in sent]
            # The ids of the new posts differ in length: no content-length.
            return [
                without_ids(r, r.json() if r.status_code == 201 else None, length=False)
                for r in answers
            ]

        with solver_calls(monkeypatch) as calls:
            lean = scenario()
            lean_calls = len(calls)
            with fastapi_handler(client):
                standard = scenario()
            # FastAPI parses the body before it solves anything: a body that
            # is not JSON is its 422 (or 400) before any token is looked at.
            assert len(calls) - lean_calls == 18 - 3
        statuses = [status for status, _, _ in lean]
        assert statuses[:10] == [201, 201, 404, 201, 422, 422, 422, 201, 422, 201]
        assert statuses[10:] == [422, 422, 400, 422, 201, 401, 401, 422]
        # The lean path left to FastAPI only the bodies it does not take on.
        assert lean_calls == 8
        assert lean == standard

    def test_accounts_lists_and_edits(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        alice, bob = make_user("alice"), make_user("bob")
        post = make_post(alice, "to edit")
        assert client.post(f"/user/follow/{bob.id}", headers=alice.headers).status_code == 201
        assert client.post(f"/post/{post['id']}/like/", headers=bob.headers).status_code == 201
        json_type = {"Content-Type": "application/json"}
        names = iter(range(100))

        def reads() -> list[Any]:
            return [
                client.get("/user/"),
                client.get("/user/?limit=1"),
                client.get("/user/?limit=0"),
                client.get("/user/alice/following/"),
                client.get("/user/bob/followers/?limit=1"),
                client.get("/user/nobody/followers/"),
                client.get("/post/likes/bob/"),
                client.get("/post/likes/bob/?before=abc"),
                client.get("/user/me/", headers=alice.headers),
                client.get("/user/me/"),
            ]

        def writes() -> list[Any]:
            name = f"carol{next(names)}"
            new_user = {"username": name, "email": f"{name}@example.com", "password": "x" * 8}
            return [
                client.patch("/user/me/", json={"bio": "hi"}, headers=alice.headers),
                client.patch(
                    "/user/me/", json={"avatar": "not a url" * 100}, headers=alice.headers
                ),
                client.patch("/user/me/", content=b"{", headers={**alice.headers, **json_type}),
                client.patch(
                    f"/post/{post['id']}/", json={"text": "edited"}, headers=alice.headers
                ),
                client.patch(f"/post/{post['id']}/", json={"text": "x"}, headers=bob.headers),
                client.patch(f"/post/{post['id']}/", json={"text": ""}, headers=alice.headers),
                client.patch("/post/999999/", json={"text": "x"}, headers=alice.headers),
                client.post("/user/", json=new_user),
                client.post("/user/", json=new_user),
                client.post("/user/", json={**new_user, "username": "a/b"}),
            ]

        def answers(responses: list[Any]) -> list[tuple[int, dict[str, str], Any]]:
            return [(r.status_code, normalized_headers(r), normalized(r.json())) for r in responses]

        with solver_calls(monkeypatch) as calls:
            lean = answers(reads())
            with fastapi_handler(client):
                standard = answers(reads())
            lean += answers(writes())
            lean_calls = len(calls) - len(standard)
            with fastapi_handler(client):
                standard += answers(writes())
            # A body that is not JSON is refused before the solver, both ways.
            assert len(calls) - lean_calls == len(standard) - 1
        assert lean == standard
        statuses = [status for status, _, _ in lean]
        assert statuses == [
            *[200, 200, 422, 200, 200, 404, 200, 422, 200, 401],
            *[200, 422, 422, 200, 403, 422, 404, 201, 409, 422],
        ]
        assert lean_calls == statuses.count(422) - 1


VARYING = {"id", "created_at", "date", "edited_at", "username", "email", "input"}


def normalized(body: Any) -> Any:
    """``body`` with the values that differ between two runs stood in for."""
    if isinstance(body, list):
        return [normalized(item) for item in body]
    if isinstance(body, dict):
        return {k: "*" if k in VARYING else normalized(v) for k, v in body.items()}
    return body


def normalized_headers(response: Any) -> dict[str, str]:
    return {
        k: v for k, v in response.headers.items() if k not in ("x-request-id", "content-length")
    }


class TestMastodonReads:
    """The Mastodon face's routers are LeanRoute's too: its reads answer
    exactly as FastAPI's handler does, with a token or without, valid or not."""

    def test_same_answers(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        alice, bob = make_user("alice"), make_user("bob")
        first = make_post(alice, "one")
        make_post(bob, "reply", parent_id=first["id"])
        make_post(alice, "two")
        token = token_for(client, bob, "read")
        mine = {"Authorization": f"Bearer {token}"}
        bad = {"Authorization": "Bearer nope"}
        requests = [
            ("/api/v1/timelines/public", {}),
            ("/api/v1/timelines/public?limit=1&min_id=1", mine),
            ("/api/v1/timelines/home", mine),
            ("/api/v1/timelines/home", {}),
            ("/api/v1/timelines/home", bad),
            (f"/api/v1/statuses/{first['id']}", {}),
            (f"/api/v1/statuses/{first['id']}", mine),
            ("/api/v1/statuses/abc", {}),
            (f"/api/v1/accounts/{alice.id}", {}),
            (f"/api/v1/accounts/{alice.id}/statuses?exclude_replies=1", mine),
            ("/api/v1/accounts/99999", {}),
        ]
        with solver_calls(monkeypatch) as calls:
            lean = [answer(client.get(path, headers=headers)) for path, headers in requests]
        assert calls == []
        with fastapi_handler(client):
            plain = [answer(client.get(path, headers=headers)) for path, headers in requests]
        assert lean == plain
        assert [status for status, _, _ in lean] == [
            200,
            200,
            200,
            401,
            401,
            200,
            200,
            404,
            200,
            200,
            404,
        ]


def section_routers() -> list[SectionRouter]:
    from pamps.routes import MASTODON_ROUTERS, MOUNTS
    from pamps.routes.metrics import router as metrics_router

    return [router for router, _, _ in MOUNTS] + MASTODON_ROUTERS + [metrics_router]


def paths_to_try(app: FastAPI) -> list[str]:
    """Every route's path with its parameters filled in two ways, with and
    without its trailing slash, and paths that belong to no route."""
    paths = {"/", "/api", "/api/", "/api/v1/", "/api/v1/nope", "/post", "/posts/", "/userx/"}
    for route in app.routes:
        path = getattr(route, "path", "")
        for value in ("1", "abc"):
            filled = re.sub(r"\{[^}]*\}", value, path)
            paths |= {filled, filled.rstrip("/") or "/", filled + "/", filled + "/x"}
    return sorted(paths)


def route_matches(app: FastAPI, path: str, method: str, root_path: str = "") -> list[Match]:
    """How each of the app's routes matches a request for ``path``."""
    found = []
    for route in app.router.routes:
        scope = {"type": "http", "path": root_path + path, "root_path": root_path}
        found.append(route.matches({**scope, "method": method, "headers": []})[0])
    return found


@contextmanager
def sections_off() -> Iterator[None]:
    saved = [(router, router.heads) for router in section_routers()]
    for router, _ in saved:
        router.heads = None
    try:
        yield
    finally:
        for router, heads in saved:
            router.heads = heads


class TestSections:
    """SectionRouter: a request passes a router whose paths it cannot be on
    in one check, with the same outcome as trying each of its routes."""

    def test_every_route_matches_as_it_would_route_by_route(self, app: FastAPI) -> None:
        assert all(router.heads for router in section_routers())
        requests = [
            (path, method, root)
            for path in paths_to_try(app)
            for method in ("GET", "POST", "DELETE")
            for root in ("", "/pamps")
        ]
        sections = [route_matches(app, *request) for request in requests]
        with sections_off():
            plain = [route_matches(app, *request) for request in requests]
        assert sections == plain
        # Not vacuous: full, partial (another method) and no match all occur.
        assert {match for found in sections for match in found} == set(Match)

    def test_a_mastodon_read_passes_the_native_routes(
        self, app: FastAPI, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        tried: list[str] = []
        matches = APIRoute.matches

        def counting(route: APIRoute, scope: Any) -> Any:
            tried.append(route.path)
            return matches(route, scope)

        monkeypatch.setattr(APIRoute, "matches", counting)
        assert Match.FULL in route_matches(app, "/api/v1/accounts/1", "GET")
        own = ("/api/v1/accounts", "/docs", "/redoc")
        assert tried and all(path.startswith(own) for path in tried)
        tried.clear()
        with sections_off():
            route_matches(app, "/api/v1/accounts/1", "GET")
        assert any(path.startswith("/api/v1/statuses") for path in tried)

    def test_the_api_docs_routes_come_after_the_apis(self, app: FastAPI) -> None:
        """The router tries the app's routes in order until one matches: an
        API request is never matched against the docs' routes."""
        docs = ("/openapi.json", "/docs", "/redoc")
        for path in ("/post/1/", "/user/someone/", "/api/v1/timelines/public", "/token"):
            scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
            tried = []
            for route in app.router.routes:
                tried.append(getattr(route, "path", ""))
                if route.matches({**scope, "headers": []})[0] != Match.NONE:
                    break
            else:
                pytest.fail(f"no route for {path}")
            assert not any(tried_path.startswith(docs) for tried_path in tried), (path, tried)

    def test_switched_off_with_lean_routes(self, database_url: str) -> None:
        settings.set("server.lean_routes", False)
        try:
            app = create_app(database_uri=database_url)
            assert all(router.heads is None for router in section_routers())
            with TestClient(app) as client:
                assert client.get("/api/v1/accounts/99999").status_code == 404
                assert client.get("/post/").status_code == 200
        finally:
            settings.set("server.lean_routes", True)
            create_app(database_uri=database_url)  # the routers learn their paths again
        assert all(router.heads for router in section_routers())
