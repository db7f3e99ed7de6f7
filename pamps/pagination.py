"""Pages of a list, as routes answer them.

A page is asked for with ``limit`` (1-100, default 20) and a cursor
(``before`` for newest-first lists, ``after`` for the oldest-first replies).
Services fetch one row more than the page (:func:`pamps.services.common.page_params`);
when it is there, the answer carries an RFC 8288 ``Link: <...>; rel="next"``
header with the cursor filled in. Keyset cursors never skip or repeat an
item while others insert.
"""

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Query, Request
from starlette.datastructures import URL

from pamps.models.post import MAX_ID
from pamps.render import JSONBytes, json_response

Row = dict[str, Any]

DEFAULT_LIMIT = 20
MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}.")]
Before = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="Cursor: only items older than this one (from Link)."),
]
After = Annotated[
    int | None,
    Query(ge=0, le=MAX_ID, description="Cursor: only items newer than this one (from Link)."),
]


def page_url(request: Request, cursor: dict[str, int], drop: Sequence[str] = ()) -> str:
    """The request's URL with the query parameters ``drop`` taken out and
    ``cursor``'s set, as Starlette's ``request.url.remove_query_params`` then
    ``include_query_params`` give it."""
    if not request.scope.get("query_string"):
        # Most lists are read without a query; Starlette parses and rebuilds
        # the URL twice for what is then a concatenation ("Link URLs" row).
        return f"{request_url(request)}?" + "&".join(f"{k}={v}" for k, v in cursor.items())
    return str(request.url.remove_query_params(drop).include_query_params(**cursor))


def request_url(request: Request) -> str:
    """``str(request.url)`` of a request without a query string."""
    return _url(request, request.scope["path"]) or str(request.url)


def base_url(request: Request) -> str:
    """``str(request.base_url)`` without its trailing slash."""
    scope = request.scope
    root = scope.get("app_root_path", scope.get("root_path", ""))
    path = root if root.endswith("/") else root + "/"
    return (_url(request, path) or str(request.base_url)).rstrip("/")


def _url(request: Request, path: str) -> str | None:
    """Starlette's URL of ``path`` on the request's server; None where
    Starlette rewrites the path (no host to name, and a path starting with
    ``//``)."""
    origin = _origin_of(request.scope)
    if not origin and path.startswith("//"):
        return None
    return origin + path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def _origin_of(scope: MutableMapping[str, Any]) -> str:
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    server = scope.get("server")
    return _origin(scope.get("scheme", "http"), host, tuple(server) if server else None)


@lru_cache(maxsize=64)
def _origin(scheme: str, host: bytes | None, server: tuple[str, int] | None) -> str:
    """``scheme://authority`` as Starlette writes it for a request, or "" when
    it knows neither; remembered, since Starlette parses and checks the Host
    header anew for each request ("request URLs" row of docs/performance.md)."""
    headers = [] if host is None else [(b"host", host)]
    scope = {"type": "http", "scheme": scheme, "server": server, "path": "/", "headers": headers}
    return str(URL(scope=scope)).removesuffix("/")


@dataclass
class Page:
    """One page of a list: ``limit`` items past ``cursor``, newest first
    (cursor ``before``) or oldest first (``after``)."""

    request: Request
    limit: int
    cursor: int | None
    newest: bool = True
    link: str | None = None

    @classmethod
    def newest_first(cls, request: Request, limit: int, before: int | None) -> "Page":
        return cls(request, limit, before)

    @classmethod
    def oldest_first(cls, request: Request, limit: int, after: int | None) -> "Page":
        return cls(request, limit, after, newest=False)

    def of(self, rows: Sequence[Row], key: str = "id") -> list[Row]:
        """The first ``limit`` rows; sets :attr:`link` when more follow. The
        cursor is each row's ``key``, which is dropped from the rows unless
        it is their ``id``."""
        page = list(rows[: self.limit])
        if len(rows) > self.limit and page:
            param = "before" if self.newest else "after"
            url = page_url(self.request, {param: int(page[-1][key]), "limit": self.limit})
            self.link = f'<{url}>; rel="next"'
        if key != "id":
            for row in page:
                del row[key]
        return page

    def reply(self, rows: Sequence[Row], key: str = "id") -> JSONBytes:
        """The page of ``rows`` as a JSON answer, with its Link header."""
        return json_response(self.of(rows, key), link=self.link)
