"""Posts: the table and its request/response schemas."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, ConfigDict, StrictInt
from pydantic import Field as PydanticField
from sqlalchemy import Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel, col

from pamps.config import setting, settings
from pamps.models.base import UTCDateTime, counter_column, utcnow

# Ids are 32-bit integers in every table; anything larger can name nothing.
MAX_ID = 2**31 - 1


class Post(SQLModel, table=True):
    """A post, or a reply when ``parent_id`` is set.

    Deleting a post only stamps ``deleted_at``: it leaves every listing, yet
    replies other people wrote to it keep their place.
    """

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    date: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    )
    parent_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("post.id", ondelete="SET NULL"), nullable=True),
    )
    edited_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    deleted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Kept by the database's triggers (migration 0009): its likes and its
    # visible replies.
    likes_count: int = Field(default=0, sa_column=counter_column())
    replies_count: int = Field(default=0, sa_column=counter_column())


_visible = col(Post.deleted_at).is_(None)
# A user's posts and replies, newest first.
Index("ix_post_user_id_id", col(Post.user_id), col(Post.id))
# A user's visible posts, newest first: the timeline takes the newest few of
# each followed user from it, and profiles count posts with it.
Index(
    "ix_post_user_visible",
    col(Post.user_id),
    col(Post.id),
    postgresql_where=_visible,
    sqlite_where=_visible,
)
# Replies of a post, oldest first, and their count.
Index("ix_post_parent_id_id", col(Post.parent_id), col(Post.id))
# The home listing: visible top-level posts, newest first. Partial, so it stays
# small and the newest rows are the first ones in it.
Index(
    "ix_post_home",
    col(Post.id),
    postgresql_where=col(Post.parent_id).is_(None) & _visible,
    sqlite_where=col(Post.parent_id).is_(None) & _visible,
)


def check_text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    limit = int(setting("posts.max_length"))
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    return value


def text_schema(schema: dict[str, Any]) -> None:
    """check_text's rules as a JSON Schema pattern: 1 to posts.max_length
    characters once the spaces around them are removed, no NUL."""
    limit = int(settings.posts.max_length)
    middle = f"(?:[^\\x00]{{0,{limit - 2}}}[^\\s\\x00])?" if limit > 1 else ""
    schema["pattern"] = rf"^\s*[^\s\x00]{middle}\s*$"
    schema["description"] = (
        f"1 to {limit} characters once leading and trailing spaces are removed; no NUL."
    )


PostText = Annotated[str, AfterValidator(check_text), PydanticField(json_schema_extra=text_schema)]


class PostCreate(SQLModel):
    """A new post or reply. The author, id and date come from the server."""

    model_config = ConfigDict(extra="ignore")  # type: ignore[assignment]

    text: PostText
    parent_id: (
        Annotated[
            StrictInt,
            Field(
                ge=1,
                le=MAX_ID,
                # JSON Schema counts 1.0 as an integer; the server does not.
                description="The id of the post replied to: a JSON integer, written without a "
                'fraction or exponent (`1`, never `1.0` or `"1"`).',
            ),
        ]
        | None
    ) = None


class PostUpdate(SQLModel):
    """An edit: only the text can change."""

    model_config = ConfigDict(extra="ignore")  # type: ignore[assignment]

    text: PostText


class PostPublic(SQLModel):
    id: int
    text: str
    date: datetime
    user_id: int
    username: str
    parent_id: int | None
    edited_at: datetime | None
    likes_count: int
    replies_count: int


class PostWithReplies(PostPublic):
    replies: list[PostPublic]


class LikedPost(PostPublic):
    """A post in someone's likes, with when they liked it."""

    liked_at: datetime
