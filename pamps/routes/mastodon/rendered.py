"""The last answers of Mastodon lists, kept per worker ("kept pages" row
of docs/performance.md).

A list's answer is kept under its base URL, path, query and viewer with the
rows it was rendered from, and answered again while a new read of the list
gives equal rows: it is a function of those alone, so nothing kept is ever
stale. ``mastodon.page_cache`` answers per worker; 0 turns it off.
"""

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from pamps.config import settings
from pamps.database import Row


def exact(rendered: bytes) -> bytes:
    """A copy to keep: orjson's own bytes keep its whole buffer (at least
    ~16 KB, whatever the answer's size)."""
    return bytes(memoryview(rendered))


Where = tuple[str, str, bytes, int]
"""A list's answer: base URL, path, query string, viewer."""


class PageCache:
    """Up to ``size`` answers of lists (JSON and Link header), for one worker.

    A page polled again (a public timeline, a home one) then costs one
    comparison of its rows instead of rendering its Statuses and Link header."""

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
