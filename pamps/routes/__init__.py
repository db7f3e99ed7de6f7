"""Every router, mounted in one place."""

from typing import Any

from fastapi import FastAPI

from pamps.routes.auth import router as auth_router
from pamps.routes.health import router as health_router
from pamps.routes.mastodon import ROUTERS as MASTODON_ROUTERS
from pamps.routes.post import router as post_router
from pamps.routes.user import router as user_router
from pamps.routing import SectionRouter, include

# The order of the sections in /docs.
OPENAPI_TAGS: list[dict[str, Any]] = [
    {"name": "auth", "description": "Log in, refresh a token."},
    {"name": "user", "description": "Accounts, profiles, follows and the timeline."},
    {"name": "post", "description": "Posts, replies and likes."},
    {"name": "operations", "description": "Health check."},
]


# Every router with its prefix and tags, busiest first (include_routers).
MOUNTS: list[tuple[SectionRouter, str, list[str]]] = [
    (post_router, "/post", ["post"]),
    (user_router, "/user", ["user"]),
    (auth_router, "", []),
    (health_router, "", []),
]


def include_routers(app: FastAPI) -> None:
    """Mount every router on ``app`` directly: each level of nested routers
    is matched again on every request.

    A request is matched against each route in turn, so the busiest come
    first: posts, then users (their prefixes differ, so the order changes no
    answer). Matching through the routes before them cost ~10 % of a
    ``GET /post/``; each router is a :class:`SectionRouter`, which a request
    for a path outside its routes passes in one check. The routes the app was
    created with (the OpenAPI schema, /docs, /redoc and their assets) go
    after the API's for the same reason."""
    created_with = list(app.router.routes)
    app.router.routes.clear()
    for router, prefix, tags in MOUNTS:
        include(app, router, prefix, tags=list(tags))
    # Out of /openapi.json: its contract is Mastodon's, documented in
    # docs/mastodon.md, and the web app's generated client has no use for it.
    for router in MASTODON_ROUTERS:
        include(app, router, include_in_schema=False)
    app.router.routes.extend(created_with)
