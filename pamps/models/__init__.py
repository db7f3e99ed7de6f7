"""Tables and schemas. Importing this package registers every table."""

from sqlmodel import SQLModel

from pamps.models.like import Like
from pamps.models.oauth import OAuthApp, OAuthCode, OAuthToken
from pamps.models.post import (
    LikedPost,
    Post,
    PostCreate,
    PostPublic,
    PostUpdate,
    PostWithReplies,
)
from pamps.models.session import IdempotencyKey, Session, SessionPublic
from pamps.models.social import Social
from pamps.models.user import (
    Relationship,
    User,
    UserCreate,
    UserPrivate,
    UserProfile,
    UserPublic,
    UserUpdate,
)

__all__ = [
    "IdempotencyKey",
    "Like",
    "LikedPost",
    "OAuthApp",
    "OAuthCode",
    "OAuthToken",
    "Post",
    "PostCreate",
    "PostPublic",
    "PostUpdate",
    "PostWithReplies",
    "Relationship",
    "SQLModel",
    "Session",
    "SessionPublic",
    "Social",
    "User",
    "UserCreate",
    "UserPrivate",
    "UserProfile",
    "UserPublic",
    "UserUpdate",
]
