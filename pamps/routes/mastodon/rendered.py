"""Statuses rendered once and kept, as Mastodon keeps them ("status cache"
row of docs/performance.md).

A Status is kept under its post's id, the viewer's like and the server's
base URL, with every value it was rendered from (its row's columns:
services.posts.with_authors'). It is answered again only while those values
are all the same, so an edit, a like or a new follower renders it anew and
nothing kept is ever stale; the least recently used go first.
``mastodon.status_cache`` Statuses per worker; 0 turns it off.
"""

from collections import OrderedDict
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
        self.size = size
        self.hits = 0
        # Found by small values, then compared: hashing a row's texts and
        # dates, fresh from the driver each time, cost twice as much
        # (decision row "kept Statuses found by id").
        self._kept: OrderedDict[tuple[str, int, bool], tuple[tuple[Any, ...], orjson.Fragment]]
        self._kept = OrderedDict()

    @classmethod
    def from_settings(cls) -> "StatusCache | None":
        size = int(settings.mastodon.status_cache)
        return cls(size) if size > 0 else None

    def render(self, base: str, rows: list[Row]) -> list[orjson.Fragment]:
        """The Statuses of ``rows`` read with their authors (a server at ``base``)."""
        kept, fragments = self._kept, []
        for row in rows:
            values = _values(row)
            key = (base, row["id"], bool(row["viewer_liked"]))
            found = kept.get(key)
            if found is not None and found[0] == values:
                kept.move_to_end(key)
                self.hits += 1
                fragments.append(found[1])
                continue
            fragment = _render(base, values)
            kept[key] = (values, fragment)
            kept.move_to_end(key)  # a key already kept stays where it was
            if len(kept) > self.size:
                kept.popitem(last=False)
            fragments.append(fragment)
        return fragments

    def kept(self) -> int:
        return len(self._kept)
