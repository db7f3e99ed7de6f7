"""Accounts: yourself, anyone by id or username."""

from functools import partial

from fastapi import Request
from pydantic import ValidationError

from pamps.database import Database, Row
from pamps.deps import DatabaseDep, LimiterDep
from pamps.errors import BadRequest, NotFound, UnprocessableContent
from pamps.models import UserUpdate
from pamps.render import JSONBytes, json_response
from pamps.routes.mastodon import entities
from pamps.routes.mastodon.common import (
    NotFoundRecord,
    RateLimited,
    Scoped,
    TokenViewer,
    Viewer,
    account_list,
    an_id,
    body_of,
    count_write,
    flag,
    profile,
    record_not_found,
)
from pamps.routes.mastodon.statuses import status_list
from pamps.routing import LeanRoute, SectionRouter
from pamps.services import posts, social, users

router = SectionRouter(tags=["mastodon"], dependencies=[RateLimited], route_class=LeanRoute)
# The routes of /api/v1/accounts/{id}..., included after the names above
# (`lookup` would otherwise be an id); a request for an account passes
# those in one check, then finds its route first here.
by_id = SectionRouter(tags=["mastodon"], dependencies=[RateLimited], route_class=LeanRoute)


@router.get("/api/v1/accounts/verify_credentials", summary="Yourself")
@router.get("/api/v1/accounts/verify_credentials/", include_in_schema=False)
async def verify_credentials(
    db: DatabaseDep, request: Request, token: Row = Scoped("read:accounts")
) -> JSONBytes:
    """The token's user, with the source of their profile."""
    row = await profile(db, int(token["id"]))
    return json_response(entities.credential_account(request, row))


@router.get("/api/v1/accounts/lookup", summary="An account by username")
@router.get("/api/v1/accounts/lookup/", include_in_schema=False)
async def lookup(db: DatabaseDep, request: Request, acct: str = "") -> JSONBytes:
    """The account named ``acct`` (``name`` or ``@name``; every account is local)."""
    name = acct.removeprefix("@").split("@", 1)[0]
    if not name or len(name) > 64:
        raise NotFoundRecord()
    with record_not_found():
        row = await users.profile(db, name)
    return json_response(entities.account(request, row))


def relationship(row: Row) -> dict[str, object]:
    """A Relationship from social.relationships' row: Pamps has follows and
    nothing else (no blocks, mutes, requests or notes)."""
    return {
        "id": str(row["id"]),
        "following": bool(row["following"]),
        "followed_by": bool(row["followed_by"]),
        "showing_reblogs": bool(row["following"]),
        "notifying": False,
        "requested": False,
        "requested_by": False,
        "blocking": False,
        "blocked_by": False,
        "muting": False,
        "muting_notifications": False,
        "domain_blocking": False,
        "endorsed": False,
        "languages": None,
        "note": "",
    }


async def relation(db: Database, user_id: int, target_id: int) -> dict[str, object]:
    rows = await social.relationships(db, user_id, [target_id])
    if not rows:
        raise NotFoundRecord()
    return relationship(rows[0])


@router.patch("/api/v1/accounts/update_credentials", summary="Change your profile")
@router.patch("/api/v1/accounts/update_credentials/", include_in_schema=False)
async def update_credentials(
    db: DatabaseDep,
    limiter: LimiterDep,
    request: Request,
    token: Row = Scoped("write:accounts"),
) -> JSONBytes:
    """Change your bio (``note``); Pamps has no display names apart from usernames."""
    body = await body_of(request)
    note = body.get("note")
    if note is not None:
        if not isinstance(note, str):
            raise UnprocessableContent("Validation failed: note must be a string")
        try:
            changes = UserUpdate(bio=note)
        except ValidationError as error:
            raise UnprocessableContent(
                f"Validation failed: Note {error.errors()[0]['msg']}"
            ) from None
        await count_write(request, limiter, int(token["id"]))
        await users.update_own(db, limiter, token, changes)
    row = await profile(db, int(token["id"]))
    return json_response(entities.credential_account(request, row))


@router.get("/api/v1/accounts/relationships", summary="How you stand with accounts")
@router.get("/api/v1/accounts/relationships/", include_in_schema=False)
async def relationships(
    db: DatabaseDep, request: Request, token: Row = Scoped("read:follows")
) -> JSONBytes:
    """For each ``id[]``: whether you follow them and they follow you."""
    raw = request.query_params.getlist("id[]") + request.query_params.getlist("id")
    ids = []
    for value in raw:
        try:
            ids.append(an_id(value))
        except NotFoundRecord:
            continue  # Mastodon leaves out ids that name no account
    rows = await social.relationships(db, int(token["id"]), ids)
    return json_response([relationship(row) for row in rows])


@by_id.get("/api/v1/accounts/{id}", summary="An account")
@by_id.get("/api/v1/accounts/{id}/", include_in_schema=False)
async def get_account(db: DatabaseDep, request: Request, id: str) -> JSONBytes:
    """A public profile by id."""
    return json_response(entities.account(request, await profile(db, an_id(id))))


@by_id.get("/api/v1/accounts/{id}/statuses", summary="An account's statuses")
@by_id.get("/api/v1/accounts/{id}/statuses/", include_in_schema=False)
async def account_statuses(request: Request, id: str, viewer: TokenViewer = Viewer) -> JSONBytes:
    """Their posts, newest first; ``exclude_replies`` leaves out their
    replies to others (a thread of their own stays, as in Mastodon). Pinned
    posts and media do not exist in Pamps: those lists are empty."""
    db = viewer.db
    author = await profile(db, an_id(id))
    query = dict(request.query_params)
    if flag(query, "pinned") or flag(query, "only_media"):
        return json_response([])
    replies = not flag(query, "exclude_replies")

    async def fetch(limit: int, before: int | None, after: int | None) -> list[Row] | None:
        return await posts.by_user(
            db,
            author["username"],
            replies,
            limit,
            before,
            after,
            own_threads=True,
            viewer=viewer.id,
        )

    return await status_list(db, request, viewer.id, fetch)


async def _graph(request: Request, db: Database, id: str, direction: str) -> JSONBytes:
    user = await profile(db, an_id(id))
    fetch = partial(social.graph_profiles, db, int(user["id"]), direction)
    return await account_list(request, fetch, "edge_id")


@by_id.get("/api/v1/accounts/{id}/followers", summary="An account's followers")
@by_id.get("/api/v1/accounts/{id}/followers/", include_in_schema=False)
async def followers(db: DatabaseDep, request: Request, id: str) -> JSONBytes:
    """Who follows them, most recent follow first."""
    return await _graph(request, db, id, "followers")


@by_id.get("/api/v1/accounts/{id}/following", summary="Whom an account follows")
@by_id.get("/api/v1/accounts/{id}/following/", include_in_schema=False)
async def following(db: DatabaseDep, request: Request, id: str) -> JSONBytes:
    """Whom they follow, most recent follow first."""
    return await _graph(request, db, id, "following")


@by_id.post("/api/v1/accounts/{id}/follow", summary="Follow an account")
@by_id.post("/api/v1/accounts/{id}/follow/", include_in_schema=False)
async def follow(
    db: DatabaseDep,
    limiter: LimiterDep,
    request: Request,
    id: str,
    token: Row = Scoped("write:follows"),
) -> JSONBytes:
    """Follow them: the same follow as the native API's."""
    target = an_id(id)
    await count_write(request, limiter, int(token["id"]))
    try:
        await social.follow(db, int(token["id"]), target)
    except NotFound:
        raise NotFoundRecord() from None
    except BadRequest as error:  # yourself
        raise UnprocessableContent(str(error.detail)) from None
    return json_response(await relation(db, int(token["id"]), target))


@by_id.post("/api/v1/accounts/{id}/unfollow", summary="Unfollow an account")
@by_id.post("/api/v1/accounts/{id}/unfollow/", include_in_schema=False)
async def unfollow(
    db: DatabaseDep,
    limiter: LimiterDep,
    request: Request,
    id: str,
    token: Row = Scoped("write:follows"),
) -> JSONBytes:
    """Stop following them."""
    target = an_id(id)
    await count_write(request, limiter, int(token["id"]))
    with record_not_found():
        await social.unfollow(db, int(token["id"]), target)
    return json_response(await relation(db, int(token["id"]), target))
