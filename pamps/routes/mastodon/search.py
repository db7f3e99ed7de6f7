"""Search: accounts by username prefix."""

from fastapi import Request

from pamps.database import Row
from pamps.deps import DatabaseDep
from pamps.render import JSONBytes, json_response
from pamps.routes.mastodon import entities
from pamps.routes.mastodon.common import RateLimited, Scoped, Window
from pamps.routing import SectionRouter
from pamps.services import users

router = SectionRouter(tags=["mastodon"], dependencies=[RateLimited])


async def _accounts(db: DatabaseDep, request: Request) -> list[dict[str, object]]:
    query = request.query_params.get("q", "")
    window = Window(request, most=40)
    # Every account is local: "name@this.host" is "name".
    name = query.strip().removeprefix("@").split("@", 1)[0]
    rows = await users.search(db, name, window.limit) if name else []
    return [entities.account(request, row) for row in rows]


@router.get("/api/v2/search", summary="Search")
@router.get("/api/v2/search/", include_in_schema=False)
async def search(
    db: DatabaseDep, request: Request, token: Row = Scoped("read:search")
) -> JSONBytes:
    """Accounts whose username starts with ``q``; Pamps does not search
    statuses or hashtags, so those lists are empty."""
    kind = request.query_params.get("type")
    accounts = await _accounts(db, request) if kind in (None, "", "accounts") else []
    return json_response({"accounts": accounts, "statuses": [], "hashtags": []})


@router.get("/api/v1/accounts/search", summary="Search accounts")
@router.get("/api/v1/accounts/search/", include_in_schema=False)
async def account_search(
    db: DatabaseDep, request: Request, token: Row = Scoped("read:accounts")
) -> JSONBytes:
    """Accounts whose username starts with ``q``."""
    return json_response(await _accounts(db, request))
