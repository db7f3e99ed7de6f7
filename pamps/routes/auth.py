"""Logging in and refreshing tokens."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import SQLModel

from pamps import ratelimit
from pamps.auth import authenticate, create_token, find_user, user_from_token
from pamps.db import SessionDep
from pamps.errors import TooManyRequests, Unauthorized, responses
from pamps.models.user import User

router = APIRouter(tags=["auth"])


class Token(SQLModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


class RefreshToken(SQLModel):
    refresh_token: str


def token_pair(user: User, response: Response) -> Token:
    # Tokens must never be cached by a browser or proxy.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return Token(
        access_token=create_token(user, "access_token"),
        refresh_token=create_token(user, "refresh_token"),
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
    session: SessionDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """Exchange a username (or email) and password for an access and a refresh token."""
    # One failure counter per account, whether it is named by username (in
    # any case) or by email; names of no account are counted as given.
    target = await find_user(session, form.username[:254])
    account = f"id:{target.id}" if target else form.username.lower()[:254]
    address = ratelimit.client_address(request)
    await ratelimit.check("login", "account", account)
    await ratelimit.check("login_per_address", "address", address)
    user = await authenticate(session, target, form.password[:1024])
    if user is None:
        await ratelimit.hit("login", "account", account)
        await ratelimit.hit("login_per_address", "address", address)
        raise Unauthorized("Incorrect username or password")
    return token_pair(user, response)


@router.post(
    "/refresh_token",
    response_model=Token,
    summary="Refresh tokens",
    responses=responses(Unauthorized),
)
async def refresh_token(body: RefreshToken, response: Response, session: SessionDep) -> Token:
    """Exchange a refresh token for a new pair of tokens."""
    user = await user_from_token(session, body.refresh_token, "refresh_token")
    return token_pair(user, response)
