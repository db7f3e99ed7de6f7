"""Tokens and the current-user dependency.

One function makes a token for a scope and one decodes a token and always
checks its scope, so a refresh token is never taken as an access token nor
the reverse.
"""

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from pamps import queries
from pamps.config import settings
from pamps.database import DatabaseDep
from pamps.errors import Unauthorized
from pamps.models.post import MAX_ID
from pamps.models.user import User, user_by_username
from pamps.security import dummy_verify, verify_password

Scope = Literal["access_token", "refresh_token"]

MAX_TOKEN_LENGTH = 4096
# Tokens whose signature was checked, kept with their claims (a few hundred
# bytes each): a client sends the same token with every request until it
# expires.
VERIFIED_TOKENS = 4096


def create_token(user: User, scope: Scope) -> str:
    sec = settings.security
    minutes = (
        sec.access_token_expire_minutes
        if scope == "access_token"
        else sec.refresh_token_expire_minutes
    )
    now = datetime.now(UTC)
    payload = {
        "sub": str(user.id),
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
    is checked once instead of on each request (PyJWT: ~45 µs, a tenth of a
    cheap request's CPU, docs/performance.md), and a new secret key verifies
    every token again.
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


async def find_user(session: AsyncSession, name: str) -> User | None:
    """The user a login name designates: a username (any case) or an email."""
    if "\x00" in name:  # PostgreSQL text cannot hold NUL; no account has one
        return None
    if "@" in name:
        query = select(User).where(col(User.email) == name.lower())
    else:
        query = user_by_username(name)
    return (await session.exec(query)).first()


async def authenticate(session: AsyncSession, user: User | None, password: str) -> User | None:
    """``user`` if ``password`` is theirs, else None.

    Unknown users (None) cost one hash verification too, so timing does not
    tell who has an account. A bcrypt hash from the workshop is replaced with
    an Argon2 one once it has verified. Hashing keeps a core busy for
    milliseconds: it runs in the threadpool, never on the event loop.
    """
    if user is None:
        await run_in_threadpool(dummy_verify, password)
        return None
    valid, new_hash = await run_in_threadpool(verify_password, password, user.password)
    if not valid:
        return None
    if new_hash is not None:
        user.password = new_hash
        session.add(user)
        await session.commit()
    return user


async def user_from_token(session: AsyncSession, token: str, scope: Scope) -> User:
    user = await session.get(User, decode_token(token, scope))
    if user is None:  # deleted since the token was made
        raise Unauthorized()
    return user


class BearerAccessToken(OAuth2PasswordBearer):
    """The user id of the request's Bearer access token (401 otherwise).

    Checks the token alone (signature, expiry, scope): a route that takes
    only this checks in its own statement that the user still exists, which
    saves a round trip on the busiest writes. One dependency that is also
    the OAuth2 scheme of /docs (its Authorize button), rather than a
    function depending on the scheme: every level of dependencies costs
    FastAPI work on every request.
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


async def get_current_user(db: DatabaseDep, user_id: TokenUserId) -> User:
    """The user of the request's Bearer access token (401 otherwise).

    Not attached to any session: a route that changes the user loads it
    into its session first.
    """
    row = await db.first(queries.user_by_id(), {"id": user_id})
    if row is None:  # deleted since the token was made
        raise Unauthorized()
    return User(**row)


CurrentUser = Annotated[User, Depends(get_current_user)]
