"""Statuses and timelines: Pamps' posts, replies and likes as Mastodon's."""

from datetime import timedelta
from functools import partial

import orjson
from fastapi import Request

from pamps.database import Row, Runner
from pamps.deps import DatabaseDep, LimiterDep
from pamps.errors import NotFound, UnprocessableContent
from pamps.models.post import check_text
from pamps.render import JSONBytes, dumps, json_response
from pamps.routes.mastodon import entities
from pamps.routes.mastodon.common import (
    Fetch,
    RateLimited,
    Scoped,
    TokenViewer,
    Viewer,
    Window,
    account_list,
    an_id,
    body_of,
    count_write,
    record_not_found,
    text,
)
from pamps.routes.mastodon.rendered import PageCache
from pamps.routing import LeanRoute, SectionRouter
from pamps.services import posts, social, users

router = SectionRouter(tags=["mastodon"], dependencies=[RateLimited], route_class=LeanRoute)

IDEMPOTENCY_WINDOW = timedelta(hours=1)
MAX_IDEMPOTENCY_KEY = 255


async def render(
    db: Runner, request: Request, rows: list[Row], viewer: int
) -> list[dict[str, object]]:
    """Statuses of ``rows`` as user ``viewer`` sees them (0: anyone). Rows
    of a list read with the viewer (services.posts.with_authors) carry all it
    takes; others cost, whatever their number, one query for the authors'
    Accounts, one for the authors of the posts replied to and, for a viewer,
    one for their likes."""
    if not rows:
        return []
    if "viewer_liked" in rows[0]:
        return _render_joined(request, rows)
    profiles = await users.profiles(db, [int(row["user_id"]) for row in rows])
    authors = {user_id: entities.account(request, row) for user_id, row in profiles.items()}
    parent_ids = [int(row["parent_id"]) for row in rows if row["parent_id"]]
    parents = await posts.authors(db, parent_ids) if parent_ids else {}
    liked: set[int] = set()
    if viewer:
        liked = set(await social.liked_ids(db, viewer, [int(r["id"]) for r in rows]))
    return [
        entities.status(
            row,
            authors[int(row["user_id"])],
            parents.get(int(row["parent_id"])) if row["parent_id"] else None,
            int(row["id"]) in liked,
        )
        for row in rows
    ]


def _render_joined(request: Request, rows: list[Row]) -> list[dict[str, object]]:
    base = entities.base_url(request)
    authors: dict[int, dict[str, object]] = {}
    statuses = []
    for row in rows:
        user_id = int(row["user_id"])
        author = authors.get(user_id)
        if author is None:
            author = authors[user_id] = entities.joined_account(base, row)
        statuses.append(entities.joined_status(base, row, author))
    return statuses


def viewer_id(viewer: Row | None) -> int:
    """Whose likes the rows of a list flag (0: nobody's)."""
    return int(viewer["id"]) if viewer is not None and viewer["id"] is not None else 0


async def status_list(
    db: Runner, request: Request, viewer: int, fetch: Fetch, key: str = "id"
) -> JSONBytes:
    """A page of Statuses (a timeline, an account's, one's favourites) with
    its Link header: the cursor ``key`` of the rows of ``fetch``."""
    window = Window(request)
    rows = await fetch(window.limit, window.before, window.after) or []
    pages: PageCache | None = getattr(request.app.state, "pages", None)
    if rows and "viewer_liked" not in rows[0]:
        pages = None  # only rows read with their authors hold all the answer shows
    kept = None
    if pages is not None:
        where = pages.where(entities.base_url(request), request.scope, viewer)
        kept = pages.find(where, rows)
    if kept is None:
        page, link = window.of(rows, key)
        kept = dumps(await render(db, request, page, viewer)), link
        if pages is not None:
            pages.keep(where, rows, *kept)
    body, link = kept
    return json_response(orjson.Fragment(body), link=link)


async def one(db: Runner, request: Request, row: Row, viewer: int) -> JSONBytes:
    return json_response((await render(db, request, [row], viewer))[0])


async def read(db: Runner, status_id: int, viewer: int | None = None) -> Row:
    with record_not_found():
        return await posts.read(db, status_id, viewer)


def status_text(value: str | None) -> str:
    try:
        return check_text(value or "")
    except ValueError as error:
        raise UnprocessableContent(f"Validation failed: Text {error}") from None


@router.post("/api/v1/statuses", summary="Post a status")
@router.post("/api/v1/statuses/", include_in_schema=False)
async def create_status(
    db: DatabaseDep,
    limiter: LimiterDep,
    request: Request,
    token: Row = Scoped("write:statuses"),
) -> JSONBytes:
    """Publish a status (a reply with ``in_reply_to_id``); the same
    ``Idempotency-Key`` within an hour answers the first one again."""
    body = await body_of(request)
    content = status_text(text(body, "status"))
    parent = body.get("in_reply_to_id")
    parent_id = an_id(parent) if parent not in (None, "") else None
    user_id = int(token["id"])
    await count_write(request, limiter, user_id)
    key = request.headers.get("idempotency-key")
    with record_not_found():
        if key is None:
            row = await posts.create(db, user_id, content, parent_id)
        else:
            if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
                raise UnprocessableContent("Idempotency-Key is too long")
            row, _ = await posts.create_once(
                db, user_id, content, parent_id, key, IDEMPOTENCY_WINDOW
            )
    return await one(db, request, row, viewer_id(token))


@router.get("/api/v1/statuses/{id}", summary="A status")
@router.get("/api/v1/statuses/{id}/", include_in_schema=False)
async def get_status(request: Request, id: str, viewer: TokenViewer = Viewer) -> JSONBytes:
    """One status by id."""
    row = await read(viewer.db, an_id(id), viewer.id)
    return await one(viewer.db, request, row, viewer.id)


@router.delete("/api/v1/statuses/{id}", summary="Delete a status")
@router.delete("/api/v1/statuses/{id}/", include_in_schema=False)
async def delete_status(
    db: DatabaseDep,
    limiter: LimiterDep,
    request: Request,
    id: str,
    token: Row = Scoped("write:statuses"),
) -> JSONBytes:
    """Delete your own status; answers it with its ``text``, for redrafting."""
    row = await read(db, an_id(id))
    await count_write(request, limiter, int(token["id"]))
    await posts.delete(db, int(token["id"]), int(row["id"]))
    rendered = (await render(db, request, [row], viewer_id(token)))[0]
    return json_response(rendered | {"text": row["text"]})


@router.post("/api/v1/statuses/{id}/favourite", summary="Favourite a status")
@router.post("/api/v1/statuses/{id}/favourite/", include_in_schema=False)
async def favourite(
    db: DatabaseDep,
    limiter: LimiterDep,
    request: Request,
    id: str,
    token: Row = Scoped("write:favourites"),
) -> JSONBytes:
    """Like a status: the same like as the native API's."""
    status_id = an_id(id)
    await count_write(request, limiter, int(token["id"]))
    with record_not_found():
        row, _ = await social.like(db, int(token["id"]), status_id)
    return await one(db, request, row, viewer_id(token))


@router.post("/api/v1/statuses/{id}/unfavourite", summary="Unfavourite a status")
@router.post("/api/v1/statuses/{id}/unfavourite/", include_in_schema=False)
async def unfavourite(
    db: DatabaseDep,
    limiter: LimiterDep,
    request: Request,
    id: str,
    token: Row = Scoped("write:favourites"),
) -> JSONBytes:
    """Take a like back."""
    status_id = an_id(id)
    await count_write(request, limiter, int(token["id"]))
    with record_not_found():
        await social.unlike(db, int(token["id"]), status_id)
    return await one(db, request, await read(db, status_id), viewer_id(token))


@router.put("/api/v1/statuses/{id}", summary="Edit a status")
@router.put("/api/v1/statuses/{id}/", include_in_schema=False)
async def edit_status(
    db: DatabaseDep,
    limiter: LimiterDep,
    request: Request,
    id: str,
    token: Row = Scoped("write:statuses"),
) -> JSONBytes:
    """Change the text of your own status."""
    status_id = an_id(id)
    body = await body_of(request)
    content = status_text(text(body, "status"))
    await count_write(request, limiter, int(token["id"]))
    with record_not_found():
        row = await posts.edit(db, int(token["id"]), status_id, content)
    return await one(db, request, row, viewer_id(token))


@router.get("/api/v1/statuses/{id}/source", summary="A status' source")
@router.get("/api/v1/statuses/{id}/source/", include_in_schema=False)
async def status_source(
    db: DatabaseDep, id: str, token: Row = Scoped("read:statuses")
) -> JSONBytes:
    """The plain text of a status, for editing."""
    row = await read(db, an_id(id))
    return json_response({"id": str(row["id"]), "text": row["text"], "spoiler_text": ""})


MAX_CONTEXT = 200  # statuses in each half of a context


@router.get("/api/v1/statuses/{id}/context", summary="A status' thread")
@router.get("/api/v1/statuses/{id}/context/", include_in_schema=False)
async def context(request: Request, id: str, viewer: TokenViewer = Viewer) -> JSONBytes:
    """The visible posts above a status (oldest first) and the replies below
    it, depth first, as Mastodon orders a thread."""
    db = viewer.db
    row = await read(db, an_id(id))
    ancestors: list[Row] = []
    parent = row["parent_id"]
    while parent is not None and len(ancestors) < MAX_CONTEXT:
        try:
            above = await posts.read(db, int(parent))
        except NotFound:  # a deleted post ends the visible thread
            break
        ancestors.insert(0, above)
        parent = above["parent_id"]
    descendants: list[Row] = []
    pending = [int(row["id"])]
    while pending and len(descendants) < MAX_CONTEXT:
        _, replies = await posts.post_with_replies(db, pending.pop(), MAX_CONTEXT, None)
        for reply in replies[:MAX_CONTEXT]:
            descendants.append(reply)
        pending.extend(int(reply["id"]) for reply in reversed(replies[:MAX_CONTEXT]))
    descendants = _depth_first(int(row["id"]), descendants[:MAX_CONTEXT])
    return json_response(
        {
            "ancestors": await render(db, request, ancestors, viewer.id),
            "descendants": await render(db, request, descendants, viewer.id),
        }
    )


def _depth_first(root: int, replies: list[Row]) -> list[Row]:
    children: dict[int, list[Row]] = {}
    for reply in sorted(replies, key=lambda r: int(r["id"])):
        children.setdefault(int(reply["parent_id"]), []).append(reply)
    ordered: list[Row] = []
    stack = list(reversed(children.get(root, [])))
    while stack:
        reply = stack.pop()
        ordered.append(reply)
        stack.extend(reversed(children.get(int(reply["id"]), [])))
    return ordered


@router.get("/api/v1/statuses/{id}/favourited_by", summary="Who favourited a status")
@router.get("/api/v1/statuses/{id}/favourited_by/", include_in_schema=False)
async def favourited_by(db: DatabaseDep, request: Request, id: str) -> JSONBytes:
    """Accounts that like this status, most recent like first."""
    status_id = an_id(id)
    with record_not_found():
        return await account_list(request, partial(social.likers, db, status_id), "like_id")


@router.get("/api/v1/favourites", summary="Your favourites")
@router.get("/api/v1/favourites/", include_in_schema=False)
async def favourites(
    db: DatabaseDep, request: Request, token: Row = Scoped("read:favourites")
) -> JSONBytes:
    """Statuses you like, most recent like first."""
    fetch = partial(posts.liked_by, db, token["username"], viewer=viewer_id(token))
    return await status_list(db, request, viewer_id(token), fetch, "like_id")


@router.get("/api/v1/statuses/{id}/history", summary="A status' edits")
@router.get("/api/v1/statuses/{id}/history/", include_in_schema=False)
async def history(db: DatabaseDep, request: Request, id: str) -> JSONBytes:
    """Every version of a status Pamps knows: it keeps no earlier texts, so
    that is the current one, dated by its last edit (or its posting)."""
    row = await read(db, an_id(id))
    [status] = await render(db, request, [row], 0)
    return json_response([entities.status_edit(status)])
