"""Hostile payloads and production posture, app-wide: oversized and streamed
bodies, malformed JSON, wrong content types, deep nesting, secrets and big
inputs never echoed, bad page sizes, NUL bytes, CORS, safety headers, the
request id, the 500 handler and the OpenAPI document itself.

Route-specific validation lives with each route's tests; these are the rows
that hold for every route at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient

from pamps.app import METHODS, create_app, validation_error_handler
from pamps.app import app as default_app
from pamps.bodies import NOT_PARSED, json_body_problem
from pamps.config import ConfigError, settings
from pamps.middleware import RequestIdFilter

if TYPE_CHECKING:
    from tests.conftest import TestUser

LIMIT = 1_048_576  # server.max_body_size in the testing environment
MB = 1024 * 1024
SECRET = "Zq7-unique-Secret-42"
REQUEST_ID = re.compile(r"[0-9a-f]{32}")

MakeUser = Callable[..., "TestUser"]
MakePost = Callable[..., dict[str, Any]]


def json_headers(user: TestUser | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", **(user.headers if user else {})}


def assert_json_error(response: Any, status: int | None = None) -> None:
    """A 4xx with the API's JSON error shape and the safety headers."""
    if status is not None:
        assert response.status_code == status, response.text
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "detail" in response.json()
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]


# --- raw ASGI, to see exactly how much of a body the app reads -------------


def call_asgi(
    asgi_app: Any, path: str, chunks: Iterator[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes, int]:
    """POST ``chunks`` to ``asgi_app``; returns status, body and how many bytes
    of the request the app pulled before it answered."""
    consumed = 0
    messages: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(asgi_app(scope, receive, send))
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], body, consumed


def chunks_of(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    chunk = b"[" * size
    for _ in range(total // size):
        yield chunk


class TestBodySize:
    @pytest.mark.parametrize("size", [10 * MB, 50 * MB], ids=["10MB", "50MB"])
    @pytest.mark.parametrize("path", ["/user/", "/post/"])
    def test_declared_content_length_over_the_limit_is_413(
        self, client: TestClient, path: str, size: int
    ) -> None:
        response = client.post(path, content=b"x" * size, headers=json_headers())
        assert_json_error(response, 413)
        assert response.json() == {"detail": f"Request body too large (limit {LIMIT} bytes)"}
        assert client.get("/user/").status_code == 200

    @pytest.mark.parametrize("size", [10 * MB, 50 * MB], ids=["10MB", "50MB"])
    def test_chunked_body_without_content_length_is_413(
        self, client: TestClient, make_user: MakeUser, size: int
    ) -> None:
        user = make_user()

        def body() -> Iterator[bytes]:
            yield b'{"text": "'
            yield from chunks_of(size)

        response = client.post("/post/", content=body(), headers=json_headers(user))
        assert "content-length" not in response.request.headers
        assert_json_error(response, 413)
        assert client.get("/post/").status_code == 200

    @pytest.mark.parametrize("size", [10 * MB, 50 * MB], ids=["10MB", "50MB"])
    def test_declared_length_is_refused_before_reading_the_body(
        self, client: TestClient, size: int
    ) -> None:
        headers = [(b"content-length", str(size).encode())]
        status, body, consumed = call_asgi(default_app, "/user/", chunks_of(size), headers)
        assert status == 413, body
        assert consumed == 0
        assert client.get("/user/").status_code == 200

    @pytest.mark.parametrize("size", [10 * MB, 50 * MB], ids=["10MB", "50MB"])
    def test_streamed_body_is_cut_at_the_limit(self, client: TestClient, size: int) -> None:
        headers = [(b"transfer-encoding", b"chunked")]
        status, body, consumed = call_asgi(default_app, "/user/", chunks_of(size), headers)
        assert status == 413, body
        assert consumed <= LIMIT + 64 * 1024  # stopped at the chunk that crossed it
        assert client.get("/user/").status_code == 200

    def test_body_at_the_limit_is_parsed(self, client: TestClient) -> None:
        body = b'{"username": "' + b"u" * (LIMIT - 20) + b'"}'
        assert len(body) <= LIMIT
        response = client.post("/user/", content=body, headers=json_headers())
        assert_json_error(response, 422)


class TestMalformedBodies:
    def test_invalid_json_is_422_fast(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user()
        for body in [b'{"text": ', b"{'text': 'single quotes'}", b"\xff\xfe", b"", b"nul\x00"]:
            started = time.monotonic()
            response = client.post("/post/", content=body, headers=json_headers(user))
            assert time.monotonic() - started < 5
            assert 400 <= response.status_code < 500, response.text
            assert_json_error(response)

    def test_almost_1_mib_of_broken_json_is_422_fast_and_not_echoed(
        self, client: TestClient
    ) -> None:
        body = b'{"username": "' + b"q" * (LIMIT - 100)
        started = time.monotonic()
        response = client.post("/user/", content=body, headers=json_headers())
        assert time.monotonic() - started < 5
        assert_json_error(response, 422)
        assert response.json()["detail"][0]["type"] == "json_invalid"
        assert len(response.content) < 2048

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
    )
    def test_wrong_content_type_on_json_routes_is_422(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        content_type: str,
    ) -> None:
        user = make_user()
        post = make_post(user)
        auth = {**user.headers, "Content-Type": content_type}
        cases = [
            ("POST", "/user/", f'{{"username": "bob", "password": "{SECRET}"}}'),
            ("POST", "/refresh_token", '{"refresh_token": "x"}'),
            ("POST", "/post/", '{"text": "hello"}'),
            ("PATCH", f"/post/{post['id']}/", '{"text": "edited"}'),
            ("PATCH", "/user/me/", '{"bio": "hi"}'),
        ]
        for method, path, body in cases:
            response = client.request(method, path, content=body, headers=auth)
            assert_json_error(response, 422)
            assert SECRET not in response.text
        assert client.get(f"/post/{post['id']}/").json()["text"] == "hello"

    def test_body_that_is_not_utf8_is_4xx_with_any_content_type(self, client: TestClient) -> None:
        for content_type in ["text/plain", "application/json", "application/octet-stream"]:
            response = client.post(
                "/user/", content=b"\xff\xfe\x00bad", headers={"Content-Type": content_type}
            )
            assert_json_error(response)

    @pytest.mark.parametrize("depth", [900, 10_000])
    def test_deeply_nested_arrays_are_4xx(
        self, client: TestClient, make_user: MakeUser, depth: int
    ) -> None:
        user = make_user()
        nested = "[" * depth + "]" * depth
        for body in [f'{{"text": {nested}}}', nested]:
            started = time.monotonic()
            response = client.post("/post/", content=body, headers=json_headers(user))
            assert time.monotonic() - started < 5
            assert_json_error(response)
            assert "Recursion" not in response.text
        assert client.get("/post/").json() == []


# Values Python's json accepts and JSON cannot carry, written as sent.
NOT_JSON = {
    "escaped-surrogate": ('"\\ud800"', "a string holds a lone UTF-16 surrogate"),
    "escaped-low-surrogate": ('"ab\\udc00"', "a string holds a lone UTF-16 surrogate"),
    "nan": ("NaN", "NaN is not a JSON number"),
    "infinity": ("Infinity", "Infinity is not a JSON number"),
    "minus-infinity": ("-Infinity", "-Infinity is not a JSON number"),
    "1e400": ("1e400", "1e400 is too large a number"),
    "nested": ('["ok", {"deep": [NaN]}]', "NaN is not a JSON number"),
    "as-key": ('{"\\ud800": 1}', "a string holds a lone UTF-16 surrogate"),
}


def json_routes(post: dict[str, Any]) -> list[tuple[str, str]]:
    """Every operation that takes a JSON body, as (method, url)."""
    return [
        ("POST", "/user/"),
        ("POST", "/post/"),
        ("POST", "/refresh_token"),
        ("PATCH", f"/post/{post['id']}/"),
        ("PATCH", "/user/me/"),
    ]


class TestValuesJsonCannotCarry:
    def test_every_json_operation_is_known(self) -> None:
        with_body = {
            f"{method.upper()} {path}"
            for path, item in default_app.openapi()["paths"].items()
            for method, op in item.items()
            if "application/json" in op.get("requestBody", {}).get("content", {})
        }
        assert with_body == {
            "POST /user/", "POST /post/", "POST /refresh_token",
            "PATCH /post/{id}/", "PATCH /user/me/",
        }  # fmt: skip

    @pytest.mark.parametrize("value", list(NOT_JSON), ids=list(NOT_JSON))
    @pytest.mark.parametrize("logged_in", [True, False], ids=["token", "anonymous"])
    def test_are_422_on_every_route_and_nothing_is_stored(
        self,
        client: TestClient,
        make_user: MakeUser,
        make_post: MakePost,
        value: str,
        logged_in: bool,
    ) -> None:
        user = make_user()
        post = make_post(user)
        literal, reason = NOT_JSON[value]
        headers = json_headers(user if logged_in else None)
        for method, url in json_routes(post):
            for body in [
                f'{{"text": {literal}, "bio": {literal}}}',
                f'{{"text": "fine", "parent_id": {literal}}}',
                f'{{"username": {literal}, "email": "x@example.com", "password": "ppppppppp"}}',
                f'{{"refresh_token": {literal}}}',
            ]:
                response = client.request(method, url, content=body, headers=headers)
                assert_json_error(response, 422)
                assert response.json() == {
                    "detail": [
                        {"type": "json_invalid", "loc": ["body"], "msg": f"Invalid JSON: {reason}"}
                    ]
                }, (method, url, body)
        assert [u["username"] for u in client.get("/user/").json()] == [user.username]
        assert client.get("/post/").json() == [post]
        assert client.get("/user/me/", headers=user.headers).json()["bio"] is None

    def test_a_raw_surrogate_is_400_as_any_body_that_is_not_utf8(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        user = make_user()
        post = make_post(user)
        for method, url in json_routes(post):
            for headers in [json_headers(user), {**user.headers}]:  # no content type: JSON too
                body = b'{"text": "\xed\xa0\x80", "refresh_token": "\xed\xa0\x80"}'
                response = client.request(method, url, content=body, headers=headers)
                assert_json_error(response, 400)
                assert response.json() == {"detail": "The request body is not valid UTF-8"}
        assert client.get("/post/").json() == [post]

    def test_valid_json_near_them_is_stored_as_sent(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user()
        for sent, stored in [
            ('"\\ud83d\\ude00 a pair"', "\U0001f600 a pair"),
            ('"NaN and Infinity, 1e400"', "NaN and Infinity, 1e400"),
            ('"a \\\\ud800 that is only text"', "a \\ud800 that is only text"),
        ]:
            response = client.post(
                "/post/", content=f'{{"text": {sent}}}', headers=json_headers(user)
            )
            assert response.status_code == 201, response.text
            assert response.json()["text"] == stored

    @pytest.mark.parametrize(
        "body",
        [
            b'{"text": "hi", "parent_id": null}',
            b'[1, 2.5, -0.0, 1e300, true, "\\ud83d\\ude00"]',
            b'\xef\xbb\xbf{"text": "after a BOM"}',
            '{"text": "UTF-16"}'.encode("utf-16-le"),
        ],
        ids=["object", "values", "bom", "utf-16"],
    )
    def test_the_check_reads_a_body_as_json_loads_does(self, body: bytes) -> None:
        # Its value goes to the route (not parsed again): it must be json.loads'.
        assert json_body_problem(body) == (None, json.loads(body))

    @pytest.mark.parametrize(
        "body",
        [b'\xef\xbb\xbf{"text": NaN}', '{"text": NaN}'.encode("utf-16-le")],
        ids=["bom", "utf-16"],
    )
    def test_in_any_encoding_json_loads_reads(self, body: bytes) -> None:
        assert json_body_problem(body) == ((422, "NaN is not a JSON number"), NOT_PARSED)

    def test_a_malformed_body_is_left_to_fastapi(self) -> None:
        assert json_body_problem(b'{"text": ') == (None, NOT_PARSED)

    def test_a_checked_body_is_not_parsed_again(
        self, client: TestClient, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        user = make_user()

        async def refuse(self: Any) -> Any:
            raise AssertionError("parsed twice")

        monkeypatch.setattr("starlette.requests.Request.json", refuse)
        response = client.post("/post/", content='{"text": "once"}', headers=json_headers(user))
        assert response.status_code == 201, response.text
        assert response.json()["text"] == "once"

    def test_the_422_handler_never_renders_them(self) -> None:
        error = RequestValidationError(
            [
                {"type": "int_type", "loc": ("body", "a"), "msg": "bad", "input": float("nan")},
                {"type": "int_type", "loc": ("body", "b"), "msg": "bad", "input": float("inf")},
                {"type": "string_type", "loc": ("body", "c"), "msg": "bad", "input": "x\ud800"},
                {"type": "int_type", "loc": ("body", "d"), "msg": "bad", "input": 1.5},
            ]
        )
        response = asyncio.run(validation_error_handler(None, error))  # type: ignore[arg-type]
        assert response.status_code == 422
        assert json.loads(response.body) == {
            "detail": [
                {"type": "int_type", "loc": ["body", "a"], "msg": "bad"},
                {"type": "int_type", "loc": ["body", "b"], "msg": "bad"},
                {"type": "string_type", "loc": ["body", "c"], "msg": "bad"},
                {"type": "int_type", "loc": ["body", "d"], "msg": "bad", "input": 1.5},
            ]
        }


class TestMethodNotAllowed:
    def test_allow_lists_every_method_of_the_path(self, client: TestClient) -> None:
        assert client.put("/post/").headers["allow"] == "GET, POST"
        checked = 0
        for path, item in default_app.openapi()["paths"].items():
            documented = [m for m in METHODS if m.lower() in item]
            url = path.format(id=1, username="nobody")
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                if method in documented:
                    continue
                response = client.request(method, url)
                assert_json_error(response, 405)
                assert response.json() == {"detail": "Method Not Allowed"}
                assert response.headers["allow"] == ", ".join(documented), (method, path)
                checked += 1
        assert checked >= 40


class TestValidationMessages:
    def test_our_messages_come_without_pydantic_s_prefix(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user()
        cases = [
            ("POST", "/user/", {"username": "a.b", "email": "x@example.com", "password": "p" * 9}),
            (
                "POST",
                "/user/",
                {"username": "admin", "email": "x@example.com", "password": "p" * 9},
            ),
            ("POST", "/post/", {"text": "   "}),
            ("PATCH", "/user/me/", {"bio": "a\x00b"}),
        ]
        messages = []
        for method, url, body in cases:
            response = client.request(method, url, json=body, headers=user.headers)
            assert_json_error(response, 422)
            messages.append(response.json()["detail"][0]["msg"])
        assert messages == [
            "must be 3 to 30 characters of letters A-Z, digits and _",
            "is reserved",
            "must not be empty",
            "must not contain NUL characters",
        ]


class TestNoEcho:
    def test_register_errors_never_echo_the_password(self, client: TestClient) -> None:
        payloads: list[Any] = [
            {"username": "bob", "email": "bob@example.com", "password": SECRET[:7]},
            {"username": "bob", "email": "bob@example.com", "password": SECRET * 10},
            {"username": "bob", "email": "bob@example.com", "password": {"p": SECRET}},
            {"username": "bob", "password": SECRET},  # "email missing" carries the body
            {"username": "b", "email": "nope", "password": SECRET, "extra": [SECRET]},
            [SECRET],
        ]
        for payload in payloads:
            response = client.post("/user/", json=payload)
            assert_json_error(response, 422)
            assert SECRET[:7] not in response.text, payload
        as_text = f'{{"username": "bob", "password": "{SECRET}"}}'
        response = client.post("/user/", content=as_text, headers={"Content-Type": "text/plain"})
        assert_json_error(response, 422)
        assert SECRET not in response.text

    def test_profile_update_errors_never_echo_passwords(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user()
        payloads: list[Any] = [
            {"password": SECRET[:7], "current_password": user.password},
            {"password": SECRET * 10, "current_password": user.password},
            {"password": SECRET, "current_password": SECRET * 10},
            {"password": SECRET, "current_password": 12345678, "email": "bad"},
        ]
        for payload in payloads:
            response = client.patch("/user/me/", json=payload, headers=user.headers)
            assert_json_error(response, 422)
            assert SECRET[:7] not in response.text, payload
            assert user.password not in response.text
        assert (
            client.post(
                "/token", data={"username": user.username, "password": user.password}
            ).status_code
            == 200
        )

    def test_refresh_errors_never_echo_the_token(self, client: TestClient) -> None:
        for value in [12345678, [SECRET], {"t": SECRET}]:
            response = client.post("/refresh_token", json={"refresh_token": value})
            assert_json_error(response, 422)
            assert SECRET not in response.text and "12345678" not in response.text

    def test_inputs_over_1_kib_are_never_echoed(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        user = make_user()
        post = make_post(user)
        big = "Q" * 1100
        requests = [
            ("POST", "/post/", {"text": big}, user.headers),
            ("PATCH", f"/post/{post['id']}/", {"text": big}, user.headers),
            ("PATCH", "/user/me/", {"bio": big}, user.headers),
            ("POST", "/post/", {"text": "ok", "parent_id": big}, user.headers),
            ("POST", "/user/", {"username": big, "email": "x@example.com"}, {}),
        ]
        for method, path, body, headers in requests:
            response = client.request(method, path, json=body, headers=headers)
            assert_json_error(response, 422)
            assert "Q" * 1025 not in response.text
        for url in ["/post/?limit=" + "9" * 1100, "/user/" + "u" * 1100 + "/"]:
            response = client.get(url)
            assert_json_error(response)
            assert "9" * 1025 not in response.text and "u" * 1025 not in response.text


def list_operations() -> list[str]:
    """Every GET path that takes a ``limit`` query parameter."""
    paths = []
    for path, item in default_app.openapi()["paths"].items():
        parameters = item.get("get", {}).get("parameters", [])
        if any(p["name"] == "limit" and p["in"] == "query" for p in parameters):
            paths.append(path)
    return paths


class TestPageSize:
    def test_every_list_route_is_known(self) -> None:
        assert len(list_operations()) >= 8, list_operations()

    @pytest.mark.parametrize("path", list_operations())
    def test_bad_limit_is_422_on_every_list_route(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost, path: str
    ) -> None:
        user = make_user()
        post = make_post(user)
        url = path.format(username=user.username, id=post["id"])
        assert client.get(url, params={"limit": 1}, headers=user.headers).status_code == 200
        for limit in ["0", "-5", "abc", "100000", "1.5"]:
            response = client.get(url, params={"limit": limit}, headers=user.headers)
            assert_json_error(response, 422)
            assert response.json()["detail"][0]["loc"] == ["query", "limit"]


class TestNulBytes:
    def test_nul_in_json_strings_is_4xx_and_nothing_stored(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        user = make_user()
        post = make_post(user)
        requests = [
            (
                "POST",
                "/user/",
                {"username": "nul\x00", "email": "n@example.com", "password": "x" * 9},
            ),
            (
                "POST",
                "/user/",
                {"username": "nulmail", "email": "n\x00@example.com", "password": "x" * 9},
            ),
            ("POST", "/post/", {"text": "a\x00b"}),
            ("PATCH", f"/post/{post['id']}/", {"text": "a\x00b"}),
            ("PATCH", "/user/me/", {"email": "a\x00b@example.com"}),
            ("POST", "/refresh_token", {"refresh_token": "a\x00b"}),
        ]
        for method, path, body in requests:
            response = client.request(method, path, json=body, headers=user.headers)
            assert_json_error(response)
        assert [u["username"] for u in client.get("/user/").json()] == [user.username]
        assert client.get(f"/post/{post['id']}/").json()["text"] == post["text"]

    @pytest.mark.parametrize("field", ["bio", "avatar"])
    def test_nul_in_profile_fields_is_422(
        self, client: TestClient, make_user: MakeUser, field: str
    ) -> None:
        user = make_user()
        response = client.patch("/user/me/", json={field: "a\x00b"}, headers=user.headers)
        assert_json_error(response, 422)
        assert client.get("/user/me/", headers=user.headers).json()[field] is None

    def test_nul_in_login_form_is_401(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user()
        for username, password in [
            (user.username + "\x00", user.password),
            (user.email.replace("@", "\x00@"), user.password),
            ("\x00", "\x00"),
        ]:
            response = client.post("/token", data={"username": username, "password": password})
            assert_json_error(response, 401)

    def test_nul_in_paths_and_queries_is_4xx(
        self, client: TestClient, make_user: MakeUser, make_post: MakePost
    ) -> None:
        user = make_user()
        make_post(user)
        name = user.username
        urls = [
            f"/user/{name}%00/",
            f"/user/%00{name}/followers/",
            f"/user/{name}%00/following/",
            f"/post/user/{name}%00/",
            f"/post/likes/{name}%00/",
            "/post/1%00/",
            "/post/%00/",
            "/post/?before=1%00",
            f"/post/user/{name}/?include_replies=%00",
        ]
        for url in urls:
            assert_json_error(client.get(url, headers=user.headers))
        for method, url in [("POST", "/user/follow/1%00"), ("DELETE", "/post/1%00/like/")]:
            assert_json_error(client.request(method, url, headers=user.headers))


# --- configuration: CORS, headers, the 500 handler, the OpenAPI document ---


@pytest.fixture
def app_with_origins() -> Iterator[Callable[[list[str]], FastAPI]]:
    """Builds a fresh app with ``server.cors_origins`` set; restores it after."""
    # Assigned on the table itself: with merge_enabled, settings.set() would
    # append to the list instead of replacing it.
    previous = list(settings.server.cors_origins)

    def build(origins: list[str]) -> FastAPI:
        settings.server["cors_origins"] = origins
        return create_app()

    yield build
    settings.server["cors_origins"] = previous


def preflight(client: TestClient, origin: str, path: str = "/post/") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


class TestCors:
    def test_no_origin_is_allowed_by_default(self) -> None:
        assert list(settings.server.cors_origins) == []
        with TestClient(default_app) as client:
            response = preflight(client, "https://evil.example")
            assert "access-control-allow-origin" not in response.headers
            response = client.get("/openapi.json", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in response.headers

    def test_configured_origin_is_allowed_and_others_are_not(
        self, app_with_origins: Callable[[list[str]], FastAPI]
    ) -> None:
        with TestClient(app_with_origins(["https://app.example"])) as client:
            allowed = preflight(client, "https://app.example")
            assert allowed.status_code == 200, allowed.text
            assert allowed.headers["access-control-allow-origin"] == "https://app.example"
            assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
            simple = client.get("/openapi.json", headers={"Origin": "https://app.example"})
            assert simple.headers["access-control-allow-origin"] == "https://app.example"
            assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()

            for origin in ["https://evil.example", "https://app.example.evil.example", "null"]:
                refused = preflight(client, origin)
                assert refused.status_code >= 400
                assert "access-control-allow-origin" not in refused.headers
                simple = client.get("/openapi.json", headers={"Origin": origin})
                assert "access-control-allow-origin" not in simple.headers

            for response in [allowed, simple]:
                if response.headers.get("access-control-allow-credentials") == "true":
                    assert response.headers.get("access-control-allow-origin") != "*"

    def test_credentials_are_never_combined_with_a_wildcard(
        self, app_with_origins: Callable[[list[str]], FastAPI]
    ) -> None:
        with TestClient(app_with_origins(["https://app.example"])) as client:
            for origin in ["https://app.example", "https://evil.example"]:
                for response in [
                    preflight(client, origin),
                    client.get("/openapi.json", headers={"Origin": origin}),
                ]:
                    assert response.headers.get("access-control-allow-origin") != "*"
                    assert response.headers.get("access-control-allow-credentials") != "true"

    @pytest.mark.parametrize(
        ("value", "allowed"),
        [
            ("https://app.example", ["https://app.example"]),
            ("https://app.example,https://b.example", ["https://app.example", "https://b.example"]),
            (
                " https://app.example , https://b.example ",
                ["https://app.example", "https://b.example"],
            ),
        ],
    )
    def test_origins_from_the_environment_may_be_a_plain_or_comma_separated_string(
        self, value: str, allowed: list[str]
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAMPS_")}
        env |= {"PAMPS_ENV": "testing", "PAMPS_SERVER__CORS_ORIGINS": value}
        script = "from pamps.config import cors_origins; print(cors_origins())"
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout == f"{allowed}\n"

    def test_a_string_of_origins_allows_each_of_them(
        self, app_with_origins: Callable[[Any], FastAPI]
    ) -> None:
        with TestClient(app_with_origins("https://app.example, https://b.example")) as client:
            for origin in ["https://app.example", "https://b.example"]:
                allowed = preflight(client, origin)
                assert allowed.status_code == 200, allowed.text
                assert allowed.headers["access-control-allow-origin"] == origin
            for origin in ["h", "https://evil.example", ","]:
                refused = preflight(client, origin)
                assert refused.status_code == 400
                assert "access-control-allow-origin" not in refused.headers

    @pytest.mark.parametrize("origins", [["*"], ["https://app.example", "*"]])
    def test_wildcard_origin_is_refused_at_startup(
        self, app_with_origins: Callable[[list[str]], FastAPI], origins: list[str]
    ) -> None:
        with pytest.raises(ConfigError, match="cors_origins"):
            app_with_origins(origins)


class TestSafetyHeaders:
    def test_every_json_response_has_nosniff_and_a_request_id(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user()
        responses = [
            client.get("/health"),
            client.get("/user/"),
            client.get("/user/me/", headers=user.headers),
            client.post("/post/", json={"text": "hi"}, headers=user.headers),
            client.get("/user/me/"),
            client.get("/post/99999/"),
            client.get("/no/such/route"),
            client.put("/post/"),
            client.get("/post/?limit=0"),
            client.post("/user/", content=b"x" * (LIMIT + 1), headers=json_headers()),
            client.post("/post/", content=b"[" * 5000, headers=json_headers(user)),
            client.get("/openapi.json"),
        ]
        ids = set()
        for response in responses:
            assert response.headers["content-type"].startswith("application/json")
            assert response.headers["x-content-type-options"] == "nosniff"
            assert REQUEST_ID.fullmatch(response.headers["x-request-id"]), response.headers
            ids.add(response.headers["x-request-id"])
        assert len(ids) == len(responses)
        assert sorted({r.status_code for r in responses}) == [
            200, 201, 400, 401, 404, 405, 413, 422
        ]  # fmt: skip

    def test_sane_incoming_request_id_is_echoed(self, client: TestClient) -> None:
        for value in ["abc-123", "req.2024_11_27", "A" * 64]:
            response = client.get("/health", headers={"X-Request-ID": value})
            assert response.headers["x-request-id"] == value

    @pytest.mark.parametrize(
        "value",
        ["A" * 65, "x" * 500, "abc\ndef", "abc\r\nX-Injected: 1", "a b", "<script>", "id;drop", ""],
        ids=["65-chars", "500-chars", "newline", "crlf", "space", "html", "semicolon", "empty"],
    )
    def test_malicious_request_id_is_replaced(self, client: TestClient, value: str) -> None:
        response = client.get("/health", headers={"X-Request-ID": value})
        assert REQUEST_ID.fullmatch(response.headers["x-request-id"])
        assert "x-injected" not in response.headers


class TestServerError:
    def test_500_is_generic_json_with_headers_and_logged_with_the_request_id(self) -> None:
        app = create_app()

        @app.get("/boom")
        def boom() -> None:
            raise RuntimeError("secret internals: postgresql://admin:hunter2@db/pamps")

        records: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = records.append  # type: ignore[method-assign]
        handler.addFilter(RequestIdFilter())
        logger = logging.getLogger("pamps")
        logger.addHandler(handler)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                response = client.get("/boom", headers={"X-Request-ID": "trace-500"})
        finally:
            logger.removeHandler(handler)

        assert response.status_code == 500
        assert response.json() == {"detail": "Internal Server Error"}
        for leak in ["hunter2", "secret", "Traceback", "RuntimeError", "boom"]:
            assert leak not in response.text
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-request-id"] == "trace-500"
        errors = [r for r in records if r.levelno >= logging.ERROR]
        assert errors, "the error was not logged"
        assert all(r.request_id == "trace-500" for r in errors)  # type: ignore[attr-defined]
        assert errors[0].exc_info is not None


class TestOpenApi:
    def test_docs_and_schema_are_served(self) -> None:
        with TestClient(default_app) as client:
            docs = client.get("/docs")
            assert docs.status_code == 200
            assert "swagger" in docs.text.lower()
            schema = client.get("/openapi.json")
            assert schema.status_code == 200
            assert schema.json()["openapi"].startswith("3.")

    def test_docs_and_redoc_load_every_asset_from_pamps(self) -> None:
        types = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
        with TestClient(default_app) as client:
            for page in ["/docs", "/redoc"]:
                html = client.get(page)
                assert html.status_code == 200
                assert "cdn" not in html.text.lower() and "fonts.googleapis" not in html.text
                urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*["']([^"']+)""", html.text)
                assets = [url for url in urls if url != "/openapi.json"]
                assert len(assets) >= 2, urls
                for url in assets:
                    assert url.startswith("/docs/assets/"), url
                    asset = client.get(url)
                    assert asset.status_code == 200, url
                    assert asset.headers["content-type"].startswith(types[url[url.rfind(".") :]])
                    assert len(asset.content) > 1000
            refused = client.put("/docs/assets/swagger-ui.css")
            assert refused.status_code == 405
            assert refused.headers["allow"] == "GET, HEAD"

    def test_the_schema_states_the_rules_the_server_enforces(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        schemas = default_app.openapi()["components"]["schemas"]
        user = make_user()
        registered = iter(range(1000))

        def register(field: str, value: Any) -> int:
            n = next(registered)
            body = {"username": f"u{n}x", "email": f"u{n}@example.com", "password": "p" * 9}
            return client.post("/user/", json={**body, field: value}).status_code

        def post(text: str) -> int:
            return client.post("/post/", json={"text": text}, headers=user.headers).status_code

        cases: list[tuple[str, Callable[[Any], int], list[Any]]] = [
            (
                schemas["UserCreate"]["properties"]["username"]["pattern"],
                lambda v: register("username", v),
                ["alice", "a_1", "ab", "a" * 30, "a" * 31, "a.b", "a b", "Admin", "TIMELINE",
                 "timelines", "me_", "ünï", "../x"],
            ),
            (
                schemas["UserCreate"]["properties"]["email"]["pattern"],
                lambda v: register("email", v),
                ["a@example.com", "a+b@x.io", "a@b", "a@@x.com", "a b@x.com", "@x.com"],
            ),
            (
                schemas["UserCreate"]["properties"]["avatar"]["anyOf"][0]["pattern"],
                lambda v: register("avatar", v),
                ["https://x.io/a.png", " http://x ", "javascript:alert(1)", "https://", "ftp://x"],
            ),
            (
                schemas["UserCreate"]["properties"]["bio"]["anyOf"][0]["pattern"],
                lambda v: register("bio", v),
                ["", "hello", "a\x00b"],
            ),
            (
                schemas["PostCreate"]["properties"]["text"]["pattern"],
                post,
                ["a", " a ", "", "   ", "a" * 500, "a" * 501, " " + "a" * 500 + "\n", "a\x00b"],
            ),
        ]  # fmt: skip
        for pattern, send, values in cases:
            for value in values:
                assert (send(value) == 201) == bool(re.search(pattern, value)), (pattern, value)
        parent = schemas["PostCreate"]["properties"]["parent_id"]["anyOf"][0]
        assert parent["type"] == "integer" and "never `1.0`" in parent["description"]
        sent = client.post("/post/", json={"text": "re", "parent_id": 1.0}, headers=user.headers)
        assert sent.status_code == 422, sent.text

    def test_every_operation_has_a_summary_and_documents_its_errors(self) -> None:
        schema = default_app.openapi()
        operations = [
            (f"{method.upper()} {path}", op)
            for path, item in schema["paths"].items()
            for method, op in item.items()
        ]
        assert len(operations) >= 20
        for name, op in operations:
            codes = set(op["responses"])
            assert op.get("summary"), name
            assert {"413", "503"} <= codes, name
            assert any(c.startswith("2") for c in codes), name
            if op.get("parameters") or "requestBody" in op:
                assert "422" in codes, name
            if "requestBody" in op:
                assert "400" in codes, name
            if op.get("security"):
                assert "401" in codes, name
            if "429" in codes:
                assert "Retry-After" in op["responses"]["429"]["headers"], name
            assert "Retry-After" in op["responses"]["503"]["headers"], name
            for code, answer in op["responses"].items():
                if code[0] in "45":
                    assert "application/json" in answer["content"], (name, code)

    def test_protected_operations_answer_401_without_a_token(self, client: TestClient) -> None:
        schema = default_app.openapi()
        protected = [
            (method.upper(), path)
            for path, item in schema["paths"].items()
            for method, op in item.items()
            if op.get("security")
        ]
        assert len(protected) >= 10
        for method, path in protected:
            url = path.format(id=1, username="nobody")
            body = {} if method in ("POST", "PATCH") else None
            for headers in [{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer x.y.z"}]:
                response = client.request(method, url, json=body, headers=headers)
                assert_json_error(response, 401)
                assert response.headers["www-authenticate"] == "Bearer", (method, path)
