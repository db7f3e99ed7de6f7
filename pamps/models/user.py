"""Users: the table, its request/response schemas and shared queries."""

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, EmailStr, StringConstraints, WithJsonSchema
from pydantic import Field as PydanticField
from sqlalchemy import Column, Index, String, func
from sqlmodel import Field, SQLModel, col

from pamps.models.base import UTCDateTime, counter_column, utcnow

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


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


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


# check_username's rules as a JSON Schema pattern (a reserved word in any
# case is refused), so that the OpenAPI document states them.
USERNAME_PATTERN = (
    "^(?!(?:"
    + "|".join(_any_case(word) for word in sorted(RESERVED_USERNAMES))
    + ")$)[A-Za-z0-9_]{3,30}$"
)

Username = Annotated[
    str,
    StringConstraints(min_length=3, max_length=30),
    AfterValidator(check_username),
    PydanticField(
        json_schema_extra={"pattern": USERNAME_PATTERN},
        description="3 to 30 of A-Z, a-z, 0-9 and _; not a reserved word such as `me`.",
    ),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128)]
# Addresses the schema promises to accept: a subset of email-validator's
# (which also takes dotted, quoted and internationalised local parts and
# refuses reserved domains such as .test), kept simple because fuzzers
# generate strings from it (lookaheads made that minutes slower).
EMAIL_PATTERN = "^[A-Za-z0-9_+-]{1,64}@([A-Za-z0-9]{1,63}[.])+[A-Za-z]{2,24}$"
EMAIL_SCHEMA = {"type": "string", "format": "email", "maxLength": 254, "pattern": EMAIL_PATTERN}
Email = Annotated[
    EmailStr,
    StringConstraints(max_length=254),
    AfterValidator(normalize_email),
    PydanticField(json_schema_extra={"pattern": EMAIL_PATTERN}),
]
# An http(s) URL without spaces or control characters: never javascript:,
# data: or anything else a page showing the avatar would run or load.
AVATAR_PATTERN = r"^https?://[^\s/?#\x00-\x1f\x7f]+([/?#][^\s\x00-\x1f\x7f]*)?$"
# As sent: the spaces around it are stripped.
AVATAR_SCHEMA = rf"^\s*{AVATAR_PATTERN[1:-1]}\s*$"


def check_avatar(value: str) -> str:
    if not re.fullmatch(AVATAR_PATTERN, value):
        raise ValueError("must be an http:// or https:// URL")
    return value


Avatar = Annotated[
    str,
    StringConstraints(max_length=500, strip_whitespace=True),
    AfterValidator(check_avatar),
    PydanticField(json_schema_extra={"pattern": AVATAR_SCHEMA}),
]
NO_NUL = "^[^\\x00]*$"
Bio = Annotated[
    str,
    StringConstraints(max_length=500),
    AfterValidator(reject_nul),
    PydanticField(json_schema_extra={"pattern": NO_NUL}),
]


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
    # Kept by the database's triggers (migration 0009), never written here.
    posts_count: int = Field(default=0, sa_column=counter_column())
    followers_count: int = Field(default=0, sa_column=counter_column())
    following_count: int = Field(default=0, sa_column=counter_column())


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

    model_config = ConfigDict(  # type: ignore[assignment]
        extra="ignore",
        # A password (not null) needs current_password (a 400 otherwise).
        json_schema_extra={
            "if": {"required": ["password"], "properties": {"password": {"type": "string"}}},
            "then": {
                "required": ["current_password"],
                "properties": {"current_password": {"type": "string"}},
            },
        },
    )

    # Null is refused (400: an email cannot be removed), so not in the schema.
    email: Annotated[Email | None, WithJsonSchema(EMAIL_SCHEMA)] = None
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
