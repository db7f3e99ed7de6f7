"""Rate limits on top of the ``limits`` library (its asyncio flavour).

Rules are limit strings in settings (``ratelimit.login = "25/5 minutes"``).
Counters live in memory by default, or in Redis when ``ratelimit.storage_uri``
says ``redis://...``, so several workers share them. If the storage cannot be
reached the limit is skipped (logged), never turned into an error.

Requests are served on the event loop, so counting uses ``limits.aio``: the
configured ``memory://`` or ``redis://`` URI is mapped to ``async+memory://``
or ``async+redis://`` (settings keep the plain URIs).
"""

import asyncio
import logging
import math
import threading
import time
import weakref
from functools import cache
from typing import Any

from fastapi import Request
from limits import RateLimitItem, parse
from limits.aio import strategies
from limits.aio.storage import Storage
from limits.storage import storage_from_string

from pamps.blocking import run_blocking
from pamps.config import settings
from pamps.errors import TooManyRequests

log = logging.getLogger("pamps.ratelimit")

# redis-py waits forever by default: a Redis that accepts connections but never
# answers would hang every limited request. Bounded waits turn that into the
# "storage unavailable" path. Options in the URI (?socket_timeout=5) win.
REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}

Limiter = strategies.MovingWindowRateLimiter

# A Redis client's connections belong to the event loop that opened them, so
# each loop gets its own client (a server has one loop; tests start several).
# Memory counters belong to no loop and are shared, so they outlive a loop.
_loop_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Limiter]] = (
    weakref.WeakKeyDictionary()
)
_shared_limiters: dict[str, Limiter] = {}
_lock = threading.Lock()


def async_storage_uri(storage_uri: str) -> str:
    """``memory://`` -> ``async+memory://``, ``redis://`` -> ``async+redis://``."""
    return storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"


def _loop_bound(storage_uri: str) -> bool:
    return not async_storage_uri(storage_uri).startswith("async+memory")


def _new_storage(storage_uri: str) -> Storage:
    uri = async_storage_uri(storage_uri)
    options: dict[str, Any] = {}
    if uri.startswith("async+redis"):
        # redis-py (limits[redis]), not the coredis default of limits.aio.
        options = {"implementation": "redispy", **REDIS_TIMEOUTS}
    storage = storage_from_string(uri, **options)
    assert isinstance(storage, Storage)
    return storage


def _limiter(storage_uri: str) -> Limiter:
    """The limiter for ``storage_uri`` usable on the running event loop."""
    if _loop_bound(storage_uri):
        limiters = _loop_limiters.setdefault(asyncio.get_running_loop(), {})
    else:
        limiters = _shared_limiters
    limiter = limiters.get(storage_uri)
    if limiter is None:
        with _lock:
            limiter = limiters.get(storage_uri)
            if limiter is None:
                limiter = limiters[storage_uri] = Limiter(_new_storage(storage_uri))
    return limiter


@cache
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


def reset_limits() -> None:
    """Forget every counter (tests, and operators via the CLI).

    Plain code may call it: it runs on an event loop of its own.
    """
    run_blocking(reset_limits_async())


async def reset_limits_async() -> None:
    """:func:`reset_limits` for code running on the event loop."""
    storage_uri = str(settings.ratelimit.storage_uri)
    if not _loop_bound(storage_uri):
        await _limiter(storage_uri).storage.reset()
        return
    # A client of its own, closed afterwards: the caller's loop may be a
    # short-lived one that nobody would close the client on.
    storage = _new_storage(storage_uri)
    try:
        await storage.reset()
    finally:
        client = getattr(getattr(storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _rule(name: str) -> RateLimitItem | None:
    if not settings.ratelimit.enabled:
        return None
    return _item(str(settings.ratelimit[name]))


def _too_many(item: RateLimitItem, reset_at: float) -> TooManyRequests:
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return TooManyRequests(
        headers={
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": str(item.amount),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(math.ceil(reset_at)),
        }
    )


async def check(name: str, *key: str) -> None:
    """Raise 429 if rule ``name`` is already exhausted for ``key``."""
    item = _rule(name)
    if item is None:
        return
    try:
        limiter = _limiter(str(settings.ratelimit.storage_uri))
        if await limiter.test(item, name, *key):
            return
        stats = await limiter.get_window_stats(item, name, *key)
    except Exception:  # storage down: serve rather than fail
        log.warning("rate limit storage unavailable; %s not checked", name, exc_info=True)
        return
    raise _too_many(item, stats.reset_time)


async def hit(name: str, *key: str) -> None:
    """Count one event for rule ``name``; raise 429 when over the limit."""
    item = _rule(name)
    if item is None:
        return
    try:
        limiter = _limiter(str(settings.ratelimit.storage_uri))
        if await limiter.hit(item, name, *key):
            return
        stats = await limiter.get_window_stats(item, name, *key)
    except Exception:
        log.warning("rate limit storage unavailable; %s not counted", name, exc_info=True)
        return
    raise _too_many(item, stats.reset_time)
