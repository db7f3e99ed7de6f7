"""Tokens and the current-user dependency.

One function makes a token for a scope and one decodes a token and always
checks its scope, so a refresh token is never taken as an access token nor
the reverse; :data:`CurrentUser` checks that the token's user still exists.
"""

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from pamps.config import settings
from pamps.database import Row
from pamps.deps import DatabaseDep, LimiterDep
from pamps.errors import Unauthorized
from pamps.models.post import MAX_ID
from pamps.services import users

Scope = Literal["access_token", "refresh_token"]

MAX_TOKEN_LENGTH = 4096
# Tokens whose signature was checked, kept with their claims (a few hundred
# bytes each): a client sends the same token with every request until it
# expires.
VERIFIED_TOKENS = 4096


def create_token(user_id: int, scope: Scope) -> str:
    sec = settings.security
    minutes = (
        sec.access_token_expire_minutes
        if scope == "access_token"
        else sec.refresh_token_expire_minutes
    )
    now = datetime.now(UTC)
    payload = {
        "sub": str(user_id),
        "scope": scope,
        "iat": now,
        "exp": now + timedelta(minutes=int(minutes)),
    }
    return jwt.encode(payload, str(sec.secret_key), algorithm=str(sec.algorithm))


def decode_token(token: str, scope: Scope) -> int:
    """The user id a valid token of ``scope`` names; Unauthorized otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized()
    sec = settings.security
    sub, token_scope, expires = _verified_claims(token, str(sec.secret_key), str(sec.algorithm))
    # Checked on every use: a token verified while valid expires all the same.
    # (PyJWT's own rule: valid while now < exp.)
    if time.time() >= expires:
        raise Unauthorized("Token expired")
    # ASCII digits only ("²".isdigit() is True but int() refuses it) and within
    # the id column's range, so a strange sub is a 401, never a 500.
    if (
        token_scope != scope
        or not isinstance(sub, str)
        or not (sub.isascii() and sub.isdigit() and len(sub) <= 10)
        or not 1 <= int(sub) <= MAX_ID
    ):
        raise Unauthorized()
    return int(sub)


@lru_cache(maxsize=VERIFIED_TOKENS)
def _verified_claims(token: str, key: str, algorithm: str) -> tuple[Any, Any, int]:
    """(sub, scope, exp) of a token signed with ``key``; raises Unauthorized
    for any other.

    Only tokens that verified are remembered (an exception is never cached),
    keyed by the whole token and the key and algorithm in force, so a token
    is checked once instead of on each request ("token cache" row of
    docs/performance.md), and a new secret key verifies every token again.
    """
    try:
        payload = jwt.decode(
            token,
            key,
            # Pinned: "none" and any other algorithm are refused.
            algorithms=[algorithm],
            options={"require": ["exp", "sub", "scope"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token expired") from None
    except jwt.PyJWTError:
        raise Unauthorized() from None
    # PyJWT compared int(exp) with the time: so does decode_token.
    return payload.get("sub"), payload.get("scope"), int(payload["exp"])


class BearerAccessToken(OAuth2PasswordBearer):
    """The user id of the request's Bearer access token (401 otherwise).

    Checks the token alone (signature, expiry, scope); routes take
    :data:`CurrentUser`, which builds on it. It is also the OAuth2 scheme of
    /docs (its Authorize button).
    """

    # Answers the user id where the scheme answers the token: a narrower
    # signature than OAuth2PasswordBearer's, hence the ignore.
    async def __call__(self, request: Request) -> int:  # type: ignore[override]
        # auto_error=False: a missing or non-Bearer header becomes our own
        # 401 with WWW-Authenticate, the same as every other token problem.
        token = await super().__call__(request)
        if token is None:
            raise Unauthorized("Not authenticated")
        return decode_token(token, "access_token")


# The scheme keeps its name in /docs and the OpenAPI schema.
token_user_id = BearerAccessToken(
    tokenUrl="token", scheme_name="OAuth2PasswordBearer", auto_error=False
)
TokenUserId = Annotated[int, Depends(token_user_id)]


async def current_user(db: DatabaseDep, user_id: TokenUserId) -> Row:
    """The user of the request's Bearer access token, who must still exist
    (401 otherwise): every authenticated route takes this, so no route can
    forget the check."""
    row = await users.by_id(db, user_id)
    if row is None:  # deleted since the token was made
        raise Unauthorized()
    return row


CurrentUser = Annotated[Row, Depends(current_user)]


async def write_limit(user: CurrentUser, limiter: LimiterDep) -> None:
    """Writes (posts, likes, follows, edits) per user."""
    await limiter.hit("write", "user", str(user["id"]))


WriteLimited = Depends(write_limit)
