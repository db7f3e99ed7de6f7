"""Timelines: home (you and whom you follow) and public."""

from fastapi import APIRouter, Request

from pamps.database import Row
from pamps.deps import DatabaseDep
from pamps.render import JSONBytes, json_response
from pamps.routes.mastodon.common import RateLimited, Scoped, Viewer, Window
from pamps.routes.mastodon.statuses import render
from pamps.services import posts

router = APIRouter(tags=["mastodon"], dependencies=[RateLimited])


@router.get("/api/v1/timelines/home", summary="Home timeline")
@router.get("/api/v1/timelines/home/", include_in_schema=False)
async def home(
    db: DatabaseDep, request: Request, token: Row = Scoped("read:statuses")
) -> JSONBytes:
    """Your posts and those of the people you follow, newest first."""
    window = Window(request)
    rows = await posts.timeline(db, int(token["id"]), window.limit, window.max_id, with_own=True)
    page, link = window.of(rows)
    return json_response(await render(db, request, page, token), link=link)


@router.get("/api/v1/timelines/public", summary="Public timeline")
@router.get("/api/v1/timelines/public/", include_in_schema=False)
async def public(db: DatabaseDep, request: Request, viewer: Row | None = Viewer) -> JSONBytes:
    """Everyone's top-level posts, newest first (every account is local)."""
    window = Window(request)
    rows = await posts.home(db, window.limit, window.max_id)
    page, link = window.of(rows)
    return json_response(await render(db, request, page, viewer), link=link)
