"""Prometheus metrics: what they are, how a worker records them, how they are served.

The metrics are prometheus_client's module-level objects, as the library
wants them (one registry per process; in multiprocess mode every process
writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` and a scrape sums
the files). ``pamps serve`` with several workers gives each start a fresh
directory of its own and removes it afterwards (:func:`multiprocess_dir`).

Requests are counted by :class:`pamps.middleware.RequestContext` through
:class:`HttpMetrics`; rate-limit refusals and logins where they happen. The
names and their meaning are listed in docs/operations.md.
"""

import asyncio
import logging
import os
import platform
import shutil
import tempfile
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
)
from prometheus_client.exposition import choose_encoder
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from pamps import __version__
from pamps.config import settings

log = logging.getLogger("pamps.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PATH = "/metrics"
# The route label of requests no route answered: unknown paths, the web
# app's files and pages, /docs' assets, and requests refused before routing
# (413, 408, 422 for a body JSON cannot carry, 503 when no place was free).
UNROUTED = "unrouted"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Pamps answers most requests in milliseconds: finer buckets at the low end
# than prometheus_client's defaults.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Seconds between two samples of the database pool's gauges in each worker.
POOL_SAMPLE_SECONDS = 1.0

REQUESTS = Counter(
    "pamps_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "pamps_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
RATE_LIMIT_REFUSALS = Counter(
    "pamps_ratelimit_refusals",
    "Requests refused with 429 by a rate limit, by the limit's setting name.",
    ["limit"],
)
LOGINS = Counter(
    "pamps_logins",
    "Password logins (POST /token and Mastodon's password grant), by result.",
    ["result"],
)
LOGIN_SUCCESS = LOGINS.labels(result="success")
LOGIN_FAILURE = LOGINS.labels(result="failure")
# Gauges of the workers alive, summed ("livesum"): each worker sets its own.
POOL_MAX = Gauge(
    "pamps_db_pool_max_connections",
    "Connections the workers' database pools may open.",
    ["database"],
    multiprocess_mode="livesum",
)
POOL_OPEN = Gauge(
    "pamps_db_pool_open_connections",
    "Connections the workers' database pools hold open (idle or in use).",
    ["database"],
    multiprocess_mode="livesum",
)
POOL_IDLE = Gauge(
    "pamps_db_pool_idle_connections",
    "Open connections waiting in the pools for a request.",
    ["database"],
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "pamps_db_pool_waiting_requests",
    "Requests waiting for a pool connection (PostgreSQL's pool only counts them).",
    ["database"],
    multiprocess_mode="livesum",
)
BUILD_INFO = Gauge(
    "pamps_build_info",
    "Always 1; its labels say which Pamps and Python run.",
    ["version", "python"],
    multiprocess_mode="max",
)
BUILD_INFO.labels(version=__version__, python=platform.python_version()).set(1)


def multiprocess_mode() -> bool:
    return MULTIPROC_ENV in os.environ


def registry() -> Any:
    """The registry a scrape reads: this process's, or in multiprocess mode
    one summing the files of every process."""
    if not multiprocess_mode():
        return REGISTRY
    collecting = CollectorRegistry()
    multiprocess.MultiProcessCollector(collecting)
    return collecting


def render(accept: str | None) -> tuple[bytes, str]:
    """The exposition for a scrape's ``Accept`` header: Prometheus' text
    format, or OpenMetrics when asked for; and its content type."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry()), content_type


class RouteTemplates:
    """The path template of the route that answered a request, as mounted on
    the app (a route of an included router knows only its own part of the
    path): from ``scope["route"]``, set by the router, never from the URL."""

    def __init__(self) -> None:
        self._templates: dict[int, tuple[Any, str]] = {}

    def __call__(self, scope: MutableMapping[str, Any]) -> str | None:
        """The template, or None when no route answered."""
        route = scope.get("route")
        if route is None:
            return None
        entry = self._templates.get(id(route))
        if entry is None or entry[0] is not route:  # first sight: learn every route
            from fastapi.routing import iter_route_contexts

            self._templates = {
                id(context.original_route): (context.original_route, str(context.path))
                for context in iter_route_contexts(scope["app"].routes)
                if context.path is not None
            }
            entry = self._templates.get(id(route))
        return entry[1] if entry is not None and entry[0] is route else None


class HttpMetrics:
    """Records each request's count and latency, labelled with its route's
    template, so the series stay as few as the routes. The children of the
    metrics are kept per (route, method, status): a request costs two
    dictionary lookups, an increment and an observation."""

    def __init__(self, templates: RouteTemplates) -> None:
        self.templates = templates
        self._children: dict[tuple[int, str, int], tuple[Any, Any]] = {}

    def observe(self, scope: MutableMapping[str, Any], status: int, seconds: float) -> None:
        method = scope["method"]
        if method not in METHODS:  # any token is a valid method: bound the labels
            method = "OTHER"
        key = (id(scope.get("route")), method, status)
        children = self._children.get(key)
        if children is None:
            route = self.templates(scope) or UNROUTED
            children = self._children[key] = (
                REQUESTS.labels(method, route, str(status) if status else "none"),
                LATENCY.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)


def pool_usage(database: Any) -> tuple[str, dict[str, int]] | None:
    """The backend and the pool's figures of a request-path database: psycopg's
    pool statistics on PostgreSQL; SQLAlchemy's queue pool on SQLite, which
    does not count waiters (none reported). None when neither is there."""
    pool = getattr(database, "pool", None)
    if isinstance(pool, AsyncConnectionPool):
        stats = pool.get_stats()
        return "postgresql", {
            "max": pool.max_size,
            "open": stats.get("pool_size", 0),
            "idle": stats.get("pool_available", 0),
            "waiting": stats.get("requests_waiting", 0),
        }
    engine = getattr(database, "engine", None)
    if isinstance(engine, AsyncEngine):
        queue = engine.pool
        if not isinstance(queue, QueuePool):
            return None  # e.g. the one shared connection of an in-memory database
        idle, in_use = queue.checkedin(), queue.checkedout()
        # The engine was built with the pool's settings (pamps.database).
        capacity = queue.size() + max(0, int(getattr(queue, "_max_overflow", 0)))
        return "sqlite", {"max": capacity, "open": idle + in_use, "idle": idle}
    return None


def sample_pool(database: Any) -> None:
    usage = pool_usage(database)
    if usage is None:
        return
    backend, figures = usage
    POOL_MAX.labels(backend).set(figures["max"])
    POOL_OPEN.labels(backend).set(figures["open"])
    POOL_IDLE.labels(backend).set(figures["idle"])
    if "waiting" in figures:
        POOL_WAITING.labels(backend).set(figures["waiting"])


async def sample_pool_forever(database: Any) -> None:
    """Keep this worker's pool gauges current (a scrape may be answered by
    another worker, or by the metrics port's thread)."""
    while True:
        try:
            sample_pool(database)
        except Exception:  # a metric must never take the worker down
            log.warning("database pool not sampled", exc_info=True)
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


class PortServer:
    """prometheus_client's HTTP server on ``metrics.host:metrics.port``, in a
    thread of this process."""

    def __init__(self) -> None:
        host, port = str(settings.metrics.host), int(settings.metrics.port)
        self.server, self.thread = start_http_server(port, addr=host, registry=registry())
        log.info("metrics served on http://%s:%d%s", host, port, PATH)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


_port_lock = threading.Lock()
_port_server: PortServer | None = None


def separate_port() -> bool:
    return bool(settings.metrics.enabled) and int(settings.metrics.port) != 0


def start_port_server() -> PortServer | None:
    """Serve the metrics on their own port from this process, once; None when
    another process serves them (the parent of several workers) or there is
    nothing to serve."""
    global _port_server
    if not separate_port() or multiprocess_mode():
        return None
    with _port_lock:
        if _port_server is not None:
            return None
        _port_server = PortServer()
        return _port_server


def stop_port_server(server: PortServer | None) -> None:
    global _port_server
    if server is None:
        return
    with _port_lock:
        server.close()
        _port_server = None


def worker_stopped() -> None:
    """A worker's pool gauges leave the sums when it stops (multiprocess mode)."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())


@contextmanager
def multiprocess_dir(workers: int) -> Iterator[None]:
    """For a server of several worker processes: a fresh, empty directory
    for their metric files (the workers inherit the environment variable),
    the metrics port served from this parent process if one is configured,
    and everything removed when the server stops."""
    if workers <= 1 or not settings.metrics.enabled:
        yield
        return
    directory = tempfile.mkdtemp(prefix="pamps-metrics-")
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = directory
    server = None
    try:
        if separate_port():
            server = PortServer()
        yield
    finally:
        if server is not None:
            server.close()
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)
