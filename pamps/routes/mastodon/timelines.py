"""Timelines: home (you and whom you follow) and public."""

from functools import partial

from fastapi import Request

from pamps.database import Row
from pamps.render import JSONBytes
from pamps.routes.mastodon.common import RateLimited, ScopedViewer, TokenViewer, Viewer
from pamps.routes.mastodon.statuses import status_list
from pamps.routing import LeanRoute, SectionRouter
from pamps.services import posts

router = SectionRouter(tags=["mastodon"], dependencies=[RateLimited], route_class=LeanRoute)


@router.get("/api/v1/timelines/home", summary="Home timeline")
@router.get("/api/v1/timelines/home/", include_in_schema=False)
async def home(request: Request, viewer: TokenViewer = ScopedViewer("read:statuses")) -> JSONBytes:
    """Your posts and those of the people you follow, newest first."""

    async def fetch(limit: int, before: int | None, after: int | None) -> list[Row]:
        return await posts.timeline(viewer.db, viewer.id, limit, before, True, after, viewer.id)

    return await status_list(viewer.db, request, viewer.id, fetch)


@router.get("/api/v1/timelines/public", summary="Public timeline")
@router.get("/api/v1/timelines/public/", include_in_schema=False)
async def public(request: Request, viewer: TokenViewer = Viewer) -> JSONBytes:
    """Everyone's posts but replies to others (threads stay), newest first;
    ``local`` changes nothing: every account is local."""
    fetch = partial(posts.public, viewer.db, viewer=viewer.id)
    return await status_list(viewer.db, request, viewer.id, fetch)
