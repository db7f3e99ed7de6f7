"""Accounts, profiles, the social graph and the timeline."""

from typing import Annotated, Any

from fastapi import Path, Query, Request, Response, status

from pamps.auth import CurrentUser, ViewerDep, WriteLimited
from pamps.deps import DatabaseDep, LimiterDep, ReadDatabaseDep, client_address
from pamps.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    responses,
)
from pamps.models import (
    PostPublic,
    Relationship,
    SessionPublic,
    UserCreate,
    UserPrivate,
    UserProfile,
    UserPublic,
    UserUpdate,
)
from pamps.models.post import MAX_ID
from pamps.pagination import DEFAULT_LIMIT, Before, Limit, Page
from pamps.render import JSONBytes, json_response
from pamps.routing import LeanRoute, SectionRouter
from pamps.services import posts, sessions, social, users
from pamps.services.common import id_by_name
from pamps.services.social import MAX_IDS

router = SectionRouter(route_class=LeanRoute)

UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's id.")]
SessionId = Annotated[int, Path(ge=1, le=MAX_ID, description="The session's id.")]
UsernamePath = Annotated[str, Path(max_length=64, description="The username (any case).")]
Ids = Annotated[list[Annotated[int, Query(ge=1, le=MAX_ID)]], Query(max_length=MAX_IDS)]


@router.get("/", response_model=list[UserPublic], summary="List users")
async def list_users(
    db: ReadDatabaseDep, request: Request, limit: Limit = DEFAULT_LIMIT, before: Before = None
) -> JSONBytes:
    """All users, newest first."""
    page = Page.newest_first(request, limit, before)
    return page.reply(await users.listing(db, limit, before))


@router.post(
    "/",
    response_model=UserProfile,
    status_code=status.HTTP_201_CREATED,
    summary="Register",
    responses=responses(Conflict, TooManyRequests),
)
async def create_user(
    request: Request, db: DatabaseDep, limiter: LimiterDep, body: UserCreate
) -> JSONBytes:
    """Create an account; usernames and emails are unique whatever their case."""
    await limiter.hit("register", "address", client_address(request))
    return json_response(await users.register(db, body), status_code=status.HTTP_201_CREATED)


@router.get(
    "/me/",
    response_model=UserPrivate,
    summary="My profile",
    responses=responses(Unauthorized),
)
async def read_me(db: DatabaseDep, user: CurrentUser) -> JSONBytes:
    """Your own profile, with your email."""
    return json_response(await users.private_profile(db, user["id"]))


@router.patch(
    "/me/",
    response_model=UserPrivate,
    summary="Update my profile",
    responses=responses(BadRequest, Unauthorized, Forbidden, Conflict, TooManyRequests),
    dependencies=[WriteLimited],
)
async def update_me(
    db: DatabaseDep, limiter: LimiterDep, user: CurrentUser, body: UserUpdate
) -> JSONBytes:
    """Change bio, avatar or email; a new password needs `current_password`."""
    return json_response(await users.update_own(db, limiter, user, body))


@router.get(
    "/me/sessions/",
    response_model=list[SessionPublic],
    summary="My sessions",
    responses=responses(Unauthorized),
)
async def my_sessions(
    db: DatabaseDep,
    request: Request,
    user: CurrentUser,
    limit: Limit = DEFAULT_LIMIT,
    before: Before = None,
) -> JSONBytes:
    """Your open sessions (one per login), newest first; `current` marks the
    one of the token used. `last_used_at` moves at each token refresh."""
    page = Page.newest_first(request, limit, before)
    rows = await sessions.listing(db, user["id"], user["session_id"], limit, before)
    return page.reply(rows)


@router.delete(
    "/me/sessions/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End a session",
    responses=responses(Unauthorized, NotFound),
)
async def end_session(db: DatabaseDep, user: CurrentUser, id: SessionId) -> None:
    """End one of your sessions (log that device out): its tokens are refused
    from now on."""
    await sessions.end_own(db, user["id"], id)


@router.get(
    "/me/liked/",
    response_model=list[int],
    summary="Which posts I like",
    responses=responses(Unauthorized),
)
async def liked(db: DatabaseDep, user: CurrentUser, post_id: Ids) -> list[int]:
    """Of the posts named by `post_id` (repeat it, up to 100), those you like."""
    return await social.liked_ids(db, user["id"], post_id)


@router.get(
    "/me/relationships/",
    response_model=list[Relationship],
    summary="How I stand with users",
    responses=responses(Unauthorized),
)
async def relationships(db: DatabaseDep, user: CurrentUser, id: Ids) -> list[dict[str, Any]]:
    """For each user named by `id` (repeat it, up to 100): whether you follow
    them and whether they follow you. Unknown ids are left out."""
    return await social.relationships(db, user["id"], id)


@router.get("/timeline/", include_in_schema=False)  # the slash every other route has
@router.get(
    "/timeline",
    response_model=list[PostPublic],
    summary="My timeline",
    responses=responses(Unauthorized),
)
async def timeline(
    request: Request, viewer: ViewerDep, limit: Limit = DEFAULT_LIMIT, before: Before = None
) -> JSONBytes:
    """Posts and replies by the users you follow, newest first."""
    page = Page.newest_first(request, limit, before)
    return page.reply(await posts.timeline(viewer.db, viewer.id, limit, before))


@router.post(
    "/follow/{id}",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Follow a user",
    responses={
        200: {"model": UserPublic, "description": "Already following"},
        **responses(BadRequest, Unauthorized, NotFound, TooManyRequests),
    },
    dependencies=[WriteLimited],
)
async def follow(id: UserId, response: Response, db: DatabaseDep, user: CurrentUser) -> Any:
    """Follow user `id`: 201 the first time, 200 if you already follow them."""
    target, created = await social.follow(db, user["id"], id)
    if not created:
        response.status_code = status.HTTP_200_OK
    return target


@router.delete(
    "/follow/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unfollow a user",
    responses=responses(Unauthorized, NotFound, TooManyRequests),
    dependencies=[WriteLimited],
)
async def unfollow(id: UserId, db: DatabaseDep, user: CurrentUser) -> None:
    """Stop following user `id` (204 also when you did not follow them)."""
    await social.unfollow(db, user["id"], id)


@router.get(
    "/{username}/",
    response_model=UserProfile,
    summary="A user's profile",
    responses=responses(NotFound),
)
async def read_user(db: ReadDatabaseDep, username: UsernamePath) -> JSONBytes:
    """Public profile with post, follower and following counts."""
    return json_response(await users.profile(db, username))


async def _graph(
    db: ReadDatabaseDep,
    request: Request,
    username: str,
    direction: str,
    limit: int,
    before: int | None,
) -> JSONBytes:
    user_id = await id_by_name(db, username)
    if user_id is None:
        raise NotFound("User not found")
    page = Page.newest_first(request, limit, before)
    return page.reply(await social.graph(db, user_id, direction, limit, before), "edge_id")


@router.get(
    "/{username}/followers/",
    response_model=list[UserPublic],
    summary="A user's followers",
    responses=responses(NotFound),
)
async def followers(
    db: ReadDatabaseDep,
    request: Request,
    username: UsernamePath,
    limit: Limit = DEFAULT_LIMIT,
    before: Before = None,
) -> JSONBytes:
    """Users who follow this user, most recent first."""
    return await _graph(db, request, username, "followers", limit, before)


@router.get(
    "/{username}/following/",
    response_model=list[UserPublic],
    summary="Who a user follows",
    responses=responses(NotFound),
)
async def following(
    db: ReadDatabaseDep,
    request: Request,
    username: UsernamePath,
    limit: Limit = DEFAULT_LIMIT,
    before: Before = None,
) -> JSONBytes:
    """Users this user follows, most recently followed first."""
    return await _graph(db, request, username, "following", limit, before)
