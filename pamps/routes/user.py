"""Accounts, profiles, the social graph and the timeline."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from pamps import queries, ratelimit
from pamps.auth import CurrentUser, TokenUserId
from pamps.database import DatabaseDep
from pamps.db import SessionDep, insert_or_ignore
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
    Post,
    PostPublic,
    Social,
    User,
    UserCreate,
    UserPrivate,
    UserProfile,
    UserPublic,
    UserUpdate,
    user_by_username,
)
from pamps.models.post import MAX_ID
from pamps.pagination import DEFAULT_LIMIT, Before, Limit, NewestFirst, Page
from pamps.render import JSONBytes, json_response
from pamps.routing import LeanRoute
from pamps.security import hash_password, verify_password

router = APIRouter(route_class=LeanRoute)

UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's id.")]
UsernamePath = Annotated[str, Path(max_length=64, description="The username (any case).")]


async def write_limit(user_id: TokenUserId) -> None:
    await ratelimit.hit("write", "user", str(user_id))


WriteLimited = Depends(write_limit)


async def user_id_or_404(db: DatabaseDep, username: UsernamePath) -> int:
    """The id of the user named in the path (any case)."""
    params = queries.by_name(username)
    row = await db.first(queries.user_id_by_name(), params) if params else None
    if row is None:
        raise NotFound("User not found")
    return int(row["id"])


UserIdDep = Annotated[int, Depends(user_id_or_404)]


async def profile(session: SessionDep, user: User) -> dict[str, Any]:
    """The user's public fields plus counters, counted in one statement."""
    uid = user.id
    result = await session.execute(
        select(
            select(func.count())
            .select_from(Post)
            .where(col(Post.user_id) == uid, col(Post.deleted_at).is_(None))
            .scalar_subquery(),
            select(func.count())
            .select_from(Social)
            .where(col(Social.to_id) == uid)
            .scalar_subquery(),
            select(func.count())
            .select_from(Social)
            .where(col(Social.from_id) == uid)
            .scalar_subquery(),
        )
    )
    counts = result.one()
    return {
        **user.model_dump(exclude={"password"}),
        "posts_count": counts[0],
        "followers_count": counts[1],
        "following_count": counts[2],
    }


async def duplicate_check(session: SessionDep, username: str | None, email: str | None) -> None:
    if username is not None and (await session.exec(user_by_username(username))).first():
        raise Conflict("Username already taken")
    if email is not None:
        query = select(col(User.id)).where(col(User.email) == email)
        taken = (await session.execute(query)).first()
        if taken:
            raise Conflict("Email already registered")


@router.get("/", response_model=list[UserPublic], summary="List users")
async def list_users(session: SessionDep, page: NewestFirst) -> list[User]:
    """All users, newest first."""
    rows = (await session.scalars(page.apply(select(User), col(User.id)))).all()
    return page.of(rows, lambda u: u.id or 0)


@router.post(
    "/",
    response_model=UserProfile,
    status_code=status.HTTP_201_CREATED,
    summary="Register",
    responses=responses(Conflict, TooManyRequests),
)
async def create_user(request: Request, session: SessionDep, body: UserCreate) -> dict[str, Any]:
    """Create an account; usernames and emails are unique whatever their case."""
    await ratelimit.hit("register", "address", ratelimit.client_address(request))
    await duplicate_check(session, body.username, body.email)
    # Argon2 keeps a core busy: hashed in the threadpool, off the event loop.
    hashed = await run_in_threadpool(hash_password, body.password)
    user = User.model_validate(body, update={"password": hashed})
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent registration won the race
        await session.rollback()
        raise Conflict("Username or email already registered") from None
    # Read the answer before committing: a failure now stores nothing.
    public = await profile(session, user)
    await session.commit()
    return public


@router.get(
    "/me/",
    response_model=UserPrivate,
    summary="My profile",
    responses=responses(Unauthorized),
)
async def read_me(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Your own profile, with your email."""
    return await profile(session, user) | {"email": user.email}


@router.patch(
    "/me/",
    response_model=UserPrivate,
    summary="Update my profile",
    responses=responses(BadRequest, Unauthorized, Forbidden, Conflict, TooManyRequests),
    dependencies=[WriteLimited],
)
async def update_me(session: SessionDep, current: CurrentUser, body: UserUpdate) -> dict[str, Any]:
    """Change bio, avatar or email; a new password needs `current_password`."""
    user = await session.get(User, current.id)
    if user is None:  # deleted meanwhile
        raise Unauthorized()
    changes = body.model_dump(exclude_unset=True, exclude={"password", "current_password"})
    if body.password is not None:
        if body.current_password is None:
            raise BadRequest("current_password is required to change the password")
        # Wrong guesses count against the same budget as failed logins, so a
        # stolen token cannot be used to guess the password at leisure.
        await ratelimit.check("login", "account", f"id:{user.id}")
        valid, _ = await run_in_threadpool(verify_password, body.current_password, user.password)
        if not valid:
            await ratelimit.hit("login", "account", f"id:{user.id}")
            raise Forbidden("Current password is incorrect")
        changes["password"] = await run_in_threadpool(hash_password, body.password)
    if "email" in changes:
        if changes["email"] is None:
            raise BadRequest("email cannot be removed")
        if changes["email"] != user.email:
            await duplicate_check(session, None, changes["email"])
    user.sqlmodel_update(changes)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict("Email already registered") from None
    private = await profile(session, user) | {"email": user.email}
    await session.commit()
    return private


@router.get("/timeline/", include_in_schema=False)  # the slash every other route has
@router.get(
    "/timeline",
    response_model=list[PostPublic],
    summary="My timeline",
    responses=responses(Unauthorized),
)
async def timeline(
    db: DatabaseDep,
    request: Request,
    user_id: TokenUserId,
    limit: Limit = DEFAULT_LIMIT,
    before: Before = None,
) -> JSONBytes:
    """Posts and replies by the users you follow, newest first."""
    page = Page.newest_first(request, limit, before)
    rows = await db.all(queries.timeline(db.dialect), {"user_id": user_id, **page.params})
    # Rows come only through the user's follows, which go with the user: an
    # empty page is the one case where the token may name a deleted user.
    if not rows and await db.first(queries.user_exists(), {"id": user_id}) is None:
        raise Unauthorized()
    return page.reply(rows, lambda r: int(r["id"]))


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
async def follow(id: UserId, response: Response, session: SessionDep, user: CurrentUser) -> User:
    """Follow user `id`: 201 the first time, 200 if you already follow them."""
    if id == user.id:
        raise BadRequest("You cannot follow yourself")
    target = await session.get(User, id)
    if target is None:
        raise NotFound("User not found")
    try:
        created = await insert_or_ignore(
            session, Social, from_id=user.id, to_id=id, date=datetime.now(UTC)
        )
        await session.commit()
    except IntegrityError:  # the user was deleted meanwhile
        await session.rollback()
        raise NotFound("User not found") from None
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
async def unfollow(id: UserId, session: SessionDep, user: CurrentUser) -> None:
    """Stop following user `id` (204 also when you did not follow them)."""
    if await session.get(User, id) is None:
        raise NotFound("User not found")
    await session.exec(
        delete(Social).where(col(Social.from_id) == user.id, col(Social.to_id) == id)
    )
    await session.commit()


@router.get(
    "/{username}/",
    response_model=UserProfile,
    summary="A user's profile",
    responses=responses(NotFound),
)
async def read_user(db: DatabaseDep, username: UsernamePath) -> JSONBytes:
    """Public profile with post, follower and following counts."""
    params = queries.by_name(username)
    row = await db.first(queries.profile_by_name(), params) if params else None
    if row is None:
        raise NotFound("User not found")
    return json_response(row)


async def _graph_page(session: SessionDep, user_id: int, page: Page, direction: str) -> list[Any]:
    """Followers (direction "followers") or followed users, newest edge first."""
    mine, theirs = (
        (Social.to_id, Social.from_id)
        if direction == "followers"
        else (Social.from_id, Social.to_id)
    )
    query = (
        select(User, col(Social.id))
        .join(Social, col(theirs) == col(User.id))
        .where(col(mine) == user_id)
    )
    rows = (await session.execute(page.apply(query, col(Social.id)))).all()
    return [row[0] for row in page.of(rows, lambda r: r[1])]


@router.get(
    "/{username}/followers/",
    response_model=list[UserPublic],
    summary="A user's followers",
    responses=responses(NotFound),
)
async def followers(session: SessionDep, user_id: UserIdDep, page: NewestFirst) -> list[Any]:
    """Users who follow this user, most recent first."""
    return await _graph_page(session, user_id, page, "followers")


@router.get(
    "/{username}/following/",
    response_model=list[UserPublic],
    summary="Who a user follows",
    responses=responses(NotFound),
)
async def following(session: SessionDep, user_id: UserIdDep, page: NewestFirst) -> list[Any]:
    """Users this user follows, most recently followed first."""
    return await _graph_page(session, user_id, page, "following")
