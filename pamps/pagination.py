"""Keyset pagination shared by every list.

A page is asked for with ``limit`` (1-100, default 20) and a cursor (``before``
for newest-first lists, ``after`` for the oldest-first replies). One extra row
is fetched to know whether a next page exists; if so the response carries an
RFC 8288 ``Link: <...>; rel="next"`` header with the cursor already filled in.
Keyset cursors never skip or repeat an item while others insert.
"""

from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query, Request, Response

from pamps.models.post import MAX_ID

T = TypeVar("T")

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


def paginate(
    rows: Sequence[T],
    limit: int,
    request: Request,
    response: Response,
    cursor_of: Callable[[T], int],
    param: str = "before",
) -> list[T]:
    """The first ``limit`` rows; sets the Link header when more follow."""
    page = list(rows[:limit])
    if len(rows) > limit and page:
        url = request.url.include_query_params(**{param: cursor_of(page[-1]), "limit": limit})
        response.headers["Link"] = f'<{url}>; rel="next"'
    return page
