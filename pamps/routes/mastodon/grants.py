"""What the Mastodon API's tokens grant, kept by each worker ("known
tokens" row of docs/performance.md).

A token's user, id and scopes never change once it is issued, so a worker
keeps them, under the token's digest, for the tokens it has looked up. What
can change, the token being revoked or its user deleted, is still checked
by the database with the route's first statement (database.Guarded), so a
revoked token is refused at once on every worker and host. The least
recently used go first; ``mastodon.token_cache`` tokens per worker, 0 turns
it off.
"""

from collections import OrderedDict
from typing import NamedTuple

from pamps.config import settings


class Grant(NamedTuple):
    """What a user's token grants: who, which token, which scopes."""

    user_id: int
    token_id: int
    scopes: str


class KnownTokens:
    """Up to ``size`` grants, by token digest, for one worker."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._grants: OrderedDict[str, Grant] = OrderedDict()
        self.hits = 0

    @classmethod
    def from_settings(cls) -> "KnownTokens | None":
        size = int(settings.mastodon.token_cache)
        return cls(size) if size > 0 else None

    def get(self, digest: str) -> Grant | None:
        grant = self._grants.get(digest)
        if grant is not None:
            self._grants.move_to_end(digest)
            self.hits += 1
        return grant

    def remember(self, digest: str, grant: Grant) -> None:
        self._grants[digest] = grant
        self._grants.move_to_end(digest)
        if len(self._grants) > self.size:
            self._grants.popitem(last=False)

    def __len__(self) -> int:
        return len(self._grants)
