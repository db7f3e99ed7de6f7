"""A request leaves no reference cycle behind.

Objects in a cycle are freed only by the cyclic garbage collector, whose
passes then walk every young object: a cycle per request costs each request
that work ("reference cycles" row of docs/performance.md). The requests here
go to the ASGI app the way Uvicorn sends them: the server's object for the
request holds the scope, and receive and send are its bound methods, so
anything the app leaves in the scope that holds receive closes a cycle.
"""

import asyncio
import gc
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests import conftest


class ServerRequest:
    """One request as a server holds it (Uvicorn's RequestResponseCycle):
    the body, then a disconnect once the answer is sent."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (name.lower().encode(), value.encode())
                for name, value in {
                    "host": "testserver",
                    "content-length": str(len(body)),
                    **headers,
                }.items()
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.body: bytes | None = body
        self.status = 0
        self.done = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.body is not None:
            message = {"type": "http.request", "body": self.body, "more_body": False}
            self.body = None
            return message
        await self.done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif not message.get("more_body", False):
            self.done.set()


def cycles_left(client: TestClient, requests: Callable[[], list[ServerRequest]]) -> int:
    """Unreachable objects the cyclic GC finds after ``requests`` are
    answered (each made afresh, answered one after the other), with the
    collector off meanwhile; every answer must be a success."""

    async def answer() -> None:
        for request in requests():
            await client.app(request.scope, request.receive, request.send)
            assert 200 <= request.status < 300, request.status

    assert client.portal is not None
    client.portal.call(answer)  # warm: caches, prepared statements, pools
    gc.collect()
    gc.disable()
    try:
        client.portal.call(answer)
        return gc.collect()
    finally:
        gc.enable()


def post(user: conftest.TestUser, text: str = "no cycles") -> ServerRequest:
    body = json.dumps({"text": text}).encode()
    headers = {"content-type": "application/json", **user.headers}
    return ServerRequest("POST", "/post/", headers, body)


@pytest.mark.parametrize("count", [1, 20])
def test_posting_leaves_no_cycle(
    client: TestClient, make_user: Callable[..., conftest.TestUser], count: int
) -> None:
    user = make_user()
    user.headers  # noqa: B018 - the login, before the collector is off
    assert cycles_left(client, lambda: [post(user) for _ in range(count)]) == 0


def test_liking_and_reading_leave_no_cycle(
    client: TestClient,
    make_user: Callable[..., conftest.TestUser],
    make_post: Callable[..., dict[str, Any]],
) -> None:
    user = make_user()
    posts = [make_post(user, f"post {n}") for n in range(10)]
    headers = user.headers
    liked = iter(posts)

    def requests() -> list[ServerRequest]:
        target = next(liked)["id"]
        return [
            ServerRequest("POST", f"/post/{target}/like/", headers, b""),
            ServerRequest("GET", f"/post/{target}/", {}, b""),
            ServerRequest("GET", "/post/", {}, b""),
            ServerRequest("GET", "/user/timeline", headers, b""),
        ]

    assert cycles_left(client, requests) == 0
