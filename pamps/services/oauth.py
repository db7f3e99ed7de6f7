"""OAuth 2 for the Mastodon-compatible API: apps, tokens, scopes.

Tokens are opaque random strings, long-lived as Mastodon's, stored as their
SHA-256 digest: a leaked table holds nothing a client could send. The user
of a token is found with one query per request (:func:`token_user`).
"""

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Integer, String, bindparam, delete, exists, insert, select, update
from sqlalchemy.sql import ColumnElement, Delete, Insert, Select, Update
from sqlmodel import col

from pamps.database import Database, Row, Runner
from pamps.errors import UnprocessableContent
from pamps.models import OAuthApp, OAuthCode, OAuthToken, User
from pamps.models.base import UTCDateTime

OOB = "urn:ietf:wg:oauth:2.0:oob"
TOP_SCOPES = ("read", "write", "follow", "push", "profile")
SUB_SCOPES = {
    "read": (
        "accounts",
        "blocks",
        "bookmarks",
        "favourites",
        "filters",
        "follows",
        "lists",
        "mutes",
        "notifications",
        "search",
        "statuses",
    ),
    "write": (
        "accounts",
        "blocks",
        "bookmarks",
        "conversations",
        "favourites",
        "filters",
        "follows",
        "lists",
        "media",
        "mutes",
        "notifications",
        "reports",
        "statuses",
    ),
}
KNOWN_SCOPES = frozenset(
    [*TOP_SCOPES, *(f"{top}:{sub}" for top, subs in SUB_SCOPES.items() for sub in subs)]
)
MAX_NAME = 200
MAX_WEBSITE = 500
MAX_REDIRECTS = 2000
# Doorkeeper's (Mastodon's) lifetime of an authorization code.
CODE_LIFETIME = timedelta(minutes=10)
PKCE_METHODS = ("S256", "plain")
# RFC 7636 section 4.1: the verifier's (and so a plain challenge's) alphabet and length.
PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")
# Schemes a browser must never be sent to with a code in the URL.
UNSAFE_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})


class ScopeError(UnprocessableContent):
    """Scopes that are not Mastodon's, or more than an app registered."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str | None, default: str = "read") -> list[str]:
    """The scopes of a space-separated list (duplicates dropped, order kept);
    ScopeError for one Mastodon does not know."""
    words = list(dict.fromkeys((text or default).split()))
    unknown = [word for word in words if word not in KNOWN_SCOPES]
    if unknown or not words:
        raise ScopeError(f"Unknown scope: {' '.join(unknown)[:100]}")
    return words


def allows(granted: str, needed: str) -> bool:
    """Whether the space-separated ``granted`` scopes cover ``needed``
    (``read:statuses`` is covered by itself or by ``read``; ``follow``, the
    old scope, covers the follow parts of read and write)."""
    have = granted.split()
    top = needed.split(":", 1)[0]
    return (
        needed in have
        or top in have
        or (needed in ("read:follows", "write:follows") and "follow" in have)
    )


def within(asked: list[str], registered: str) -> bool:
    """Whether every scope ``asked`` for is covered by the app's registration."""
    return all(allows(registered, scope) for scope in asked)


# --- statements -------------------------------------------------------------------


@cache
def insert_app_statement() -> Insert:
    table = OAuthApp.__table__  # type: ignore[attr-defined]
    names = ("name", "website", "redirect_uris", "scopes", "client_id", "secret_hash", "created_at")
    values = {name: bindparam(name, type_=table.c[name].type) for name in names}
    return insert(table).values(**values).returning(*table.c)


@cache
def app_statement() -> Select[Any]:
    return select(*OAuthApp.__table__.c).where(  # type: ignore[attr-defined]
        col(OAuthApp.client_id) == bindparam("client_id", type_=String)
    )


@cache
def insert_token_statement() -> Insert:
    table = OAuthToken.__table__  # type: ignore[attr-defined]
    names = ("app_id", "user_id", "token_hash", "refresh_hash", "scopes", "created_at")
    values = {name: bindparam(name, type_=table.c[name].type) for name in names}
    return insert(table).values(**values).returning(table.c.id)


@cache
def revoke_by_id_statement() -> Update:
    return (
        update(OAuthToken)
        .where(
            col(OAuthToken.id) == bindparam("token", type_=Integer),
            col(OAuthToken.revoked_at).is_(None),
        )
        .values(revoked_at=bindparam("now", type_=UTCDateTime()))
    )


CODE_COLUMNS = (
    "code_hash",
    "app_id",
    "user_id",
    "redirect_uri",
    "scopes",
    "code_challenge",
    "code_challenge_method",
    "created_at",
    "expires_at",
)


@cache
def insert_code_statement() -> Insert:
    table = OAuthCode.__table__  # type: ignore[attr-defined]
    values = {name: bindparam(name, type_=table.c[name].type) for name in CODE_COLUMNS}
    return insert(table).values(**values)


@cache
def sweep_codes_statement() -> Delete:
    """Codes past their expiry: never redeemable again."""
    return delete(OAuthCode).where(
        col(OAuthCode.expires_at) < bindparam("now", type_=UTCDateTime())
    )


@cache
def code_statement() -> Select[Any]:
    """The code ``code_hash`` of app ``app_id``, spent or not."""
    return select(*OAuthCode.__table__.c).where(  # type: ignore[attr-defined]
        col(OAuthCode.code_hash) == bindparam("code_hash", type_=String),
        col(OAuthCode.app_id) == bindparam("app_id", type_=Integer),
    )


@cache
def spend_code_statement() -> Update:
    """Mark code ``code`` spent on token ``token``, unless it already is: of
    two concurrent redemptions one wins."""
    # Parameter names differ from the columns': an UPDATE reserves those.
    return (
        update(OAuthCode)
        .where(
            col(OAuthCode.id) == bindparam("code", type_=Integer),
            col(OAuthCode.used_at).is_(None),
        )
        .values(
            used_at=bindparam("now", type_=UTCDateTime()),
            token_id=bindparam("token", type_=Integer),
        )
        .returning(col(OAuthCode.id))
    )


@cache
def token_user_statement() -> Select[Any]:
    """The live token ``token_hash``: its scopes, its app, and every column of
    its user (None for an app's own token)."""
    user_columns = [c.label(c.name) for c in User.__table__.c]  # type: ignore[attr-defined]
    return (
        select(
            *user_columns,
            col(OAuthToken.id).label("token_id"),
            col(OAuthToken.scopes).label("scopes"),
            col(OAuthToken.user_id).label("token_user_id"),
            col(OAuthApp.name).label("app_name"),
            col(OAuthApp.website).label("app_website"),
            col(OAuthApp.scopes).label("app_scopes"),
            col(OAuthApp.redirect_uris).label("app_redirect_uris"),
            col(OAuthApp.client_id).label("app_client_id"),
        )
        .select_from(OAuthToken)
        .join(OAuthApp, col(OAuthApp.id) == col(OAuthToken.app_id))
        .outerjoin(User, col(User.id) == col(OAuthToken.user_id))
        .where(
            col(OAuthToken.token_hash) == bindparam("token_hash", type_=String),
            col(OAuthToken.revoked_at).is_(None),
        )
    )


@cache
def token_live() -> ColumnElement[bool]:
    """Token ``viewer_token`` of user ``viewer_user`` is not revoked, and its
    user not deleted (their tokens go with them): the check of a token whose
    grant is known, which a statement may include (database.Guarded)."""
    return exists().where(
        col(OAuthToken.id) == bindparam("viewer_token", type_=Integer),
        col(OAuthToken.user_id) == bindparam("viewer_user", type_=Integer),
        col(OAuthToken.revoked_at).is_(None),
    )


def live_params(token_id: int, user_id: int) -> dict[str, int]:
    return {"viewer_token": token_id, "viewer_user": user_id}


@cache
def by_refresh_statement() -> Select[Any]:
    return select(*OAuthToken.__table__.c).where(  # type: ignore[attr-defined]
        col(OAuthToken.refresh_hash) == bindparam("refresh_hash", type_=String),
        col(OAuthToken.app_id) == bindparam("app_id", type_=Integer),
        col(OAuthToken.revoked_at).is_(None),
    )


@cache
def revoke_statement() -> Update:
    """Revoke the token of app ``client`` whose access or refresh token is ``hash``."""
    # Parameter names differ from the columns': an UPDATE reserves those.
    of_app = col(OAuthToken.app_id) == bindparam("client", type_=Integer)
    named = (col(OAuthToken.token_hash) == bindparam("hash", type_=String)) | (
        col(OAuthToken.refresh_hash) == bindparam("hash", type_=String)
    )
    return (
        update(OAuthToken)
        .where(of_app, named, col(OAuthToken.revoked_at).is_(None))
        .values(revoked_at=bindparam("now", type_=UTCDateTime()))
        .returning(col(OAuthToken.id))
    )


# --- operations -------------------------------------------------------------------


async def register_app(
    db: Runner, name: str, redirect_uris: list[str], scopes: str | None, website: str | None
) -> Row:
    """A new app: its row, with ``client_secret`` in clear (told once)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise UnprocessableContent(f"client_name must be 1 to {MAX_NAME} characters")
    uris = [uri.strip() for uri in redirect_uris if uri.strip()]
    if not uris or len("\n".join(uris)) > MAX_REDIRECTS:
        raise UnprocessableContent("redirect_uris must name at least one URI")
    if website is not None and len(website) > MAX_WEBSITE:
        raise UnprocessableContent(f"website must be at most {MAX_WEBSITE} characters")
    granted = " ".join(parse_scopes(scopes))
    secret = secrets.token_urlsafe(32)
    values = {
        "name": name,
        "website": website or None,
        "redirect_uris": "\n".join(uris),
        "scopes": granted,
        "client_id": secrets.token_urlsafe(32),
        "secret_hash": digest(secret),
        "created_at": datetime.now(UTC),
    }
    row = await db.first(insert_app_statement(), values)
    assert row is not None
    return row | {"client_secret": secret}


async def client(db: Runner, client_id: str | None, client_secret: str | None) -> Row | None:
    """The app these credentials name; None when either is wrong. Without a
    secret, only the id is checked (public clients, the authorize page)."""
    if not client_id or len(client_id) > 64 or "\x00" in client_id:
        return None
    app = await db.first(app_statement(), {"client_id": client_id})
    if app is None:
        return None
    if client_secret is not None and not hmac.compare_digest(
        app["secret_hash"], digest(client_secret)
    ):
        return None
    return app


async def issue(
    db: Runner, app_id: int, user_id: int | None, scopes: list[str], refresh: bool = True
) -> Row:
    """A new token of ``app_id`` for ``user_id`` (None: the app itself)."""
    answer, _ = await _issue(db, app_id, user_id, scopes, refresh)
    return answer


async def _issue(
    db: Runner, app_id: int, user_id: int | None, scopes: list[str], refresh: bool = True
) -> tuple[Row, int]:
    """:func:`issue`'s answer and the new token's id."""
    token = secrets.token_urlsafe(32)
    refresh_token = secrets.token_urlsafe(32) if refresh and user_id is not None else None
    now = datetime.now(UTC)
    values = {
        "app_id": app_id,
        "user_id": user_id,
        "token_hash": digest(token),
        "refresh_hash": digest(refresh_token) if refresh_token else None,
        "scopes": " ".join(scopes),
        "created_at": now,
    }
    row = await db.first(insert_token_statement(), values)
    assert row is not None
    answer = {"access_token": token, "token_type": "Bearer", "scope": values["scopes"]}
    answer["created_at"] = int(now.timestamp())
    if refresh_token:
        answer["refresh_token"] = refresh_token
    return answer, int(row["id"])


async def token_user(db: Runner, token: str) -> Row | None:
    """What a live access token grants: its user's columns (``id`` is None
    for an app's own token), ``scopes`` and its app; None otherwise."""
    if not token or len(token) > 512:
        return None
    return await db.first(token_user_statement(), {"token_hash": digest(token)})


async def refresh(db: Database, app_id: int, refresh_token: str, scopes: list[str] | None) -> Row:
    """Trade a refresh token for a new token; the old one is revoked. None
    of ``scopes`` may exceed what the old token had."""
    old = await db.first(
        by_refresh_statement(), {"refresh_hash": digest(refresh_token), "app_id": app_id}
    )
    if old is None:
        raise LookupError("unknown refresh token")
    granted = scopes if scopes is not None else old["scopes"].split()
    if not within(granted, old["scopes"]):
        raise ScopeError("The requested scope exceeds the one originally granted")
    now = datetime.now(UTC)
    async with db.transaction() as tx:
        params = {"client": app_id, "hash": old["token_hash"], "now": now}
        if await tx.first(revoke_statement(), params) is None:  # spent meanwhile
            raise LookupError("unknown refresh token")
        return await issue(tx, app_id, old["user_id"], granted)


async def revoke(db: Runner, app_id: int, token: str) -> bool:
    """Revoke an access or refresh token of ``app_id``; whether there was one."""
    params = {"client": app_id, "hash": digest(token), "now": datetime.now(UTC)}
    return await db.first(revoke_statement(), params) is not None


# --- authorization codes ------------------------------------------------------------


def redirect_uris(app: Row) -> list[str]:
    return [uri for uri in app["redirect_uris"].split("\n") if uri]


def redirect_allowed(app: Row, uri: str) -> bool:
    """Whether a code may be sent to ``uri``: exactly one of the app's
    registered redirect URIs (or the out-of-band one), absolute, without a
    fragment, and not a scheme a browser would run or read locally."""
    if uri not in redirect_uris(app):
        return False
    if uri == OOB:
        return True
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return bool(parts.scheme) and parts.scheme.lower() not in UNSAFE_SCHEMES and "#" not in uri


class PKCEError(ValueError):
    """A code challenge or its method that RFC 7636 does not allow."""


def check_challenge(challenge: str | None, method: str | None) -> tuple[str | None, str | None]:
    """A PKCE challenge and its method as stored (``plain`` when only the
    challenge is given, RFC 7636 section 4.3); (None, None) without one."""
    if not challenge:
        if method:
            raise PKCEError("code_challenge_method without a code_challenge")
        return None, None
    method = method or "plain"
    if method not in PKCE_METHODS:
        raise PKCEError("code_challenge_method must be S256 or plain")
    if not PKCE_VALUE.fullmatch(challenge):
        raise PKCEError("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
    return challenge, method


def pkce_matches(verifier: str | None, challenge: str | None, method: str | None) -> bool:
    """Whether ``verifier`` answers the code's challenge (RFC 7636 section 4.6);
    a code issued without one takes no verifier."""
    if challenge is None:
        return verifier is None
    if verifier is None or not PKCE_VALUE.fullmatch(verifier):
        return False
    if method == "S256":
        hashed = hashlib.sha256(verifier.encode("ascii")).digest()
        verifier = base64.urlsafe_b64encode(hashed).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(verifier, challenge)


async def grant_code(
    db: Database,
    app_id: int,
    user_id: int,
    redirect_uri: str,
    scopes: list[str],
    challenge: str | None = None,
    method: str | None = None,
) -> str:
    """A new authorization code for ``user_id`` to give ``app_id``
    ``scopes``, good once for :data:`CODE_LIFETIME`; stored as its digest,
    in the database, so any worker or host can redeem it."""
    code = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    values = {
        "code_hash": digest(code),
        "app_id": app_id,
        "user_id": user_id,
        "redirect_uri": redirect_uri,
        "scopes": " ".join(scopes),
        "code_challenge": challenge,
        "code_challenge_method": method if challenge else None,
        "created_at": now,
        "expires_at": now + CODE_LIFETIME,
    }
    async with db.transaction() as tx:
        await tx.all(sweep_codes_statement(), {"now": now})
        await tx.all(insert_code_statement(), values)
    return code


async def redeem_code(
    db: Database, app_id: int, code: str, redirect_uri: str, verifier: str | None
) -> Row:
    """Trade an authorization code of ``app_id`` for a token (its answer).

    LookupError unless the code is live, was issued for ``redirect_uri`` and,
    if it carries a PKCE challenge, ``verifier`` answers it. A code already
    spent revokes the token it bought (RFC 6749 section 4.1.2): someone else
    holds a copy of it. A failed check leaves a live code live, so a wrong
    guess cannot spend the rightful client's code."""
    if not code or len(code) > 512:
        raise LookupError("unknown code")
    now = datetime.now(UTC)
    row = await db.first(code_statement(), {"code_hash": digest(code), "app_id": app_id})
    if row is None:
        raise LookupError("unknown code")
    if row["used_at"] is not None:
        if row["token_id"] is not None:
            await db.all(revoke_by_id_statement(), {"token": row["token_id"], "now": now})
        raise LookupError("code already used")
    if row["expires_at"] <= now:
        raise LookupError("code expired")
    if not hmac.compare_digest(row["redirect_uri"], redirect_uri):
        raise LookupError("another redirect URI")
    if not pkce_matches(verifier, row["code_challenge"], row["code_challenge_method"]):
        raise LookupError("PKCE verification failed")
    async with db.transaction() as tx:
        answer, token_id = await _issue(tx, app_id, int(row["user_id"]), row["scopes"].split())
        params = {"code": row["id"], "now": now, "token": token_id}
        if await tx.first(spend_code_statement(), params) is None:  # spent meanwhile
            raise LookupError("code already used")
    return answer
