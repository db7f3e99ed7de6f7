"""Likes: one row per (user, post), enforced by the database."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel, col

from pamps.models.base import UTCDateTime, utcnow


class Like(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("user_id", "post_id", name="uq_like_user_id_post_id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    )
    post_id: int = Field(
        sa_column=Column(Integer, ForeignKey("post.id", ondelete="CASCADE"), nullable=False)
    )
    date: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


# A user's likes, most recent first.
Index("ix_like_user_id_id", col(Like.user_id), col(Like.id))
# The likes of a post, and their count.
Index("ix_like_post_id", col(Like.post_id))
