"""Apps and OAuth 2: registering a client app, getting and revoking tokens."""

from typing import Any

from fastapi import Request

from pamps.database import Row
from pamps.deps import DatabaseDep, LimiterDep, client_address
from pamps.errors import Unauthorized, UnprocessableContent
from pamps.render import JSONBytes, json_response
from pamps.routes.mastodon import entities
from pamps.routes.mastodon.common import Body, OAuthError, RateLimited, Scoped, body_of, text
from pamps.routing import SectionRouter
from pamps.services import auth, oauth

router = SectionRouter(tags=["mastodon"], dependencies=[RateLimited])


@router.post("/api/v1/apps", summary="Register an app")
@router.post("/api/v1/apps/", include_in_schema=False)
async def create_app(db: DatabaseDep, request: Request) -> JSONBytes:
    """A new client app, with its client_id and client_secret (told once)."""
    body = await body_of(request)
    uris = body.get("redirect_uris")
    if isinstance(uris, str):
        uris = uris.split()
    if not isinstance(uris, list) or not all(isinstance(uri, str) for uri in uris):
        raise UnprocessableContent("Validation failed: redirect_uris can't be blank")
    name = text(body, "client_name", required=True)
    assert name is not None
    row = await oauth.register_app(db, name, uris, text(body, "scopes"), text(body, "website"))
    return json_response(entities.application(row, row["client_secret"]))


@router.get("/api/v1/apps/verify_credentials", summary="The app of a token")
@router.get("/api/v1/apps/verify_credentials/", include_in_schema=False)
async def verify_app(token: Row = Scoped("read", user=False)) -> JSONBytes:
    """The app the request's token was issued to."""
    app = {
        "name": token["app_name"],
        "website": token["app_website"],
        "scopes": token["app_scopes"],
        "redirect_uris": token["app_redirect_uris"],
    }
    answer = entities.application(app)
    del answer["id"]
    return json_response(answer)


def _client(body: Body) -> tuple[str | None, str | None]:
    return text(body, "client_id"), text(body, "client_secret")


@router.post("/oauth/token", summary="Get a token")
@router.post("/oauth/token/", include_in_schema=False)
async def token(db: DatabaseDep, limiter: LimiterDep, request: Request) -> JSONBytes:
    """Grants: password (username or email), authorization_code (with PKCE),
    client_credentials, refresh_token."""
    body = await body_of(request)
    client_id, client_secret = _client(body)
    app = await oauth.client(db, client_id, client_secret)
    if app is None or client_secret is None:
        raise OAuthError("invalid_client", "Client authentication failed", 401)
    grant = text(body, "grant_type")
    try:
        asked = oauth.parse_scopes(text(body, "scope"), default="") if body.get("scope") else None
    except oauth.ScopeError:
        raise OAuthError("invalid_scope", "The requested scope is invalid or unknown") from None
    if asked is not None and not oauth.within(asked, app["scopes"]):
        raise OAuthError("invalid_scope", "The requested scope exceeds the app's")
    scopes = asked if asked is not None else ["read"]
    answer: dict[str, Any]
    if grant == "password":
        name, password = text(body, "username"), text(body, "password")
        if not name or not password:
            raise OAuthError("invalid_request", "username and password are required")
        try:
            user = await auth.login(db, limiter, name, password, client_address(request))
        except Unauthorized:
            raise OAuthError(
                "invalid_grant", "The username or password is incorrect", 400
            ) from None
        answer = await oauth.issue(db, app["id"], int(user["id"]), scopes)
    elif grant == "authorization_code":
        code, redirect_uri = text(body, "code"), text(body, "redirect_uri")
        if not code or not redirect_uri:
            raise OAuthError("invalid_request", "code and redirect_uri are required")
        try:
            # The code's own scopes: those the person saw and approved.
            answer = await oauth.redeem_code(
                db, app["id"], code, redirect_uri, text(body, "code_verifier")
            )
        except LookupError:
            raise OAuthError(
                "invalid_grant",
                "The authorization code is invalid, expired, already used, or was issued "
                "for another client, redirect URI or code verifier",
            ) from None
    elif grant == "client_credentials":
        answer = await oauth.issue(db, app["id"], None, scopes)
    elif grant == "refresh_token":
        refresh_token = text(body, "refresh_token")
        if not refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        try:
            answer = await oauth.refresh(db, app["id"], refresh_token, asked)
        except LookupError:
            raise OAuthError("invalid_grant", "The refresh token is invalid") from None
        except oauth.ScopeError as error:
            raise OAuthError("invalid_scope", str(error.detail)) from None
    else:
        raise OAuthError("unsupported_grant_type", "The grant type is not supported")
    response = json_response(answer)
    # Tokens must never be cached by a browser or proxy (RFC 6749 section 5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@router.post("/oauth/revoke", summary="Revoke a token")
@router.post("/oauth/revoke/", include_in_schema=False)
async def revoke(db: DatabaseDep, request: Request) -> JSONBytes:
    """Revoke an access or refresh token of the calling app; the answer is
    the same whether it was live or not (RFC 7009)."""
    body = await body_of(request)
    client_id, client_secret = _client(body)
    app = await oauth.client(db, client_id, client_secret)
    if app is None or client_secret is None:
        raise OAuthError("invalid_client", "Client authentication failed", 401)
    revoked = text(body, "token")
    if not revoked:
        raise OAuthError("invalid_request", "token is required")
    await oauth.revoke(db, app["id"], revoked)
    return json_response({})
