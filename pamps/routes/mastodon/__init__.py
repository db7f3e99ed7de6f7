"""The Mastodon-compatible API: a second face over the same services.

Its errors take Mastodon's shape, ``{"error": ...}`` (see pamps.app)."""

from pamps.routes.mastodon.accounts import by_id as account_router
from pamps.routes.mastodon.accounts import router as accounts_router
from pamps.routes.mastodon.authorize import router as authorize_router
from pamps.routes.mastodon.instance import router as instance_router
from pamps.routes.mastodon.oauth import router as oauth_router
from pamps.routes.mastodon.search import router as search_router
from pamps.routes.mastodon.statuses import router as statuses_router
from pamps.routes.mastodon.timelines import router as timelines_router
from pamps.routing import SectionRouter

ROUTERS: list[SectionRouter] = [
    timelines_router,
    search_router,
    statuses_router,
    accounts_router,
    account_router,
    oauth_router,
    authorize_router,
    instance_router,
]
PREFIXES = ("/api/", "/oauth/")
