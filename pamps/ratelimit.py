"""Rate limits on top of the ``limits`` library.

Rules are limit strings in settings (``ratelimit.login = "25/5 minutes"``).
Counters live in memory by default, or in Redis when ``ratelimit.storage_uri``
says ``redis://...``, so several workers share them. If the storage cannot be
reached the limit is skipped (logged), never turned into an error.
"""

import logging
import math
import time
from functools import cache

from fastapi import Request
from limits import RateLimitItem, parse, storage, strategies

from pamps.config import settings
from pamps.errors import TooManyRequests

log = logging.getLogger("pamps.ratelimit")

# redis-py waits forever by default: a Redis that accepts connections but never
# answers would hang every limited request. Bounded waits turn that into the
# "storage unavailable" path. Options in the URI (?socket_timeout=5) win.
REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}


@cache
def _limiter(storage_uri: str) -> strategies.MovingWindowRateLimiter:
    options = REDIS_TIMEOUTS if storage_uri.startswith("redis") else {}
    return strategies.MovingWindowRateLimiter(storage.storage_from_string(storage_uri, **options))


@cache
def _item(limit: str) -> RateLimitItem:
    return parse(limit)


def reset_limits() -> None:
    """Forget every counter (tests, and operators via the CLI)."""
    for limiter in _limiters():
        limiter.storage.reset()


def _limiters() -> list[strategies.MovingWindowRateLimiter]:
    return [_limiter(str(settings.ratelimit.storage_uri))]


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


def check(name: str, *key: str) -> None:
    """Raise 429 if rule ``name`` is already exhausted for ``key``."""
    item = _rule(name)
    if item is None:
        return
    limiter = _limiter(str(settings.ratelimit.storage_uri))
    try:
        if limiter.test(item, name, *key):
            return
        stats = limiter.get_window_stats(item, name, *key)
    except Exception:  # storage down: serve rather than fail
        log.warning("rate limit storage unavailable; %s not checked", name, exc_info=True)
        return
    raise _too_many(item, stats.reset_time)


def hit(name: str, *key: str) -> None:
    """Count one event for rule ``name``; raise 429 when over the limit."""
    item = _rule(name)
    if item is None:
        return
    limiter = _limiter(str(settings.ratelimit.storage_uri))
    try:
        if limiter.hit(item, name, *key):
            return
        stats = limiter.get_window_stats(item, name, *key)
    except Exception:
        log.warning("rate limit storage unavailable; %s not counted", name, exc_info=True)
        return
    raise _too_many(item, stats.reset_time)
