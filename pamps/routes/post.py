"""Posts, replies and likes."""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
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
from pamps.pagination import NewestFirst, OldestFirst
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
async def home(session: SessionDep, page: NewestFirst) -> list[Any]:
    """All top-level posts (no replies), newest first."""
    query = page.apply(visible_posts().where(col(Post.parent_id).is_(None)), col(Post.id))
    rows = (await session.execute(query)).all()
    return page.of(rows, lambda r: r.id)


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
    session: SessionDep,
    user: UserDep,
    page: NewestFirst,
    include_replies: Annotated[bool, Query(description="Include replies too.")] = False,
) -> list[Any]:
    """Posts written by a user, newest first; replies only when asked for."""
    query = visible_posts().where(col(Post.user_id) == user.id)
    if not include_replies:
        query = query.where(col(Post.parent_id).is_(None))
    rows = (await session.execute(page.apply(query, col(Post.id)))).all()
    return page.of(rows, lambda r: r.id)


@router.get(
    "/likes/{username}/",
    response_model=list[LikedPost],
    summary="Posts a user liked",
    responses=responses(NotFound),
)
async def user_likes(session: SessionDep, user: UserDep, page: NewestFirst) -> list[Any]:
    """Posts this user liked, most recent like first."""
    query = (
        visible_posts()
        .add_columns(col(Like.date).label("liked_at"), col(Like.id).label("like_id"))
        .join(Like, col(Like.post_id) == col(Post.id))
        .where(col(Like.user_id) == user.id)
    )
    rows = (await session.execute(page.apply(query, col(Like.id)))).all()
    return page.of(rows, lambda r: r.like_id)


@router.get(
    "/{id}/",
    response_model=PostWithReplies,
    summary="A post and its replies",
    responses=responses(NotFound),
)
async def post_detail(session: SessionDep, id: PostId, page: OldestFirst) -> dict[str, Any]:
    """The post with its direct replies, oldest first (paged with `after`)."""
    post = await read_post(session, id)
    query = page.apply(visible_posts().where(col(Post.parent_id) == id), col(Post.id))
    rows = (await session.execute(query)).all()
    return {**post._asdict(), "replies": page.of(rows, lambda r: r.id)}


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
