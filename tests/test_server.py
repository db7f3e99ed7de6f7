"""A real server under abuse that costs an attacker nothing: bodies sent a
byte at a time, and request heads too large or with too many fields. Raw
sockets on loopback, each test bounded to a few seconds. Also the in-flight
limit's handling of clients that leave while queued."""

import asyncio
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pamps.middleware import BodySizeLimit, ConcurrencyLimit, InFlight
from tests.live import live_server


def address(base_url: str) -> tuple[str, int]:
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def exchange(base_url: str, head: bytes, timeout: float = 5) -> bytes:
    """Send a raw request head; what came back before the server closed."""
    with socket.create_connection(address(base_url), timeout=timeout) as sock:
        with suppress(BrokenPipeError, ConnectionResetError):  # refused mid-send
            sock.sendall(head)
        return read_all(sock)


@contextmanager
def dripping(base_url: str, path: str, content_type: str, count: int) -> Iterator[list[bytes]]:
    """``count`` connections sending a 1,000-byte body one byte per 0.2 s
    while the block runs; yields what each of them was answered (filled in
    once the block ends)."""
    answers: list[bytes] = [b""] * count
    stop = threading.Event()
    with ExitStack() as stack:
        socks = []
        for _ in range(count):
            sock = stack.enter_context(socket.create_connection(address(base_url), timeout=10))
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
                "Content-Length: 1000\r\n\r\n".encode()
            )
            socks.append(sock)

        def drip() -> None:
            while not stop.wait(0.2):
                for sock in socks:
                    with suppress(OSError):  # answered and closed
                        sock.send(b" ")

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        try:
            yield answers
        finally:
            stop.set()
            dripper.join()
        for i, sock in enumerate(socks):
            sock.settimeout(5)
            answers[i] = read_all(sock)


class TestSlowBodies:
    def test_slow_senders_hold_no_capacity_and_get_408(self, database_url: str) -> None:
        # 18 slow registrations would hold every general place of a worker
        # (20 connections, at least 2 kept for logins) and 5 slow logins every
        # login place (at most 5); a request waiting for a place gets a 503
        # after 2 s.
        env = {
            "PAMPS_RATELIMIT__ENABLED": "false",
            "PAMPS_DB__POOL_TIMEOUT": "2",
            "PAMPS_SERVER__BODY_TIMEOUT": "4",
        }
        with live_server(database_url, env=env, cli=True) as url, httpx.Client(base_url=url) as c:
            with (
                dripping(url, "/user/", "application/json", 18) as slow_users,
                dripping(url, "/token", "application/x-www-form-urlencoded", 5) as slow_logins,
            ):
                time.sleep(0.5)  # every slow request is in, waiting for its body
                started = time.monotonic()
                user = {"username": "quick", "email": "q@example.com", "password": "p" * 12}
                assert c.post("/user/", json=user).status_code == 201
                login = c.post("/token", data={"username": "quick", "password": "p" * 12})
                assert login.status_code == 200, login.text
                assert c.get("/user/").status_code == 200
                assert time.monotonic() - started < 1.5
                time.sleep(4.5)  # past the body deadline
            for answer in [*slow_users, *slow_logins]:
                assert answer.startswith(b"HTTP/1.1 408 "), answer
                assert answer.endswith(b'{"detail":"Request body not received in time"}')
            assert [u["username"] for u in c.get("/user/").json()] == ["quick"]


class TestHeaderLimits:
    def test_heads_over_the_configured_limits_are_431_and_the_worker_goes_on(
        self, database_url: str
    ) -> None:
        env = {"PAMPS_SERVER__MAX_HEADER_SIZE": "8192", "PAMPS_SERVER__MAX_HEADERS": "20"}
        with live_server(database_url, env=env, cli=True) as url:

            def head(*fields: str) -> bytes:
                lines = ["GET /health HTTP/1.1", "Host: test", *fields, "Connection: close"]
                return ("\r\n".join(lines) + "\r\n\r\n").encode()

            within = [
                head("X-Big: " + "a" * 7000),
                head(*[f"X-F{i}: {i}" for i in range(18)]),  # 20 fields with Host and Connection
            ]
            for request in within:
                assert exchange(url, request).startswith(b"HTTP/1.1 200 "), request[:80]
            over = [
                head("X-Big: " + "a" * 9000),
                head(*[f"X-F{i}: {i}" for i in range(19)]),
                head(*[f"X-F{i}: {i}" for i in range(20_000)]),
                b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: test\r\n\r\n",
            ]
            for request in over:
                answer = exchange(url, request)
                assert answer.startswith(b"HTTP/1.1 431 "), (request[:80], answer)
                assert answer.endswith(b'{"detail":"Request header fields too large"}')
            # 32 MB in one header: refused long before it has all been sent.
            started = time.monotonic()
            answer = exchange(url, head("X-Huge: " + "a" * 32 * 1024 * 1024))
            assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:200]
            assert time.monotonic() - started < 5
            assert httpx.get(f"{url}/health").status_code == 200

    def test_default_limits_refuse_a_64_kib_header(self, database_url: str) -> None:
        with live_server(database_url, cli=True) as url:
            big = b"GET /health HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n"
            assert exchange(url, big).startswith(b"HTTP/1.1 431 ")
            assert httpx.get(f"{url}/health", headers={"X-Ok": "a" * 8000}).status_code == 200


class TestKeepAlive:
    def test_values_json_cannot_carry_leave_the_connection_usable(self, database_url: str) -> None:
        env = {"PAMPS_RATELIMIT__ENABLED": "false"}
        with live_server(database_url, env=env, cli=True) as url:
            connection = http.client.HTTPConnection(*address(url), timeout=5)
            connection.auto_open = 0  # a closed connection raises instead of reopening
            connection.connect()
            try:
                for surrogate in [b"\\ud800", b"\xed\xa0\x80"]:
                    for path, body in [
                        (
                            "/user/",
                            b'{"username": "okname", "email": "ok@example.com", '
                            b'"password": "pass%sword"}' % surrogate,
                        ),
                        ("/refresh_token", b'{"refresh_token": "%s"}' % surrogate),
                        ("/user/", b'{"username": "okname", "bio": NaN}'),
                        ("/refresh_token", b'{"refresh_token": 1e400}'),
                    ]:
                        connection.request("POST", path, body, {"Content-Type": "application/json"})
                        response = connection.getresponse()
                        assert response.status in (400, 422), response.read()
                        response.read()
                        assert not response.will_close
                connection.request("GET", "/health")
                assert connection.getresponse().status == 200
            finally:
                connection.close()


class TestQueuedClientThatLeft:
    """A request waits for a place with its body already read: if its client
    hung up meanwhile (a login that timed out on the client's side), it is
    dropped instead of costing the place its work. A login is looked for
    after any wait, another request after a wait of ``give_up_seconds``."""

    def run(
        self,
        messages: list[dict[str, Any]],
        held: bool,
        path: str = "/token",
        give_up_seconds: float | None = None,
    ) -> list[str]:
        calls: list[str] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            calls.append((await receive())["type"])

        async def scenario() -> None:
            inflight = InFlight(asyncio.Semaphore(1), asyncio.Semaphore(1))
            state = SimpleNamespace(inflight=inflight)
            limit = ConcurrencyLimit(app)
            if give_up_seconds is not None:
                limit.give_up_seconds = give_up_seconds
            stack = BodySizeLimit(limit)
            scope = {
                "type": "http",
                "method": "POST",
                "path": path,
                "http_version": "1.1",
                "headers": [(b"content-length", b"4")],
                "app": SimpleNamespace(state=state),
            }
            queue = list(messages)

            async def receive() -> dict[str, Any]:
                if queue:
                    return queue.pop(0)
                await asyncio.Event().wait()  # a client that stays: nothing more
                raise AssertionError("unreachable")

            async def send(message: dict[str, Any]) -> None:
                pass

            if held:
                place = inflight.login if path == "/token" else inflight.general
                await place.acquire()
                request = asyncio.create_task(stack(scope, receive, send))
                await asyncio.sleep(0.05)  # the request is read and queued
                place.release()
                await request
            else:
                await stack(scope, receive, send)

        asyncio.run(scenario())
        return calls

    BODY = {"type": "http.request", "body": b"a=b&", "more_body": False}
    GONE = {"type": "http.disconnect"}

    def test_a_client_gone_while_queued_is_dropped(self) -> None:
        assert self.run([self.BODY, self.GONE], held=True) == []

    def test_a_client_still_there_is_served_with_its_body(self) -> None:
        assert self.run([self.BODY], held=True) == ["http.request"]

    def test_a_request_that_did_not_wait_is_served(self) -> None:
        assert self.run([self.BODY, self.GONE], held=False) == ["http.request"]

    def test_another_request_is_looked_for_only_after_a_long_wait(self) -> None:
        # Queued 0.05 s: not looked for, under the default, so served.
        assert self.run([self.BODY, self.GONE], held=True, path="/post/") == ["http.request"]
        gone = self.run([self.BODY, self.GONE], held=True, path="/post/", give_up_seconds=0.01)
        assert gone == []
        stays = self.run([self.BODY], held=True, path="/post/", give_up_seconds=0.01)
        assert stays == ["http.request"]


class TestLoginPlaces:
    """Requests that check a password wait for the login places: the native
    login, the Mastodon face's token grant and its authorization form."""

    def place(self, method: str, path: str) -> str:
        taken: list[str] = []

        async def scenario() -> None:
            inflight = InFlight(asyncio.Semaphore(1), asyncio.Semaphore(1))

            async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
                taken.extend(
                    name for name in ("general", "login") if getattr(inflight, name).locked()
                )

            scope = {
                "type": "http",
                "method": method,
                "path": path,
                "app": SimpleNamespace(state=SimpleNamespace(inflight=inflight)),
            }
            await ConcurrencyLimit(app)(scope, None, None)  # type: ignore[arg-type]

        asyncio.run(scenario())
        return taken[0]

    @pytest.mark.parametrize(
        ("method", "path", "place"),
        [
            ("POST", "/token", "login"),
            ("POST", "/oauth/token", "login"),
            ("POST", "/oauth/authorize", "login"),
            ("POST", "/oauth/authorize/", "login"),
            ("GET", "/oauth/authorize", "general"),
            ("POST", "/post/", "general"),
            ("GET", "/api/v1/timelines/home", "general"),
        ],
    )
    def test_place_by_method_and_path(self, method: str, path: str, place: str) -> None:
        assert self.place(method, path) == place
