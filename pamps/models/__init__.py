"""Tables and schemas. Importing this package registers every table."""

from sqlmodel import SQLModel

from pamps.models.like import Like
from pamps.models.post import (
    LikedPost,
    Post,
    PostCreate,
    PostPublic,
    PostUpdate,
    PostWithReplies,
    visible_posts,
)
from pamps.models.social import Social
from pamps.models.user import (
    User,
    UserCreate,
    UserPrivate,
    UserProfile,
    UserPublic,
    UserUpdate,
    user_by_username,
)

__all__ = [
    "Like",
    "LikedPost",
    "Post",
    "PostCreate",
    "PostPublic",
    "PostUpdate",
    "PostWithReplies",
    "SQLModel",
    "Social",
    "User",
    "UserCreate",
    "UserPrivate",
    "UserProfile",
    "UserPublic",
    "UserUpdate",
    "user_by_username",
    "visible_posts",
]
