"""The FastAPI application."""

import asyncio
import gc
import logging
import math
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from pamps import __version__, metrics
from pamps.config import ConfigError, check_settings, cors_origins, settings
from pamps.database import open_database, open_replicas
from pamps.logs import access_records, configure_logging
from pamps.middleware import BodySizeLimit, ConcurrencyLimit, InFlight, RequestContext
from pamps.models.common import ErrorMessage
from pamps.ratelimit import RateLimiter
from pamps.routes import OPENAPI_TAGS, include_routers
from pamps.routes.mastodon import PREFIXES as MASTODON_PREFIXES
from pamps.routes.mastodon.grants import KnownTokens
from pamps.routes.mastodon.limits import RateLimitHeaders
from pamps.routes.mastodon.rendered import PageCache
from pamps.routes.metrics import router as metrics_router
from pamps.routing import include
from pamps.web import mount_web_app

log = logging.getLogger("pamps")

# SQLSTATE classes meaning "the database cannot serve right now": connection
# exceptions, insufficient resources, operator intervention (shutdown,
# statement timeout), lock timeouts/serialization conflicts.
UNAVAILABLE_SQLSTATE_CLASSES = ("08", "53", "57")
UNAVAILABLE_SQLSTATES = ("40001", "40P01", "55P03")
SENSITIVE_FIELDS = {"password", "current_password", "refresh_token", "access_token"}
MAX_ECHOED_INPUT = 1024


def database_unavailable(error: sa_exc.SQLAlchemyError) -> bool:
    """True for faults of the database or the pool, by type and SQLSTATE."""
    if isinstance(error, sa_exc.TimeoutError):  # pool exhausted
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        return sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in UNAVAILABLE_SQLSTATES
    # psycopg's connection failures carry no SQLSTATE; sqlite's "database is
    # locked" is an OperationalError too.
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError) or isinstance(
        orig, sqlite3.OperationalError
    )


async def database_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, sa_exc.SQLAlchemyError)
    if database_unavailable(error):
        log.warning("database unavailable: %s", type(error).__name__)
        return JSONResponse(
            {"detail": "Database temporarily unavailable, try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    if isinstance(error, sa_exc.DataError):
        # The database refused a value the validation let through (a NUL byte
        # in PostgreSQL text, a number out of range): the client's input.
        log.info("value refused by the database: %s", type(error.orig).__name__)
        detail = [{"type": "value_error", "loc": ["body"], "msg": "Value cannot be stored"}]
        return JSONResponse({"detail": detail}, status_code=422)
    raise error  # RequestContext answers 500 and logs it


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    """A validation error without the submitted secret or an oversized input.

    Only a single value is echoed: a whole object (a "missing" field's error
    carries the entire body, password included) or raw bytes (a body sent as
    text/plain, perhaps not even UTF-8) never are."""
    error = {k: v for k, v in error.items() if k not in ("url", "ctx")}
    loc = {str(part) for part in error.get("loc", ())}
    value = error.get("input")
    if "input" in error and (
        not isinstance(value, str | int | float | bool | None)
        or loc & SENSITIVE_FIELDS
        or len(repr(value)) > MAX_ECHOED_INPUT
        or not renderable(value)
    ):
        del error["input"]
    msg = error.get("msg")
    if isinstance(msg, str) and msg.startswith(PYDANTIC_PREFIX):
        # Our validators' messages, as written ("must not be empty").
        error["msg"] = msg[len(PYDANTIC_PREFIX) :]
    return error


PYDANTIC_PREFIX = "Value error, "


def renderable(value: object) -> bool:
    """Whether JSON can carry the value (NaN, infinities and lone surrogates
    cannot; the body check refuses them, other inputs may still hold them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return not any("\ud800" <= char <= "\udfff" for char in value)
    return True


MASTODON_500 = b'{"error":"Internal Server Error"}'


def mastodon_error(request: Request, status_code: int, detail: Any, headers: Any = None) -> Any:
    """Mastodon's error shape, ``{"error": ...}``, for its paths; None elsewhere
    (the native API keeps ``{"detail": ...}``)."""
    # getattr: the handlers are also called on their own, without a request.
    url = getattr(request, "url", None)
    if url is None or not url.path.startswith(MASTODON_PREFIXES):
        return None
    # OAuth errors carry their own code and description.
    body = detail if isinstance(detail, dict) and "error" in detail else {"error": str(detail)}
    return JSONResponse(body, status_code=status_code, headers=headers)


async def http_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    answer = mastodon_error(request, error.status_code, error.detail, error.headers)
    return answer or await http_exception_handler(request, error)


async def validation_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ())[1:])
    answer = mastodon_error(request, 422, f"Validation failed: {where} {first.get('msg', '')}")
    if answer is not None:
        return answer  # type: ignore[no-any-return]
    detail = [_safe_error(e) for e in error.errors()]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def method_not_allowed_handler(request: Request, error: Exception) -> JSONResponse:
    """405 naming every method of the path in ``Allow``: Starlette names only
    those of the first route whose path matched, and each route here has one
    method. Asked of the routes themselves, so it holds for routes to come."""
    routes = [route for route in request.app.router.routes if not isinstance(route, Mount)]
    allowed = [
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]
    # None: the 405 came from the one mount, the docs' static files.
    allowed = allowed or ["GET", "HEAD"]
    headers = {"Allow": ", ".join(allowed)}
    answer = mastodon_error(request, 405, "Method Not Allowed", headers)
    if answer is not None:
        return answer  # type: ignore[no-any-return]
    return JSONResponse(
        {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(allowed)}
    )


# Answers any operation can give besides those its route documents: the body
# size limit (413, checked on every request), a database that cannot serve
# (503), a body that cannot be parsed at all (400, e.g. bytes that are not
# UTF-8; malformed JSON is a 422) or that did not arrive in time (408).
COMMON_ERRORS = {
    "413": "Request body too large",
    "503": "Database temporarily unavailable, try again shortly",
}
BODY_ERRORS = {
    "400": "The request body could not be parsed",
    "408": "Request body not received in time",
}
RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
RATE_LIMIT_HEADERS = {
    "Retry-After": RETRY_AFTER,
    "X-RateLimit-Limit": {
        "description": "Requests allowed per window",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {"description": "Requests left", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {
        "description": "When the window resets (Unix time)",
        "schema": {"type": "integer"},
    },
}


def document_common_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the app-wide error answers to every operation of an OpenAPI schema."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorMessage", ErrorMessage.model_json_schema())
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            answers = operation.setdefault("responses", {})
            errors = COMMON_ERRORS | (BODY_ERRORS if "requestBody" in operation else {})
            for code, description in errors.items():
                answers.setdefault(code, {"description": description, "content": content})
            answers["503"].setdefault("headers", {"Retry-After": RETRY_AFTER})
            if "429" in answers:
                answers["429"].setdefault("headers", RATE_LIMIT_HEADERS)
    return schema


def _openapi_with_common_errors(app: FastAPI) -> Callable[[], dict[str, Any]]:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the schema until the routes change; adding the
        # errors again to a cached schema changes nothing.
        return document_common_errors(generate())

    return openapi


_frozen = False


def freeze_startup_objects() -> None:
    """Move what startup built out of the garbage collector's reach, once per
    process: full collections walked all of it ("GC freeze" row of
    docs/performance.md)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()  # startup's own garbage is freed, not frozen
        gc.freeze()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The worker's resources, held by the application until it stops."""
    app.state.database = database = open_database(app.state.database_uri or str(settings.db.uri))
    app.state.replicas = replicas = open_replicas(database)
    app.state.limiter = limiter = RateLimiter()
    app.state.inflight = InFlight.from_settings()
    app.state.pages = PageCache.from_settings()
    app.state.tokens = KnownTokens.from_settings()
    try:
        await database.open()
    except Exception as error:  # the database is down: requests will say 503
        log.warning("database pool not opened: %s", type(error).__name__)
    if replicas is not None:
        await replicas.open()
    sampler = port_server = None
    if settings.metrics.enabled:
        sampler = asyncio.create_task(metrics.sample_pool_forever(database))
        port_server = await asyncio.to_thread(metrics.start_port_server)
    freeze_startup_objects()
    try:
        yield
    finally:
        if replicas is not None:
            await replicas.close()
        if sampler is not None:
            sampler.cancel()
        await asyncio.to_thread(metrics.stop_port_server, port_server)
        await database.close()
        await limiter.close()
        metrics.worker_stopped()
        log.info("stopped: connections closed")


DESCRIPTION = """
A Twitter-style microblog. Register with `POST /user/`, then use **Authorize**
(username and password) to call the routes marked with a lock.

Lists are newest first and paged with `limit` (1-100) and a cursor; the next
page's URL is in the `Link` response header.
"""


def create_app(database_uri: str | None = None) -> FastAPI:
    """The API, on ``database_uri`` (default: the ``db.uri`` setting)."""
    check_settings()
    configure_logging()
    telemetry = bool(settings.server.telemetry)
    # FastAPI's /docs and /redoc load their assets from a CDN; these are
    # served from the installed package, so the docs work offline.
    app = FastAPIOffline(
        static_url="/docs/assets",
        title="Pamps",
        description=DESCRIPTION,
        version=__version__,
        lifespan=lifespan,
        openapi_tags=OPENAPI_TAGS,
        # FastAPI's native OpenTelemetry checks the global providers on every
        # request (~3 % of a cheap one): only when asked for.
        telemetry={"tracing": telemetry, "metrics": telemetry, "logs": telemetry},
    )
    app.state.database_uri = database_uri
    include_routers(app)
    if settings.metrics.enabled and not metrics.separate_port():
        include(app, metrics_router)
    app.openapi = _openapi_with_common_errors(app)  # type: ignore[method-assign]
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(405, method_not_allowed_handler)
    app.add_exception_handler(sa_exc.SQLAlchemyError, database_error_handler)
    origins = cors_origins()
    if origins:
        if "*" in origins:
            raise ConfigError("server.cors_origins must list origins, not '*'")
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Link", "Retry-After", "X-Request-ID"],
        )
    # Innermost: it sees the answers of the exception handlers too.
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(ConcurrencyLimit)
    app.add_middleware(BodySizeLimit)
    # Outermost: every answer gets its headers, and is counted and logged.
    app.add_middleware(
        RequestContext,
        metrics=bool(settings.metrics.enabled),
        access_log=access_records(),
        error_bodies=((MASTODON_PREFIXES, MASTODON_500),),
    )
    mount_web_app(app)
    return app


try:
    app = create_app()
except ConfigError as error:
    # One clear line and a non-zero exit, whoever imports the app (uvicorn,
    # gunicorn, the CLI): no traceback.
    sys.stderr.write(f"pamps: configuration error: {error}\n")
    raise SystemExit(1) from None
