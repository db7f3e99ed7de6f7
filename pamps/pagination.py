"""Pages of a list, as routes answer them.

A page is asked for with ``limit`` (1-100, default 20) and a cursor
(``before`` for newest-first lists, ``after`` for the oldest-first replies).
Services fetch one row more than the page (:func:`pamps.services.common.page_params`);
when it is there, the answer carries an RFC 8288 ``Link: <...>; rel="next"``
header with the cursor filled in. Keyset cursors never skip or repeat an
item while others insert.
"""

from collections.abc import Sequence
from dataclasses import dataclass
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


def page_url(url: URL, cursor: dict[str, int], drop: Sequence[str] = ()) -> str:
    """``url`` with the query parameters ``drop`` taken out and ``cursor``'s
    set, as Starlette's ``remove_query_params`` then ``include_query_params``
    give it."""
    if not url.query:
        # Most lists are read without a query; Starlette parses and rebuilds
        # the URL twice for what is then a concatenation ("Link URLs" row).
        return f"{url}?" + "&".join(f"{name}={value}" for name, value in cursor.items())
    return str(url.remove_query_params(drop).include_query_params(**cursor))


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
            url = page_url(self.request.url, {param: int(page[-1][key]), "limit": self.limit})
            self.link = f'<{url}>; rel="next"'
        if key != "id":
            for row in page:
                del row[key]
        return page

    def reply(self, rows: Sequence[Row], key: str = "id") -> JSONBytes:
        """The page of ``rows`` as a JSON answer, with its Link header."""
        return json_response(self.of(rows, key), link=self.link)
