"""X-RateLimit-* headers on the Mastodon-compatible API, as Mastodon sends them.

Every /api/v1 and /api/v2 request is counted by the app's one limiter
(pamps.ratelimit, rule ``mastodon_api``: common.count_request), writes by
the native ``write`` rule too (common.count_write). The answer reports the
rule nearest to exhausted, all three headers or none (limits off, or their
storage unreachable): ``X-RateLimit-Limit``, ``-Remaining`` and ``-Reset``,
the last as Mastodon writes it, an ISO 8601 time in UTC. A 429 raised by
the limiter anywhere on the way gets its reset in the same form.
"""

from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pamps.ratelimit import Usage
from pamps.routes.mastodon.common import USAGES

NAMES = (b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset")


def reset_time(at: float) -> bytes:
    """Mastodon's form: ISO 8601 with microseconds (Mastodon.py parses it)."""
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").encode()


def _usage_of(headers: list[tuple[bytes, bytes]]) -> Usage | None:
    """The usage a 429 of pamps.ratelimit states in its own headers."""
    found = {name.lower(): value for name, value in headers if name.lower() in NAMES}
    try:
        return Usage(int(found[NAMES[0]]), int(found[NAMES[1]]), float(found[NAMES[2]].decode()))
    except (KeyError, ValueError):
        return None


class RateLimitHeaders:
    """Pure ASGI middleware: the headers above on answers under /api/."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        usages: list[Usage] = []
        scope[USAGES] = usages

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                raised = _usage_of(headers)
                known = usages + ([raised] if raised else [])
                if known:
                    nearest = min(known, key=lambda usage: usage.remaining)
                    headers = [h for h in headers if h[0].lower() not in NAMES]
                    headers += [
                        (NAMES[0], str(nearest.limit).encode()),
                        (NAMES[1], str(max(0, nearest.remaining)).encode()),
                        (NAMES[2], reset_time(nearest.reset_at)),
                    ]
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
