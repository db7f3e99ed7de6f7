"""Rate limits on top of the ``limits`` library (its asyncio flavour).

Rules are limit strings in settings (``ratelimit.login = "25/5 minutes"``),
read at each use. Counters live in memory by default, or in Redis when
``ratelimit.storage_uri`` says ``redis://...``, so several workers and hosts
share them. If the storage cannot be reached the limit is skipped (logged),
never turned into an error.

One :class:`RateLimiter` belongs to the application (created in its
lifespan); its Redis connections belong to the event loop that serves it.
"""

import asyncio
import logging
import math
import time
from functools import cache
from typing import Any, NamedTuple

from limits import RateLimitItem, parse
from limits.aio import strategies
from limits.aio.storage import Storage
from limits.storage import storage_from_string

from pamps.config import setting, settings
from pamps.errors import TooManyRequests
from pamps.metrics import RATE_LIMIT_REFUSALS

log = logging.getLogger("pamps.ratelimit")

# redis-py waits forever by default: a Redis that accepts connections but never
# answers would hang every limited request. Options in the URI win.
REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}

Limiter = strategies.MovingWindowRateLimiter


def new_storage(storage_uri: str) -> Storage:
    """The async storage for ``memory://`` or ``redis://`` (settings keep the
    plain URIs; ``limits.aio`` wants ``async+...``)."""
    uri = storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}"
    options: dict[str, Any] = {}
    if uri.startswith("async+redis"):
        # redis-py (limits[redis]), not the coredis default of limits.aio.
        options = {"implementation": "redispy", **REDIS_TIMEOUTS}
    storage = storage_from_string(uri, **options)
    assert isinstance(storage, Storage)
    return storage


async def close_storage(storage: Storage) -> None:
    client = getattr(getattr(storage, "bridge", None), "storage", None)
    if client is not None:
        await client.aclose()


@cache
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


def _rule(name: str) -> RateLimitItem | None:
    if not setting("ratelimit.enabled"):
        return None
    return _item(str(setting(f"ratelimit.{name}")))


def _too_many(name: str, item: RateLimitItem, reset_at: float) -> TooManyRequests:
    RATE_LIMIT_REFUSALS.labels(name).inc()
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return TooManyRequests(
        headers={
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": str(item.amount),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(math.ceil(reset_at)),
        }
    )


class Usage(NamedTuple):
    """How much of a rule a key has used: what the X-RateLimit-* headers say."""

    limit: int
    remaining: int
    reset_at: float  # Unix time when the window has room again


class RateLimiter:
    """Counts events per rule and key in the configured storage."""

    def __init__(self) -> None:
        # One limiter per storage URI, so a changed setting takes effect.
        self._limiters: dict[str, Limiter] = {}

    def _limiter(self) -> Limiter:
        uri = str(settings.ratelimit.storage_uri)
        limiter = self._limiters.get(uri)
        if limiter is None:
            limiter = self._limiters[uri] = Limiter(new_storage(uri))
        return limiter

    async def check(self, name: str, *key: str) -> None:
        """Raise 429 if rule ``name`` is already exhausted for ``key``."""
        item = _rule(name)
        if item is None:
            return
        try:
            limiter = self._limiter()
            if await limiter.test(item, name, *key):
                return
            stats = await limiter.get_window_stats(item, name, *key)
        except Exception:  # storage down: serve rather than fail
            log.warning("rate limit storage unavailable; %s not checked", name, exc_info=True)
            return
        raise _too_many(name, item, stats.reset_time)

    async def hit(self, name: str, *key: str) -> None:
        """Count one event for rule ``name``; raise 429 when over the limit."""
        item = _rule(name)
        if item is None:
            return
        try:
            limiter = self._limiter()
            if await limiter.hit(item, name, *key):
                return
            stats = await limiter.get_window_stats(item, name, *key)
        except Exception:
            log.warning("rate limit storage unavailable; %s not counted", name, exc_info=True)
            return
        raise _too_many(name, item, stats.reset_time)

    async def count(self, name: str, *key: str) -> Usage | None:
        """:meth:`hit`, telling how much of the rule is left after it (one
        more storage call); None when limits are off or the storage cannot
        be reached."""
        item = _rule(name)
        if item is None:
            return None
        try:
            limiter = self._limiter()
            allowed = await limiter.hit(item, name, *key)
            stats = await limiter.get_window_stats(item, name, *key)
        except Exception:
            log.warning("rate limit storage unavailable; %s not counted", name, exc_info=True)
            return None
        if not allowed:
            raise _too_many(name, item, stats.reset_time)
        return Usage(item.amount, stats.remaining, stats.reset_time)

    async def reset(self) -> None:
        """Forget every counter of the configured storage."""
        await self._limiter().storage.reset()

    async def close(self) -> None:
        limiters, self._limiters = list(self._limiters.values()), {}
        for limiter in limiters:
            await close_storage(limiter.storage)


def reset_limits() -> None:
    """Forget the counters kept in Redis (operators via the CLI, tests);
    memory counters go with their process."""
    storage_uri = str(settings.ratelimit.storage_uri)
    if storage_uri.startswith(("redis", "async+redis")):
        asyncio.run(_reset(storage_uri))


async def _reset(storage_uri: str) -> None:
    storage = new_storage(storage_uri)
    try:
        await storage.reset()
    finally:
        await close_storage(storage)
