"""Users: the table, its request/response schemas and shared queries."""

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, EmailStr, StringConstraints
from sqlalchemy import Column, Index, String, func
from sqlmodel import Field, SQLModel, col

from pamps.models.base import UTCDateTime, utcnow

# Path segments of the routes under /user/ that a username must never shadow,
# plus names that would mislead people.
RESERVED_USERNAMES = frozenset(
    {
        "me",
        "timeline",
        "follow",
        "followers",
        "following",
        "likes",
        "user",
        "users",
        "post",
        "posts",
        "admin",
        "root",
        "token",
        "refresh_token",
        "health",
        "docs",
        "openapi",
        "api",
        "static",
        "null",
        "none",
        "undefined",
    }
)
USERNAME_RE = re.compile(r"[A-Za-z0-9_]{3,30}")


def check_username(value: str) -> str:
    # fullmatch on an ASCII class: no path separators, dots, NULs or
    # look-alike letters from other scripts.
    if not USERNAME_RE.fullmatch(value):
        raise ValueError("must be 3 to 30 characters of letters A-Z, digits and _")
    if value.lower() in RESERVED_USERNAMES:
        raise ValueError("is reserved")
    return value


def normalize_email(value: str) -> str:
    return value.lower()


def reject_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL and SQLite would store it: refuse it on
    # both, as post text does.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Username = Annotated[
    str, StringConstraints(min_length=3, max_length=30), AfterValidator(check_username)
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
Email = Annotated[EmailStr, StringConstraints(max_length=254), AfterValidator(normalize_email)]
Avatar = Annotated[
    str, StringConstraints(max_length=500, strip_whitespace=True), AfterValidator(reject_nul)
]
Bio = Annotated[str, StringConstraints(max_length=500), AfterValidator(reject_nul)]


class User(SQLModel, table=True):
    """A registered account. ``password`` holds the hash only."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=Column(String(254), nullable=False, unique=True))
    username: str = Field(sa_column=Column(String(30), nullable=False))
    avatar: str | None = Field(default=None, sa_column=Column(String(500)))
    bio: str | None = Field(default=None, sa_column=Column(String(500)))
    password: str = Field(sa_column=Column(String(255), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow,
        sa_column=Column(UTCDateTime(), nullable=False),
    )


# Usernames are unique whatever their case ("Alice" after "alice" is a
# duplicate); the same index serves every lookup by name.
Index("ix_user_username_lower", func.lower(col(User.username)), unique=True)


class UserCreate(SQLModel):
    """Registration payload."""

    model_config = ConfigDict(extra="ignore")  # type: ignore[assignment]

    email: Email
    username: Username
    password: Password
    avatar: Avatar | None = None
    bio: Bio | None = None


class UserUpdate(SQLModel):
    """Changes to one's own profile; a new password needs the current one."""

    model_config = ConfigDict(extra="ignore")  # type: ignore[assignment]

    email: Email | None = None
    avatar: Avatar | None = None
    bio: Bio | None = None
    password: Password | None = None
    current_password: Annotated[str, StringConstraints(max_length=128)] | None = None


class UserPublic(SQLModel):
    """What anybody may see of a user."""

    id: int
    username: str
    avatar: str | None
    bio: str | None
    created_at: datetime


class UserProfile(UserPublic):
    """A public profile with its counters."""

    posts_count: int = 0
    followers_count: int = 0
    following_count: int = 0


class UserPrivate(UserProfile):
    """One's own profile: the public one plus the email."""

    email: str


class Relationship(SQLModel):
    """How the viewer stands with user ``id``."""

    id: int
    following: bool
    followed_by: bool
