"""Logging in and out, refreshing tokens."""

from typing import Annotated

from fastapi import Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import SQLModel

from pamps.auth import CurrentUser, create_token, decode_token
from pamps.deps import DatabaseDep, LimiterDep, client_address
from pamps.errors import TooManyRequests, Unauthorized, responses
from pamps.routing import SectionRouter
from pamps.services import auth, sessions

router = SectionRouter(tags=["auth"])


class Token(SQLModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class RefreshToken(SQLModel):
    refresh_token: str


def token_pair(user_id: int, session_id: int, jti: str, response: Response) -> Token:
    # Tokens must never be cached by a browser or proxy.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return Token(
        access_token=create_token(user_id, "access_token", session_id),
        refresh_token=create_token(user_id, "refresh_token", session_id, jti),
    )


@router.post(
    "/token",
    response_model=Token,
    summary="Log in",
    responses=responses(Unauthorized, TooManyRequests),
)
async def login(
    request: Request,
    response: Response,
    db: DatabaseDep,
    limiter: LimiterDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """Exchange a username (or email) and password for an access and a refresh
    token, opening a session (listed at `/user/me/sessions/`)."""
    address = client_address(request)
    user = await auth.login(db, limiter, form.username, form.password, address)
    client = request.headers.get("user-agent", "")
    session_id, jti = await sessions.open_session(db, int(user["id"]), client)
    return token_pair(int(user["id"]), session_id, jti, response)


@router.post(
    "/refresh_token",
    response_model=Token,
    summary="Refresh tokens",
    responses=responses(Unauthorized),
)
async def refresh_token(body: RefreshToken, response: Response, db: DatabaseDep) -> Token:
    """Exchange a refresh token for a new pair. Each refresh token is good
    once: a second use ends its session."""
    claims = decode_token(body.refresh_token, "refresh_token")
    assert claims.jti is not None
    jti = await sessions.rotate(db, claims.session_id, claims.user_id, claims.jti)
    return token_pair(claims.user_id, claims.session_id, jti, response)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Log out",
    responses=responses(Unauthorized),
)
async def logout(db: DatabaseDep, user: CurrentUser) -> None:
    """End the session of the token used: its access and refresh tokens are
    refused from now on."""
    await sessions.end(db, int(user["session_id"]), int(user["id"]))
