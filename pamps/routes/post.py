"""Posts, replies and likes."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, status
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from pamps import queries
from pamps.auth import CurrentUser, TokenUserId
from pamps.database import Database, DatabaseDep
from pamps.db import SessionDep
from pamps.errors import (
    APIError,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    responses,
)
from pamps.models import (
    Like,
    LikedPost,
    Post,
    PostCreate,
    PostPublic,
    PostUpdate,
    PostWithReplies,
    visible_posts,
)
from pamps.models.post import MAX_ID
from pamps.pagination import DEFAULT_LIMIT, After, Before, Limit, NewestFirst, Page
from pamps.render import JSONBytes, json_response
from pamps.routes.user import UserIdDep, UsernamePath, WriteLimited, user_id_or_404
from pamps.routing import LeanRoute

router = APIRouter(route_class=LeanRoute)

PostId = Annotated[int, Path(ge=1, le=MAX_ID, description="The post's id.")]


async def get_post_or_404(session: SessionDep, id: PostId) -> Post:
    """The post named in the path, unless it does not exist or was deleted."""
    post = await session.get(Post, id)
    if post is None or post.deleted_at is not None:
        raise NotFound("Post not found")
    return post


PostDep = Annotated[Post, Depends(get_post_or_404)]


async def read_post(session: SessionDep, post_id: int) -> Any:
    row = (await session.execute(visible_posts().where(col(Post.id) == post_id))).first()
    if row is None:
        raise NotFound("Post not found")
    return row


def own_post(post: Post, user: CurrentUser) -> Post:
    if post.user_id != user.id:
        raise Forbidden("You can only change your own posts")
    return post


@router.get("/", response_model=list[PostPublic], summary="Home")
async def home(
    db: DatabaseDep, request: Request, limit: Limit = DEFAULT_LIMIT, before: Before = None
) -> JSONBytes:
    """All top-level posts (no replies), newest first."""
    page = Page.newest_first(request, limit, before)
    return page.reply(await db.all(queries.home(), page.params), _id)


def _id(row: dict[str, Any]) -> int:
    return int(row["id"])


@router.post(
    "/",
    response_model=PostPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Write a post or reply",
    responses=responses(Unauthorized, NotFound, TooManyRequests),
    dependencies=[WriteLimited],
)
async def create_post(db: DatabaseDep, user_id: TokenUserId, body: PostCreate) -> JSONBytes:
    """Publish a post as yourself; `parent_id` makes it a reply to that post."""
    parent = body.parent_id
    if parent is not None and await db.first(queries.visible_post_id(), {"id": parent}) is None:
        raise await missing_post_or_user(db, user_id)
    values = {"text": body.text, "date": datetime.now(UTC), "user_id": user_id, "parent_id": parent}
    try:
        # One statement, its own transaction, which also checks that the
        # token's user exists: if the database fails the client gets a 503
        # and nothing is stored, so a retry never makes a duplicate; once it
        # succeeded the answer needs no other query.
        row = await db.first(queries.insert_post(), values)
    except IntegrityError:  # the parent or the user vanished meanwhile
        raise await missing_post_or_user(db, user_id) from None
    if row is None:  # the token's user was deleted
        raise Unauthorized()
    return json_response(row | NEW_POST_COUNTERS, status_code=status.HTTP_201_CREATED)


NEW_POST_COUNTERS = {"likes_count": 0, "replies_count": 0}


async def missing_post_or_user(db: Database, user_id: int) -> APIError:
    """The error for a post that is not there: 401 first if the token's user
    is gone too, as for every authenticated route."""
    if await db.first(queries.user_exists(), {"id": user_id}) is None:
        return Unauthorized()
    return NotFound("Post not found")


@router.get(
    "/user/{username}/",
    response_model=list[PostPublic],
    summary="A user's posts",
    responses=responses(NotFound),
)
async def user_posts(
    db: DatabaseDep,
    request: Request,
    username: UsernamePath,
    include_replies: Annotated[bool, Query(description="Include replies too.")] = False,
    limit: Limit = DEFAULT_LIMIT,
    before: Before = None,
) -> JSONBytes:
    """Posts written by a user, newest first; replies only when asked for."""
    page = Page.newest_first(request, limit, before)
    name = queries.by_name(username)
    query = queries.user_posts(include_replies)
    rows = await db.all(query, {**name, **page.params}) if name else []
    if not rows:  # only then: is there such a user at all?
        await user_id_or_404(db, username)
    return page.reply(rows, _id)


@router.get(
    "/likes/{username}/",
    response_model=list[LikedPost],
    summary="Posts a user liked",
    responses=responses(NotFound),
)
async def user_likes(session: SessionDep, user_id: UserIdDep, page: NewestFirst) -> list[Any]:
    """Posts this user liked, most recent like first."""
    query = (
        visible_posts()
        .add_columns(col(Like.date).label("liked_at"), col(Like.id).label("like_id"))
        .join(Like, col(Like.post_id) == col(Post.id))
        .where(col(Like.user_id) == user_id)
    )
    rows = (await session.execute(page.apply(query, col(Like.id)))).all()
    return page.of(rows, lambda r: r.like_id)


@router.get(
    "/{id}/",
    response_model=PostWithReplies,
    summary="A post and its replies",
    responses=responses(NotFound),
)
async def post_detail(
    db: DatabaseDep, request: Request, id: PostId, limit: Limit = DEFAULT_LIMIT, after: After = None
) -> JSONBytes:
    """The post with its direct replies, oldest first (paged with `after`)."""
    page = Page.oldest_first(request, limit, after)
    rows = await db.all(queries.post_with_replies(), {"id": id, **page.params})
    post = next((row for row in rows if row["id"] == id), None)
    if post is None:
        raise NotFound("Post not found")
    # The replies' order is their subquery's, which a UNION ALL may not keep.
    replies = sorted((row for row in rows if row is not post), key=_id)
    post["replies"] = page.of(replies, _id)
    return json_response(post, link=page.link)


@router.patch(
    "/{id}/",
    response_model=PostPublic,
    summary="Edit a post",
    responses=responses(Unauthorized, Forbidden, NotFound, TooManyRequests),
    dependencies=[WriteLimited],
)
async def edit_post(session: SessionDep, user: CurrentUser, post: PostDep, body: PostUpdate) -> Any:
    """Change the text of your own post; `edited_at` records when."""
    own_post(post, user)
    post.text = body.text
    post.edited_at = datetime.now(UTC)
    session.add(post)
    await session.flush()
    public = await read_post(session, post.id or 0)
    await session.commit()
    return public


@router.delete(
    "/{id}/",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a post",
    responses=responses(Unauthorized, Forbidden, NotFound, TooManyRequests),
    dependencies=[WriteLimited],
)
async def delete_post(session: SessionDep, user: CurrentUser, post: PostDep) -> None:
    """Delete your own post. Replies that others wrote to it stay."""
    own_post(post, user)
    # Conditional on "not yet deleted": of two concurrent deletes one wins.
    result = await session.exec(
        update(Post)
        .where(col(Post.id) == post.id, col(Post.deleted_at).is_(None))
        .values(deleted_at=datetime.now(UTC))
    )
    await session.commit()
    if not result.rowcount:
        raise NotFound("Post not found")


@router.post(
    "/{id}/like/",
    response_model=PostPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Like a post",
    responses={
        200: {"model": PostPublic, "description": "Already liked"},
        **responses(Unauthorized, NotFound, TooManyRequests),
    },
    dependencies=[WriteLimited],
)
async def like(db: DatabaseDep, user_id: TokenUserId, id: PostId) -> JSONBytes:
    """Like a post: 201 the first time, 200 if you already like it."""
    values = {"user_id": user_id, "post_id": id, "id": id, "date": datetime.now(UTC)}
    public = None
    try:
        # Written only if the user exists, the post is visible and not yet
        # liked by this user; on PostgreSQL the post is read back in the
        # same statement (one round trip: ~20 % less CPU per like).
        if db.dialect == "postgresql":
            public = await db.first(queries.like_and_read(), values)
            created = public is not None and public.pop("created")
            if not created:
                # Liked already, perhaps by a concurrent request of the same
                # user that this statement's snapshot predates: read afresh.
                public = None
        else:
            created = await db.first(queries.insert_like(db.dialect), values) is not None
    except IntegrityError:  # the post or the user vanished meanwhile
        created = False
    if public is None:
        public = await db.first(queries.post_for_viewer(), values)
    if public is None:
        raise await missing_post_or_user(db, user_id)
    if not public.pop("viewer"):  # the token's user was deleted
        raise Unauthorized()
    return json_response(public, status_code=201 if created else status.HTTP_200_OK)


@router.delete(
    "/{id}/like/",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unlike a post",
    responses=responses(Unauthorized, NotFound, TooManyRequests),
    dependencies=[WriteLimited],
)
async def unlike(session: SessionDep, user: CurrentUser, post: PostDep) -> None:
    """Remove your like (204 also when you had not liked it)."""
    await session.exec(
        delete(Like).where(col(Like.user_id) == user.id, col(Like.post_id) == post.id)
    )
    await session.commit()
