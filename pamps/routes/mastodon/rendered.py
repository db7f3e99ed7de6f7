"""Statuses rendered once and kept, as Mastodon keeps them ("status cache"
row of docs/performance.md), and the last answers of lists ("kept pages").

A Status is kept under its post's id, the viewer's like and the server's
base URL, with every value it was rendered from (its row's columns:
services.posts.with_authors'). It is answered again only while those values
are all the same, so an edit, a like or a new follower renders it anew and
nothing kept is ever stale; the least recently used go first.
``mastodon.status_cache`` Statuses per worker; 0 turns it off.

A list's answer is kept under its base URL, path, query and viewer with the
rows it was rendered from, and answered again while a new read of the list
gives equal rows: it is a function of those alone. ``mastodon.page_cache``
answers per worker; 0 turns it off.
"""

from collections import OrderedDict
from collections.abc import Mapping
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
    return orjson.Fragment(exact(orjson.dumps(entities.joined_status(base, row))))


def exact(rendered: bytes) -> bytes:
    """A copy to keep: orjson's own bytes keep its whole buffer (~16 KB at
    least, 12 times a Status' JSON)."""
    return bytes(memoryview(rendered))


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


Where = tuple[str, str, bytes, int]
"""A list's answer: base URL, path, query string, viewer."""


class PageCache:
    """Up to ``size`` answers of lists (JSON and Link header), for one worker.

    A page polled again (a public timeline, a home one) then costs one
    comparison of its rows instead of a lookup per Status and a new Link
    header (decision row "kept pages")."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.hits = 0
        self._kept: OrderedDict[Where, tuple[list[Row], bytes, str | None]] = OrderedDict()

    @classmethod
    def from_settings(cls) -> "PageCache | None":
        size = int(settings.mastodon.page_cache)
        return cls(size) if size > 0 else None

    @staticmethod
    def where(base: str, scope: Mapping[str, Any], viewer: int) -> Where:
        return base, scope["path"], scope["query_string"], viewer

    def find(self, where: Where, rows: list[Row]) -> tuple[bytes, str | None] | None:
        """The answer kept for ``where`` if it was rendered from ``rows``."""
        found = self._kept.get(where)
        if found is None or found[0] != rows:
            return None
        self._kept.move_to_end(where)
        self.hits += 1
        return found[1], found[2]

    def keep(self, where: Where, rows: list[Row], body: bytes, link: str | None) -> None:
        self._kept[where] = (rows, exact(body), link)
        self._kept.move_to_end(where)
        if len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def kept(self) -> int:
        return len(self._kept)
