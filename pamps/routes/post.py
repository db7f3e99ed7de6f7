"""Posts, replies and likes."""

from datetime import timedelta
from typing import Annotated

from fastapi import Path, Query, Request, status

from pamps.auth import CurrentUser, ViewerDep, WriteLimited
from pamps.config import setting
from pamps.deps import DatabaseDep, ReadDatabaseDep
from pamps.errors import (
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    UnprocessableContent,
    responses,
)
from pamps.models import LikedPost, PostCreate, PostPublic, PostUpdate, PostWithReplies
from pamps.models.post import MAX_ID
from pamps.pagination import DEFAULT_LIMIT, After, Before, Limit, Page
from pamps.render import JSONBytes, json_response
from pamps.routing import LeanRoute, SectionRouter
from pamps.services import posts, social

router = SectionRouter(route_class=LeanRoute)

PostId = Annotated[int, Path(ge=1, le=MAX_ID, description="The post's id.")]
UsernamePath = Annotated[str, Path(max_length=64, description="The username (any case).")]


@router.get("/", response_model=list[PostPublic], summary="Home")
async def home(
    db: ReadDatabaseDep, request: Request, limit: Limit = DEFAULT_LIMIT, before: Before = None
) -> JSONBytes:
    """All top-level posts (no replies), newest first."""
    page = Page.newest_first(request, limit, before)
    return page.reply(await posts.home(db, limit, before))


MAX_IDEMPOTENCY_KEY = 255
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Sent again with the same body within 24 hours, the first post "
    "is answered (200) and nothing new is stored; with another body, 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
}


@router.post(
    "/",
    response_model=PostPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Write a post or reply",
    responses={
        200: {"model": PostPublic, "description": "Already written with this Idempotency-Key"},
        **responses(Unauthorized, NotFound, TooManyRequests),
        # The body's validation errors (a list), or the Idempotency-Key's (a message).
        422: {
            "description": "Validation Error, or an Idempotency-Key too long or reused",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/HTTPValidationError"},
                            {"$ref": "#/components/schemas/ErrorMessage"},
                        ]
                    }
                }
            },
        },
    },
    dependencies=[WriteLimited],
    # Read from the request rather than declared as a Header parameter, so
    # the route stays a LeanRoute; documented here all the same.
    openapi_extra={"parameters": [IDEMPOTENCY_KEY]},
)
async def create_post(request: Request, viewer: ViewerDep, body: PostCreate) -> JSONBytes:
    """Publish a post as yourself; `parent_id` makes it a reply to that post."""
    key = request.headers.get("idempotency-key")
    if key is None:
        post = await posts.create(viewer.db, viewer.id, body.text, body.parent_id)
        return json_response(post, status_code=status.HTTP_201_CREATED)
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise UnprocessableContent(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    window = timedelta(hours=int(setting("posts.idempotency_hours")))
    post, created = await posts.create_once(
        viewer.db, viewer.id, body.text, body.parent_id, key, window
    )
    return json_response(post, status_code=201 if created else status.HTTP_200_OK)


@router.get(
    "/user/{username}/",
    response_model=list[PostPublic],
    summary="A user's posts",
    responses=responses(NotFound),
)
async def user_posts(
    db: ReadDatabaseDep,
    request: Request,
    username: UsernamePath,
    include_replies: Annotated[bool, Query(description="Include replies too.")] = False,
    limit: Limit = DEFAULT_LIMIT,
    before: Before = None,
) -> JSONBytes:
    """Posts written by a user, newest first; replies only when asked for."""
    page = Page.newest_first(request, limit, before)
    rows = await posts.by_user(db, username, include_replies, limit, before)
    if rows is None:
        raise NotFound("User not found")
    return page.reply(rows)


@router.get(
    "/likes/{username}/",
    response_model=list[LikedPost],
    summary="Posts a user liked",
    responses=responses(NotFound),
)
async def user_likes(
    db: ReadDatabaseDep,
    request: Request,
    username: UsernamePath,
    limit: Limit = DEFAULT_LIMIT,
    before: Before = None,
) -> JSONBytes:
    """Posts this user liked, most recent like first."""
    page = Page.newest_first(request, limit, before)
    rows = await posts.liked_by(db, username, limit, before)
    if rows is None:
        raise NotFound("User not found")
    return page.reply(rows, "like_id")


@router.get(
    "/{id}/",
    response_model=PostWithReplies,
    summary="A post and its replies",
    responses=responses(NotFound),
)
async def post_detail(
    db: ReadDatabaseDep,
    request: Request,
    id: PostId,
    limit: Limit = DEFAULT_LIMIT,
    after: After = None,
) -> JSONBytes:
    """The post with its direct replies, oldest first (paged with `after`)."""
    page = Page.oldest_first(request, limit, after)
    post, replies = await posts.post_with_replies(db, id, limit, after)
    post["replies"] = page.of(replies)
    return json_response(post, link=page.link)


@router.patch(
    "/{id}/",
    response_model=PostPublic,
    summary="Edit a post",
    responses=responses(Unauthorized, Forbidden, NotFound, TooManyRequests),
    dependencies=[WriteLimited],
)
async def edit_post(db: DatabaseDep, user: CurrentUser, id: PostId, body: PostUpdate) -> JSONBytes:
    """Change the text of your own post; `edited_at` records when."""
    return json_response(await posts.edit(db, user["id"], id, body.text))


@router.delete(
    "/{id}/",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a post",
    responses=responses(Unauthorized, Forbidden, NotFound, TooManyRequests),
    dependencies=[WriteLimited],
)
async def delete_post(db: DatabaseDep, user: CurrentUser, id: PostId) -> None:
    """Delete your own post. Replies that others wrote to it stay."""
    await posts.delete(db, user["id"], id)


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
async def like(viewer: ViewerDep, id: PostId) -> JSONBytes:
    """Like a post: 201 the first time, 200 if you already like it."""
    post, created = await social.like(viewer.db, viewer.id, id)
    return json_response(post, status_code=201 if created else status.HTTP_200_OK)


@router.delete(
    "/{id}/like/",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unlike a post",
    responses=responses(Unauthorized, NotFound, TooManyRequests),
    dependencies=[WriteLimited],
)
async def unlike(viewer: ViewerDep, id: PostId) -> None:
    """Remove your like (204 also when you had not liked it)."""
    await social.unlike(viewer.db, viewer.id, id)
