"""The social graph: ``from_id`` follows ``to_id``."""

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel, col

from pamps.models.base import UTCDateTime, utcnow


class Social(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("from_id", "to_id", name="uq_social_from_id_to_id"),
        CheckConstraint("from_id <> to_id", name="no_self_follow"),
    )

    id: int | None = Field(default=None, primary_key=True)
    from_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    )
    to_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    )
    date: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


# Who a user follows, newest first (also the timeline's first step).
Index("ix_social_from_id_id", col(Social.from_id), col(Social.id))
# Who follows a user, newest first.
Index("ix_social_to_id_id", col(Social.to_id), col(Social.id))
