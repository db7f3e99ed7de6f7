"""What every route of the Mastodon-compatible API shares: request bodies
in any of the three encodings clients send, tokens and their scopes."""

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from fastapi import Depends, Request

from pamps.config import setting
from pamps.database import Database, Guarded, Row, Runner
from pamps.deps import DatabaseDep, LimiterDep, client_address, note_user
from pamps.errors import APIError, Forbidden, NotFound, Unauthorized, UnprocessableContent
from pamps.middleware import note_request_user
from pamps.models.post import MAX_ID
from pamps.pagination import page_url
from pamps.ratelimit import Usage
from pamps.render import JSONBytes, json_response
from pamps.routes.mastodon import entities
from pamps.routes.mastodon.grants import Grant, KnownTokens
from pamps.services import oauth, users

Body = dict[str, Any]


class OAuthError(APIError):
    """An OAuth 2 error (RFC 6749 section 5.2): ``error`` is its code."""

    status_code = 400

    def __init__(self, error: str, description: str, status_code: int = 400) -> None:
        super().__init__({"error": error, "error_description": description})
        self.status_code = status_code


async def body_of(request: Request) -> Body:
    """The parameters of a request: its JSON or form body, over its query.

    Mastodon.py sends forms (lists as ``key[]``, booleans as 1/0), toot
    sends JSON; Mastodon reads either, and the query string too."""
    values: Body = {}
    for key in request.query_params:
        values[key] = request.query_params.getlist(key)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        try:
            parsed = json.loads(await request.body() or b"{}")
        except ValueError:
            raise UnprocessableContent("The request body is not valid JSON") from None
        if not isinstance(parsed, dict):
            raise UnprocessableContent("The request body must be a JSON object")
        return {k.removesuffix("[]"): v for k, v in {**_single(values), **parsed}.items()}
    if media in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        for key in form:
            values[key] = [v for v in form.getlist(key) if isinstance(v, str)]
    return _single(values)


def _single(values: dict[str, list[Any]]) -> Body:
    """``key[]`` as a list named ``key``, every other key as its last value."""
    out: Body = {}
    for key, items in values.items():
        if key.endswith("[]"):
            out[key[:-2]] = list(items)
        elif items:
            out[key] = items[-1]
    return out


def text(body: Body, name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise UnprocessableContent(f"Validation failed: {name} can't be blank")
        return None
    if not isinstance(value, str):
        raise UnprocessableContent(f"Validation failed: {name} must be a string")
    return value


def flag(body: Body, name: str) -> bool:
    """A boolean as either client sends it: true/false, 1/0, "true"/"false"."""
    value = body.get(name)
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


def an_id(value: Any, name: str = "id") -> int:
    """An id sent as a string or a number; 404 for one that names nothing
    (Mastodon's answer to an unknown id)."""
    text_value = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not (text_value.isascii() and text_value.isdigit() and len(text_value) <= 10):
        raise NotFoundRecord()
    number = int(text_value)
    if not 1 <= number <= MAX_ID:
        raise NotFoundRecord()
    return number


class NotFoundRecord(APIError):
    status_code = 404
    detail = "Record not found"


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


TOKEN_ROW = "pamps.mastodon_token"  # scope key: the request's token, looked up once
GRANT = "pamps.mastodon_grant"  # scope key: its grant as the worker knows it
INVALID = "The access token is invalid"


def known_tokens(request: Request) -> KnownTokens | None:
    return getattr(request.app.state, "tokens", None)


async def token_row(request: Request, db: Database) -> Row | None:
    """What the request's bearer token grants (services.oauth.token_user);
    None without a token or for one that is not live. Looked up once per
    request, whoever asks (the rate limit, the scope check); a user's token
    is then known to the worker (grants.KnownTokens)."""
    if TOKEN_ROW not in request.scope:
        token = bearer(request)
        row = None if token is None else await oauth.token_user(db, token)
        request.scope[TOKEN_ROW] = row
        known = known_tokens(request)
        if known is not None and token is not None and row is not None and row["id"] is not None:
            grant = Grant(int(row["id"]), int(row["token_id"]), str(row["scopes"]))
            known.remember(oauth.digest(token), grant)
    found: Row | None = request.scope[TOKEN_ROW]
    return found


def known_grant(request: Request) -> Grant | None:
    """The grant of the request's token if the worker knows it (it may have
    been revoked since: see :func:`scoped_viewer`), and it was not looked up."""
    if GRANT not in request.scope:
        known, token = known_tokens(request), bearer(request)
        grant = None
        if known is not None and token is not None and TOKEN_ROW not in request.scope:
            grant = known.get(oauth.digest(token))
        request.scope[GRANT] = grant
    found: Grant | None = request.scope[GRANT]
    return found


async def _token(request: Request, db: DatabaseDep) -> Row | None:
    row = await token_row(request, db)
    if row is None and bearer(request) is not None:
        raise Unauthorized(INVALID)
    if row is not None and row["id"] is not None:  # else no token, or an app's
        note_user(row)
    return row


def scoped(scope: str, user: bool = True) -> Callable[..., Awaitable[Row]]:
    """A dependency: the request's token, which must grant ``scope`` (403)
    and, unless ``user`` is False, belong to a user (422, as Mastodon)."""

    async def dependency(request: Request, db: DatabaseDep) -> Row:
        row = await _token(request, db)
        if row is None:
            raise Unauthorized(INVALID)
        if not oauth.allows(row["scopes"], scope):
            raise Forbidden("This action is outside the authorized scopes")
        if user and row["id"] is None:
            raise UnprocessableContent("This method requires an authenticated user")
        return row

    return dependency


def Scoped(scope: str, user: bool = True) -> Any:
    return Depends(scoped(scope, user))


class TokenViewer(NamedTuple):
    """The user of the request's token (0: anyone), for reads that need only
    who they are. ``db`` runs the route's statements; when the token's grant
    was known, it checks with the first one that the token is still live
    (401 otherwise), so the token costs no query of its own."""

    id: int
    db: Runner


def _known_viewer(grant: Grant, db: Database) -> TokenViewer:
    note_request_user(grant.user_id)
    params = oauth.live_params(grant.token_id, grant.user_id)
    return TokenViewer(grant.user_id, Guarded(db, oauth.token_live(), params, INVALID))


def scoped_viewer(scope: str) -> Callable[..., Awaitable[TokenViewer]]:
    """A dependency: :func:`scoped`'s checks and answers, as a TokenViewer."""
    looked_up = scoped(scope)

    async def dependency(request: Request, db: DatabaseDep) -> TokenViewer:
        grant = known_grant(request)
        if grant is None or not oauth.allows(grant.scopes, scope):
            # Unknown, or refused: the lookup answers as for any route.
            return TokenViewer(int((await looked_up(request, db))["id"]), db)
        return _known_viewer(grant, db)

    return dependency


def ScopedViewer(scope: str) -> Any:
    return Depends(scoped_viewer(scope))


async def optional_viewer(request: Request, db: DatabaseDep) -> TokenViewer:
    """Who reads a public list or status, for their own flags (favourited):
    id 0 without a token, as for one without ``read`` (it sees what anyone
    sees). A known token is checked as :func:`scoped_viewer` checks it."""
    if "authorization" not in request.headers:
        return TokenViewer(0, db)
    grant = known_grant(request)
    if grant is not None and oauth.allows(grant.scopes, "read:statuses"):
        return _known_viewer(grant, db)
    row = await _token(request, db)
    if row is None or row["id"] is None or not oauth.allows(row["scopes"], "read:statuses"):
        return TokenViewer(0, db)
    return TokenViewer(int(row["id"]), db)


Viewer = Depends(optional_viewer)


async def count_write(request: Request, limiter: LimiterDep, user_id: int) -> None:
    """A write counts against the same limit as through the native API
    (and its usage may be the one the X-RateLimit-* headers report)."""
    record_usage(request, await limiter.count("write", "user", str(user_id)))


class Window:
    """A page of a Mastodon list, as Mastodon pages: ``limit`` (default 20,
    at most ``most``) items older than ``max_id``, and either the newest
    ones newer than ``since_id`` or, with ``min_id``, those just after it
    (paging forward from it); newest first either way."""

    def __init__(self, request: Request, most: int = 40) -> None:
        query = request.query_params
        self.request = request
        self.limit = _number(query.get("limit"), 20, most, 1)
        self.max_id = _number(query.get("max_id"), None, MAX_ID + 1, 0)
        self.since_id = _number(query.get("since_id"), 0, MAX_ID, 0)
        self.min_id = _number(query.get("min_id"), None, MAX_ID, 0)

    @property
    def before(self) -> int | None:
        """The services' ``before``: ``max_id``, unless paging forward."""
        return self.max_id if self.min_id is None else None

    @property
    def after(self) -> int | None:
        """The services' ``after`` (oldest first past it): ``min_id``."""
        return self.min_id

    def of(self, rows: list[Row], key: str = "id") -> tuple[list[Row], str | None]:
        """The page out of ``limit`` + 1 rows fetched past the window's
        cursor (newest first, or oldest first after ``min_id``), newest
        first, and its Link header: rel="next" first (toot reads only the
        first link)."""
        if self.min_id is None:
            inside = [row for row in rows if int(row[key]) > self.since_id]
            page = inside[: self.limit]
        else:
            limit = self.max_id
            inside = [row for row in rows if limit is None or int(row[key]) < limit]
            page = inside[: self.limit][::-1]
        if not page:
            return page, None
        request, drop = self.request, ("max_id", "since_id", "min_id")
        links = []
        # Paging forward, older items always exist (the cursor itself).
        if len(inside) > self.limit or self.min_id is not None:
            older = page_url(request, {"max_id": int(page[-1][key]), "limit": self.limit}, drop)
            links.append(f'<{older}>; rel="next"')
        newest = page_url(request, {"min_id": int(page[0][key]), "limit": self.limit}, drop)
        links.append(f'<{newest}>; rel="prev"')
        return page, ", ".join(links)


def _number(value: str | None, default: Any, most: int, least: int) -> Any:
    if value is None or value == "":
        return default
    if not (value.isascii() and value.isdigit() and len(value) <= 10):
        raise UnprocessableContent("Validation failed: not a number")
    return max(least, min(int(value), most))


Fetch = Callable[[int, int | None, int | None], Awaitable[list[Row] | None]]
"""A service's list: ``(limit, before, after)`` to rows (None: no such owner)."""


async def account_list(request: Request, fetch: Fetch, key: str) -> JSONBytes:
    """A page of Accounts (followers, likers) with its Link header."""
    window = Window(request, most=80)
    rows = await fetch(window.limit, window.before, window.after) or []
    page, link = window.of(rows, key)
    return json_response([entities.account(request, row) for row in page], link=link)


@contextmanager
def record_not_found() -> Iterator[None]:
    """A service's NotFound (a post, a user) as Mastodon's 404."""
    try:
        yield
    except NotFound:
        raise NotFoundRecord() from None


async def profile(db: Runner, user_id: int) -> Row:
    """A user's public profile with its counters; 404 in Mastodon's words."""
    with record_not_found():
        row = await users.private_profile(db, user_id)
    del row["email"]
    return row


# --- rate limits ------------------------------------------------------------------

USAGES = "pamps.ratelimit_usages"  # scope key: the rules counted for this request
API_RULE = "mastodon_api"
COUNTED = ("/api/v1/", "/api/v2/")


def record_usage(request: Request, usage: Usage | None) -> None:
    """Keep a rule's usage for the request's X-RateLimit-* headers (see
    pamps.routes.mastodon.limits)."""
    usages = request.scope.get(USAGES)
    if usage is not None and usages is not None:
        usages.append(usage)


async def count_request(request: Request, db: DatabaseDep, limiter: LimiterDep) -> None:
    """Every Mastodon API request counts against ``ratelimit.mastodon_api``:
    per user with a user's token, else per client address (Mastodon's two
    throttles). An invalid token is counted by address; its 401 comes from
    the route."""
    if not setting("ratelimit.enabled") or not request.url.path.startswith(COUNTED):
        return
    grant = known_grant(request)
    row = await token_row(request, db) if bearer(request) and not grant else None
    if grant is not None:
        key: tuple[str, ...] = ("user", str(grant.user_id))
    elif row is not None and row["id"] is not None:
        key = ("user", str(row["id"]))
    else:
        key = ("address", client_address(request))
    record_usage(request, await limiter.count(API_RULE, *key))


RateLimited = Depends(count_request)
