"""OAuth 2 for the Mastodon-compatible API: registered apps and the tokens
they were granted. Secrets and tokens are stored as SHA-256 digests only."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel, col

from pamps.models.base import UTCDateTime, utcnow


class OAuthApp(SQLModel, table=True):
    """A client app (POST /api/v1/apps): its id is public, its secret is not."""

    __tablename__ = "oauth_app"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    website: str | None = Field(default=None, sa_column=Column(String(500)))
    redirect_uris: str = Field(sa_column=Column(Text, nullable=False))
    scopes: str = Field(sa_column=Column(String(500), nullable=False))
    client_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    secret_hash: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class OAuthToken(SQLModel, table=True):
    """An access token of an app, for a user or (client credentials) for the
    app alone; revoking stamps ``revoked_at`` and refuses it at once."""

    __tablename__ = "oauth_token"

    id: int | None = Field(default=None, primary_key=True)
    app_id: int = Field(
        sa_column=Column(Integer, ForeignKey("oauth_app.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=True),
    )
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    refresh_hash: str | None = Field(default=None, sa_column=Column(String(64), unique=True))
    scopes: str = Field(sa_column=Column(String(500), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


# A user's tokens (revoked when the user is deleted, through the cascade).
Index("ix_oauth_token_user_id", col(OAuthToken.user_id))
Index("ix_oauth_token_app_id", col(OAuthToken.app_id))


class OAuthCode(SQLModel, table=True):
    """An authorization code (GET /oauth/authorize), traded once for a token
    within minutes, by the app it was issued to, with the redirect URI it
    was issued for and, when the app sent a PKCE challenge, its verifier.
    Redeeming stamps ``used_at`` and names the token; a second use revokes it."""

    __tablename__ = "oauth_code"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    app_id: int = Field(
        sa_column=Column(Integer, ForeignKey("oauth_app.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), nullable=False)
    )
    redirect_uri: str = Field(sa_column=Column(Text, nullable=False))
    scopes: str = Field(sa_column=Column(String(500), nullable=False))
    code_challenge: str | None = Field(default=None, sa_column=Column(String(128)))
    code_challenge_method: str | None = Field(default=None, sa_column=Column(String(5)))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    token_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("oauth_token.id", ondelete="SET NULL")),
    )


# Expired codes are swept by their expiry; the foreign keys' cascades use these.
Index("ix_oauth_code_expires_at", col(OAuthCode.expires_at))
Index("ix_oauth_code_app_id", col(OAuthCode.app_id))
Index("ix_oauth_code_user_id", col(OAuthCode.user_id))
