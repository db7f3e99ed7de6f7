"""Sessions: one per login, named by the tokens it issues, ended on demand."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel, col

from pamps.models.base import UTCDateTime, utcnow


class Session(SQLModel, table=True):
    """A login. Its tokens carry its id; a refresh token is good once (its
    ``jti`` must be ``refresh_jti``). Ended sessions keep their row, with
    ``ended_at`` set, so a replayed token is told apart from a forged one."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    )
    client: str = Field(default="", sa_column=Column(String(200), nullable=False))
    refresh_jti: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_used_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


# A user's sessions, newest first.
Index("ix_session_user_id_id", col(Session.user_id), col(Session.id))


class SessionPublic(SQLModel):
    """One of your sessions, as /user/me/sessions/ lists it."""

    id: int
    client: str
    created_at: datetime
    last_used_at: datetime
    current: bool


class IdempotencyKey(SQLModel, table=True):
    """A post written with an ``Idempotency-Key``: the same key from the same
    user within a day answers that post again."""

    __tablename__ = "idempotency_key"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    )
    key: str = Field(sa_column=Column(String(255), nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    post_id: int = Field(
        sa_column=Column(Integer, ForeignKey("post.id", ondelete="CASCADE"), nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


Index(
    "uq_idempotency_key_user_id_key",
    col(IdempotencyKey.user_id),
    col(IdempotencyKey.key),
    unique=True,
)
