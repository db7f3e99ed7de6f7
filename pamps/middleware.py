"""Pure ASGI middleware: a request id and safe headers on every response, a
bare 500 for unexpected errors, each request's metrics and (JSON logs) its
log record, a cap on request bodies that answers 413
before anything is parsed, a request's whole body read before it takes a
place among those in flight, and a limit on the requests in flight.

(Starlette's own RequestBodyLimitMiddleware answers 413 in plain text; the
API's contract is a JSON ``{"detail": ...}`` for every error.)"""

import asyncio
import contextvars
import json
import logging
import os
import re
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pamps.bodies import NOT_PARSED, PARSED_BODY, is_json, json_body_problem
from pamps.config import settings
from pamps.database import pool_capacity
from pamps.metrics import PATH as METRICS_PATH
from pamps.metrics import HttpMetrics, RouteTemplates

log = logging.getLogger("pamps")
access_log = logging.getLogger("pamps.access")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
NOSNIFF = (b"x-content-type-options", b"nosniff")
# Set by BodySizeLimit on requests whose body it read: an async callable
# telling whether the client has hung up since.
CLIENT_GONE = "pamps.client_gone"


class RequestRecord:
    """What a request's log record learns on the way (JSON logs)."""

    __slots__ = ("user_id",)

    def __init__(self) -> None:
        self.user_id: int | None = None


# A mutable record rather than the values themselves: a value set in a
# context the framework copied would not come back to the middleware.
request_record_var: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "request_record", default=None
)


def note_request_user(user_id: int) -> None:
    """Name the request's user in its log record (called where the current
    user is resolved)."""
    record = request_record_var.get()
    if record is not None:
        record.user_id = user_id


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every log record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RequestContext:
    """Gives each request an id (or keeps a sane ``X-Request-ID`` sent by a
    proxy) and adds ``X-Request-ID`` and ``X-Content-Type-Options`` to the
    response. An unexpected error becomes a bare 500, logged with the id.

    With ``metrics``, each request is counted and timed once answered (the
    router has set its route by then); with ``access_log``, it is logged as
    one record on ``pamps.access`` (the JSON format's request lines)."""

    DEFAULT_500 = b'{"detail":"Internal Server Error"}'

    def __init__(
        self,
        app: ASGIApp,
        metrics: bool = False,
        access_log: bool = False,
        error_bodies: tuple[tuple[tuple[str, ...], bytes], ...] = (),
    ) -> None:
        """``error_bodies``: (path prefixes, body) of a 500 in another shape
        (the Mastodon face's ``{"error": ...}``)."""
        self.app = app
        self.templates = RouteTemplates()
        self.metrics = HttpMetrics(self.templates) if metrics else None
        self.access_log = access_log
        self.error_bodies = error_bodies

    def error_body(self, path: str) -> bytes:
        for prefixes, body in self.error_bodies:
            if path.startswith(prefixes):
                return body
        return self.DEFAULT_500

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                request_id = incoming if _CLIENT_ID.fullmatch(incoming) else ""
                break
        # 32 random hex digits, as uuid4().hex without building a UUID.
        request_id = request_id or os.urandom(16).hex()
        token = request_id_var.set(request_id)
        added = ((b"x-request-id", request_id.encode()), NOSNIFF)
        arrived = time.perf_counter()
        record = None
        if self.access_log:
            record = RequestRecord()
            request_record_var.set(record)

        started = False
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *added]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:
            log.error("unhandled error on %s %s", scope["method"], scope["path"], exc_info=error)
            if started:
                raise  # the server closes the connection
            await send_json(send_with_headers, 500, self.error_body(scope["path"]))
        finally:
            seconds = time.perf_counter() - arrived
            if self.metrics is not None:
                self.metrics.observe(scope, status, seconds)
            if record is not None:
                log_request(scope, status, seconds, record, self.templates(scope))
                request_record_var.set(None)
            request_id_var.reset(token)


def log_request(
    scope: Scope, status: int, seconds: float, record: RequestRecord, route: str | None
) -> None:
    """The request's one record: the JSON format writes its fields as keys."""
    client = scope.get("client")
    access_log.info(
        "%s %s %s",
        scope["method"],
        scope["path"],
        status or "-",
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "route": route,
            "status": status or None,
            "duration_ms": round(seconds * 1000, 3),
            "user_id": record.user_id,
            "client": client[0] if client else None,
        },
    )


class BodySizeLimit:
    """Read each request's whole body before the app sees the request.

    So a request takes one of ConcurrencyLimit's places (it is inside this
    one) only once its body is here: clients sending their bodies slowly hold
    a connection, never capacity. Bodies over ``server.max_body_size`` bytes
    get a 413 (a declared Content-Length at once, a chunked body at the limit,
    so a huge upload never reaches the JSON parser); a body not received
    within ``server.body_timeout`` seconds gets a 408. A
    JSON body holding values JSON cannot carry (pamps.bodies) gets a 422.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Read once, when the app first serves: a settings read costs a few
        # microseconds, a noticeable share of a cheap request.
        self.limit = int(settings.server.max_body_size)
        self.timeout = float(settings.server.body_timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if (declared is None or declared == b"0") and (
            b"transfer-encoding" not in headers and scope.get("http_version") in ("1.0", "1.1")
        ):
            # HTTP/1.x without a body (HTTP/2 may send one without either
            # header, so it is read below).
            await self.app(scope, receive, send)
            return
        limit = self.limit
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        try:
            async with asyncio.timeout(self.timeout):
                message = await self._read(receive, limit)
        except TimeoutError:
            body = b'{"detail":"Request body not received in time"}'
            await send_json(send, 408, body, [(b"connection", b"close")])
            return
        if message["type"] != "http.request":  # the client went away
            return
        if len(message.get("body", b"")) > limit:
            await self._refuse(send, limit)
            return
        if message.get("body") and is_json(headers.get(b"content-type")):
            problem, value = json_body_problem(message["body"])
            if problem is not None:
                await send_body_problem(send, *problem)
                return
            if value is not NOT_PARSED:
                scope[PARSED_BODY] = value
        pending: list[Message] = [message]

        async def replay() -> Message:
            # The body, whole, then whatever the server says next (a disconnect).
            return pending.pop(0) if pending else await receive()

        async def client_gone() -> bool:
            """Whether the client has hung up, without waiting: the server
            answers a disconnect at once, and nothing else can follow a whole
            body. What was read is kept for replay()."""
            try:
                async with asyncio.timeout(0):
                    pending.append(await receive())
            except TimeoutError:
                return False
            return bool(pending[-1]["type"] == "http.disconnect")

        # Into the scope itself, not a copy: the router writes the request's
        # route there, which RequestContext reads once it is answered.
        scope[CLIENT_GONE] = client_gone
        try:
            await self.app(scope, replay, send)
        finally:
            # The closure holds the server's receive, and the server's request
            # object holds the scope: left there, every request's objects are
            # freed only by the cyclic GC ("reference cycles" row of
            # docs/performance.md).
            del scope[CLIENT_GONE]

    @staticmethod
    async def _read(receive: Receive, limit: int) -> Message:
        """The whole body as one message, or the first that is not a body
        piece (a disconnect); reading stops once past the limit."""
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return message
        chunks = [message.get("body", b"")]
        size = len(chunks[0])
        while size <= limit:
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if not message.get("more_body", False):
                break
        return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = b'{"detail":"Request body too large (limit %d bytes)"}' % limit
        await send_json(send, 413, body, [(b"connection", b"close")])


async def send_body_problem(send: Send, status: int, reason: str) -> None:
    """400 for bytes that are not UTF-8, 422 (FastAPI's shape) for bad values."""
    if status == 422:
        detail: object = [
            {"type": "json_invalid", "loc": ["body"], "msg": f"Invalid JSON: {reason}"}
        ]
    else:
        detail = reason
    await send_json(send, status, json.dumps({"detail": detail}).encode())


@dataclass
class InFlight:
    """The worker's places for requests in flight: ``general`` for every
    request but logins, ``login`` for logins."""

    general: asyncio.Semaphore
    login: asyncio.Semaphore

    @classmethod
    def from_settings(cls) -> "InFlight":
        """As many places as database connections; logins get their own few
        (at most one per core, since an Argon2 verification keeps a core
        busy, and a quarter of the total), taken from the same total, so a
        storm of logins waits for them and never for the rest of the API."""
        capacity = max(2, pool_capacity())
        logins = max(1, min(os.cpu_count() or 1, capacity // 4))
        return cls(asyncio.Semaphore(capacity - logins), asyncio.Semaphore(logins))


class ConcurrencyLimit:
    """At most as many requests in flight per worker as it has database
    connections (:class:`InFlight`, held by the application).

    A request waiting for a connection holds no thread; still, no more
    requests in flight than connections means every admitted request gets
    its connection at once, and a burst waits here, before any work is done
    for it, for up to ``db.pool_timeout`` seconds; then it gets a 503 with
    ``Retry-After``.
    """

    # Where a password is checked: the native login and the Mastodon face's
    # token grant and authorization form.
    LOGIN_PATHS = frozenset(
        ("/token", "/oauth/token", "/oauth/token/", "/oauth/authorize", "/oauth/authorize/")
    )
    # A login's client is looked for after any wait (its work is a password
    # hash); another request's only after a wait a client may have given up
    # in: the look costs a turn of the event loop, a tenth of a cheap
    # request's work ("a vanished client" row of docs/performance.md).
    give_up_seconds = 1.0

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.timeout = float(settings.db.pool_timeout)  # read once, as BodySizeLimit's

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH:
            # No database work; a scrape must get through when the API is busiest.
            await self.app(scope, receive, send)
            return
        inflight: InFlight = scope["app"].state.inflight
        login = scope["method"] == "POST" and scope["path"] in self.LOGIN_PATHS
        semaphore = inflight.login if login else inflight.general
        if not semaphore.locked():
            await semaphore.acquire()  # a free place: taken at once, no timer needed
        else:
            queued = time.perf_counter()
            try:
                async with asyncio.timeout(self.timeout):
                    await semaphore.acquire()
            except TimeoutError:
                body = b'{"detail":"Server busy, try again shortly"}'
                await send_json(send, 503, body, [(b"retry-after", b"1")])
                return
            client_gone = scope.get(CLIENT_GONE)
            long_wait = time.perf_counter() - queued >= self.give_up_seconds
            if client_gone is not None and (login or long_wait) and await client_gone():
                # Its body was read before it queued here: a client that left
                # meanwhile (a timed-out login) must not cost a place's work.
                semaphore.release()
                return
        try:
            await self.app(scope, receive, send)
        finally:
            semaphore.release()


async def send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
