"""Tokens and the current-user dependency.

One function makes a token for a scope and one decodes a token and always
checks its scope, so a refresh token is never taken as an access token nor
the reverse; :data:`CurrentUser` checks that the token's user still exists.
"""

import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal, NamedTuple

import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from pamps.config import setting, settings
from pamps.database import Guarded, Row
from pamps.deps import DatabaseDep, LimiterDep, note_user
from pamps.errors import Unauthorized
from pamps.middleware import note_request_user
from pamps.models.post import MAX_ID
from pamps.services import sessions

Scope = Literal["access_token", "refresh_token"]

MAX_TOKEN_LENGTH = 4096
# Tokens whose signature was checked, kept with their claims (a few hundred
# bytes each): a client sends the same token with every request until it
# expires.
VERIFIED_TOKENS = 4096


class Claims(NamedTuple):
    """What a valid token says: whose it is, of which session; a refresh
    token also names itself (``jti``)."""

    user_id: int
    session_id: int
    jti: str | None


def create_token(user_id: int, scope: Scope, session_id: int, jti: str | None = None) -> str:
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
        "sid": session_id,
        "iat": now,
        "exp": now + timedelta(minutes=int(minutes)),
    }
    if jti is not None:
        payload["jti"] = jti
    return jwt.encode(payload, str(sec.secret_key), algorithm=str(sec.algorithm))


def decode_token(token: str, scope: Scope) -> Claims:
    """What a valid token of ``scope`` says; Unauthorized otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized()
    sub, token_scope, expires, sid, jti = _verified_claims(
        token, str(setting("security.secret_key")), str(setting("security.algorithm"))
    )
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
        or type(sid) is not int
        or not 1 <= sid <= MAX_ID
        or (scope == "refresh_token" and not (isinstance(jti, str) and 0 < len(jti) <= 64))
    ):
        raise Unauthorized()
    return Claims(int(sub), sid, jti if isinstance(jti, str) else None)


@lru_cache(maxsize=VERIFIED_TOKENS)
def _verified_claims(token: str, key: str, algorithm: str) -> tuple[Any, Any, int, Any, Any]:
    """(sub, scope, exp, sid, jti) of a token signed with ``key``; raises Unauthorized
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
            options={"require": ["exp", "sub", "scope", "sid"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("Token expired") from None
    except jwt.PyJWTError:
        raise Unauthorized() from None
    # PyJWT compared int(exp) with the time: so does decode_token.
    claims = payload.get("sub"), payload.get("scope"), int(payload["exp"])
    return (*claims, payload.get("sid"), payload.get("jti"))


class BearerAccessToken(OAuth2PasswordBearer):
    """The claims of the request's Bearer access token (401 otherwise).

    Checks the token alone (signature, expiry, scope); routes take
    :data:`CurrentUser`, which builds on it. It is also the OAuth2 scheme of
    /docs (its Authorize button).
    """

    # Answers the claims where the scheme answers the token: a narrower
    # signature than OAuth2PasswordBearer's, hence the ignore.
    async def __call__(self, request: Request) -> Claims:  # type: ignore[override]
        # auto_error=False: a missing or non-Bearer header becomes our own
        # 401 with WWW-Authenticate, the same as every other token problem.
        token = await super().__call__(request)
        if token is None:
            raise Unauthorized("Not authenticated")
        return decode_token(token, "access_token")


# The scheme keeps its name in /docs and the OpenAPI schema.
token_claims = BearerAccessToken(
    tokenUrl="token", scheme_name="OAuth2PasswordBearer", auto_error=False
)
TokenClaims = Annotated[Claims, Depends(token_claims)]


async def current_user(db: DatabaseDep, claims: TokenClaims) -> Row:
    """The user of the request's Bearer access token (with ``session_id``):
    its session must still be open and its user still exist, else 401. Every
    authenticated route takes this, so no route can forget the check; it is
    one query, and a revoked token is refused at once, whatever this worker
    remembers of its signature."""
    row = await sessions.user_of(db, claims.session_id, claims.user_id)
    if row is None:  # logged out, or the user deleted, since the token was made
        raise Unauthorized()
    return note_user(row)


CurrentUser = Annotated[Row, Depends(current_user)]


class Viewer(NamedTuple):
    """The user of the request's Bearer access token, for the busiest routes:
    ``db`` checks that the token's session is open with the route's first
    statement (401 otherwise), so the check costs no query of its own. A
    route taking it runs its statements on ``db`` and at least one."""

    id: int
    session_id: int
    db: Guarded


async def viewer(db: DatabaseDep, claims: TokenClaims) -> Viewer:
    note_request_user(claims.user_id)  # refused with 401 if its session ended
    params = sessions.viewer_params(claims.session_id, claims.user_id)
    return Viewer(claims.user_id, claims.session_id, Guarded(db, sessions.is_open(), params))


ViewerDep = Annotated[Viewer, Depends(viewer)]


async def write_limit(claims: TokenClaims, limiter: LimiterDep) -> None:
    """Writes (posts, likes, follows, edits) per user, counted for the user a
    valid token names before its session is checked."""
    await limiter.hit("write", "user", str(claims.user_id))


WriteLimited = Depends(write_limit)
