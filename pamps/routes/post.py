"""Posts, replies and likes."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from pamps.auth import CurrentUser
from pamps.db import SessionDep, insert_or_ignore
from pamps.errors import Forbidden, NotFound, TooManyRequests, Unauthorized, responses
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
from pamps.pagination import After, Before, Limit, paginate
from pamps.routes.user import UserDep, WriteLimited

router = APIRouter()

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
    request: Request,
    response: Response,
    session: SessionDep,
    limit: Limit = 20,
    before: Before = None,
) -> list[Any]:
    """All top-level posts (no replies), newest first."""
    query = (
        visible_posts()
        .where(col(Post.parent_id).is_(None))
        .order_by(col(Post.id).desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(col(Post.id) < before)
    rows = (await session.execute(query)).all()
    return paginate(rows, limit, request, response, lambda r: r.id)


@router.post(
    "/",
    response_model=PostPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Write a post or reply",
    responses=responses(Unauthorized, NotFound, TooManyRequests),
    dependencies=[WriteLimited],
)
async def create_post(session: SessionDep, user: CurrentUser, body: PostCreate) -> Any:
    """Publish a post as yourself; `parent_id` makes it a reply to that post."""
    if body.parent_id is not None:
        await get_post_or_404(session, body.parent_id)
    post = Post(text=body.text, parent_id=body.parent_id, user_id=user.id or 0)
    session.add(post)
    try:
        await session.flush()
    except IntegrityError:  # the parent vanished meanwhile
        await session.rollback()
        raise NotFound("Post not found") from None
    # The answer is read inside the transaction and committed last: if the
    # database fails before the commit the client gets a 503 and nothing is
    # stored, so a retry never makes a duplicate.
    public = await read_post(session, post.id or 0)
    await session.commit()
    return public


@router.get(
    "/user/{username}/",
    response_model=list[PostPublic],
    summary="A user's posts",
    responses=responses(NotFound),
)
async def user_posts(
    request: Request,
    response: Response,
    session: SessionDep,
    user: UserDep,
    include_replies: Annotated[bool, Query(description="Include replies too.")] = False,
    limit: Limit = 20,
    before: Before = None,
) -> list[Any]:
    """Posts written by a user, newest first; replies only when asked for."""
    query = (
        visible_posts()
        .where(col(Post.user_id) == user.id)
        .order_by(col(Post.id).desc())
        .limit(limit + 1)
    )
    if not include_replies:
        query = query.where(col(Post.parent_id).is_(None))
    if before is not None:
        query = query.where(col(Post.id) < before)
    rows = (await session.execute(query)).all()
    return paginate(rows, limit, request, response, lambda r: r.id)


@router.get(
    "/likes/{username}/",
    response_model=list[LikedPost],
    summary="Posts a user liked",
    responses=responses(NotFound),
)
async def user_likes(
    request: Request,
    response: Response,
    session: SessionDep,
    user: UserDep,
    limit: Limit = 20,
    before: Before = None,
) -> list[Any]:
    """Posts this user liked, most recent like first."""
    query = (
        visible_posts()
        .add_columns(col(Like.date).label("liked_at"), col(Like.id).label("like_id"))
        .join(Like, col(Like.post_id) == col(Post.id))
        .where(col(Like.user_id) == user.id)
        .order_by(col(Like.id).desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(col(Like.id) < before)
    rows = (await session.execute(query)).all()
    return paginate(rows, limit, request, response, lambda r: r.like_id)


@router.get(
    "/{id}/",
    response_model=PostWithReplies,
    summary="A post and its replies",
    responses=responses(NotFound),
)
async def post_detail(
    request: Request,
    response: Response,
    session: SessionDep,
    id: PostId,
    limit: Limit = 20,
    after: After = None,
) -> dict[str, Any]:
    """The post with its direct replies, oldest first (paged with `after`)."""
    post = await read_post(session, id)
    query = visible_posts().where(col(Post.parent_id) == id).order_by(col(Post.id)).limit(limit + 1)
    if after is not None:
        query = query.where(col(Post.id) > after)
    rows = (await session.execute(query)).all()
    replies = paginate(rows, limit, request, response, lambda r: r.id, param="after")
    return {**post._asdict(), "replies": replies}


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
async def like(response: Response, session: SessionDep, user: CurrentUser, post: PostDep) -> Any:
    """Like a post: 201 the first time, 200 if you already like it."""
    try:
        created = await insert_or_ignore(
            session, Like, user_id=user.id, post_id=post.id, date=datetime.now(UTC)
        )
    except IntegrityError:  # the post vanished meanwhile
        await session.rollback()
        raise NotFound("Post not found") from None
    if not created:
        response.status_code = status.HTTP_200_OK
    public = await read_post(session, post.id or 0)
    await session.commit()
    return public


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
