"""Logging in and refreshing tokens."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import SQLModel

from pamps.auth import create_token, decode_token
from pamps.deps import DatabaseDep, LimiterDep, client_address
from pamps.errors import TooManyRequests, Unauthorized, responses
from pamps.services import auth, users

router = APIRouter(tags=["auth"])


class Token(SQLModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class RefreshToken(SQLModel):
    refresh_token: str


def token_pair(user_id: int, response: Response) -> Token:
    # Tokens must never be cached by a browser or proxy.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return Token(
        access_token=create_token(user_id, "access_token"),
        refresh_token=create_token(user_id, "refresh_token"),
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
    """Exchange a username (or email) and password for an access and a refresh token."""
    address = client_address(request)
    user = await auth.login(db, limiter, form.username, form.password, address)
    return token_pair(int(user["id"]), response)


@router.post(
    "/refresh_token",
    response_model=Token,
    summary="Refresh tokens",
    responses=responses(Unauthorized),
)
async def refresh_token(body: RefreshToken, response: Response, db: DatabaseDep) -> Token:
    """Exchange a refresh token for a new pair of tokens."""
    user = await users.by_id(db, decode_token(body.refresh_token, "refresh_token"))
    if user is None:  # deleted since the token was made
        raise Unauthorized()
    return token_pair(int(user["id"]), response)
