"""Statuses rendered once and kept, as Mastodon keeps them ("status cache"
row of docs/performance.md).

A Status is kept under every value it is rendered from: its row's columns
(services.posts.with_authors') and the server's base URL. An edit, a like, a
new follower or the viewer's own like make another key, so nothing kept is
ever stale; the least recently used go first. ``mastodon.status_cache``
Statuses per worker; 0 turns it off.
"""

from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson

from pamps.config import settings
from pamps.database import Row
from pamps.models.post import PostPublic
from pamps.routes.mastodon import entities
from pamps.services.posts import AUTHOR_COLUMNS

# A post's row (the native answer's fields), then what with_authors adds.
COLUMNS = (
    *PostPublic.model_fields,
    *(f"author_{name}" for name in AUTHOR_COLUMNS),
    "parent_user_id",
    "viewer_liked",
)
_values = itemgetter(*COLUMNS)


def _render(base: str, values: tuple[Any, ...]) -> orjson.Fragment:
    row = dict(zip(COLUMNS, values, strict=True))
    rendered = orjson.dumps(entities.joined_status(base, row))
    # A copy: orjson's own bytes keep its whole ~16 KB buffer, 12 times the JSON.
    return orjson.Fragment(bytes(memoryview(rendered)))


class StatusCache:
    """Up to ``size`` Statuses as JSON, for the lists of one worker."""

    def __init__(self, size: int) -> None:
        self._fragment: Callable[[str, tuple[Any, ...]], orjson.Fragment]
        self._fragment = lru_cache(maxsize=size)(_render)

    @classmethod
    def from_settings(cls) -> "StatusCache | None":
        size = int(settings.mastodon.status_cache)
        return cls(size) if size > 0 else None

    def render(self, base: str, rows: list[Row]) -> list[orjson.Fragment]:
        """The Statuses of ``rows`` read with their authors (a server at ``base``)."""
        fragment = self._fragment
        return [fragment(base, _values(row)) for row in rows]

    def kept(self) -> int:
        return self._fragment.cache_info().currsize  # type: ignore[attr-defined]
