"""Keyset pagination shared by every list.

A page is asked for with ``limit`` (1-100, default 20) and a cursor (``before``
for newest-first lists, ``after`` for the oldest-first replies). One extra row
is fetched to know whether a next page exists; if so the response carries an
RFC 8288 ``Link: <...>; rel="next"`` header with the cursor already filled in.
Keyset cursors never skip or repeat an item while others insert.

The ORM routes take a page as a dependency (:data:`NewestFirst`). The hot
routes declare ``limit`` and the cursor among their own parameters
(:data:`Limit`, :data:`Before`, :data:`After`) and make the page with
:meth:`Page.newest_first` or :meth:`Page.oldest_first`: FastAPI resolves
every level of dependencies again on each request (docs/performance.md:
with the token changes of the same commit range, a timeline's framework time
went from ~314 to ~160-195 µs). Both document and validate the same query
parameters.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Query, Request, Response
from sqlalchemy import BigInteger, Integer, bindparam
from sqlalchemy.sql import Select
from starlette.datastructures import URL
from starlette.types import Scope

from pamps.models.post import MAX_ID
from pamps.render import JSONBytes, json_response

T = TypeVar("T")
S = TypeVar("S", bound=Select)

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


@dataclass
class Page:
    """One page of a keyset-paginated list: ``limit`` items past ``cursor``.

    ``newest`` lists go down from ``before``, the others up from ``after``.
    """

    request: Request
    response: Response | None  # given, the Link header is set on it
    limit: int
    cursor: int | None
    newest: bool = True
    link: str | None = None

    @classmethod
    def newest_first(cls, request: Request, limit: int, before: int | None) -> "Page":
        """A newest-first page for a route that answers with :meth:`reply`."""
        return cls(request, None, limit, before)

    @classmethod
    def oldest_first(cls, request: Request, limit: int, after: int | None) -> "Page":
        """An oldest-first page; its Link header value ends up in :attr:`link`."""
        return cls(request, None, limit, after, newest=False)

    def apply(self, query: S, key: Any) -> S:
        """``query`` ordered by ``key``, past the cursor, one row longer than
        the page (to know whether another follows)."""
        if self.newest:
            query = query.order_by(key.desc())
            if self.cursor is not None:
                query = query.where(key < self.cursor)
        else:
            query = query.order_by(key)
            if self.cursor is not None:
                query = query.where(key > self.cursor)
        return query.limit(self.limit + 1)

    def of(self, rows: Sequence[T], cursor_of: Callable[[T], int]) -> list[T]:
        """The first ``limit`` rows; sets the Link header when more follow."""
        page = list(rows[: self.limit])
        if len(rows) > self.limit and page:
            param = "before" if self.newest else "after"
            url = next_url(self.request, {param: cursor_of(page[-1]), "limit": self.limit})
            self.link = f'<{url}>; rel="next"'
            if self.response is not None:
                self.response.headers["Link"] = self.link
        return page

    @property
    def params(self) -> dict[str, int]:
        """The bind parameters of a :func:`keyset` statement for this page."""
        if self.newest:
            return {
                "before": MAX_ID + 1 if self.cursor is None else self.cursor,
                "limit": self.limit + 1,
            }
        return {"after": 0 if self.cursor is None else self.cursor, "limit": self.limit + 1}

    def reply(self, rows: Sequence[Any], cursor_of: Callable[[Any], int]) -> JSONBytes:
        """The page of ``rows`` as a JSON answer, with its Link header."""
        return json_response(self.of(rows, cursor_of), link=self.link)


def next_url(request: Request, params: dict[str, int]) -> str:
    """The request's URL with ``params`` set in its query, the others kept.

    (Starlette's ``URL.include_query_params`` gives the same, at twice the
    cost: every list answer with a next page pays for it.)"""
    url = request_url(request.scope)
    end = url.find("?")
    if end < 0:  # the first page, as a rule: nothing to keep, nothing to escape
        return url + "?" + "&".join(f"{key}={int(value)}" for key, value in params.items())
    kept = [(k, v) for k, v in parse_qsl(url[end + 1 :], keep_blank_values=True) if k not in params]
    return f"{url[:end]}?{urlencode([*kept, *params.items()])}"


def request_url(scope: Scope) -> str:
    """``str(request.url)``; for a URL without a query (a list's first page,
    asked for again and again) remembered by scheme, server, Host and path:
    Starlette parses and validates the Host header for every URL it builds
    (~3 % of a ``GET /post/`` under load). Only a Host of a host name's
    length and a path of at most :data:`MAX_REMEMBERED_PATH` characters are
    remembered, so the memo stays small (1,024 short entries) whatever
    clients send; any client can still push out the others' entries, which
    only costs the next request the usual price."""
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    server = scope.get("server")
    path = scope["path"]
    if (
        scope.get("query_string")
        or len(path) > MAX_REMEMBERED_PATH
        or (host is not None and len(host) > MAX_HOST)
    ):
        return str(URL(scope=scope))
    return _first_page_url(
        scope.get("scheme", "http"), None if server is None else tuple(server), path, host
    )


MAX_HOST = 260  # a DNS name (253) and a port
MAX_REMEMBERED_PATH = 128


@lru_cache(maxsize=1024)
def _first_page_url(
    scheme: str, server: tuple[Any, ...] | None, path: str, host: bytes | None
) -> str:
    headers = [] if host is None else [(b"host", host)]
    return str(URL(scope={"scheme": scheme, "server": server, "path": path, "headers": headers}))


def keyset(query: S, key: Any, newest: bool = True) -> S:
    """:meth:`Page.apply` with bind parameters instead of values, so that one
    statement, built once, serves every page (see :attr:`Page.params`)."""
    if newest:
        # BIGINT: the first page's "before" is MAX_ID + 1, past the id type.
        query = query.where(key < bindparam("before", type_=BigInteger)).order_by(key.desc())
    else:
        query = query.where(key > bindparam("after")).order_by(key)
    return query.limit(bindparam("limit", type_=Integer))


async def newest_first(
    request: Request, response: Response, limit: Limit = DEFAULT_LIMIT, before: Before = None
) -> Page:
    return Page(request, response, limit, before)


NewestFirst = Annotated[Page, Depends(newest_first)]
