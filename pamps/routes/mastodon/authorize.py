"""The authorization page, ``/oauth/authorize``: how apps that log in through
the browser get a code (RFC 6749 section 4.1, with PKCE, RFC 7636).

A server-rendered page that works without JavaScript: the app's name, the
scopes it asks for in words, a username-and-password form, Authorize and
Deny. Logging in there goes through the native login (services.auth: the
same failure counting and limits). What the page shows is what the form
posts: the request's parameters travel in a signed form token (a JWT that
no API route accepts), bound to a random cookie of the browser that loaded
the page, so another site cannot post the form in a visitor's name.
"""

import hashlib
import html
import secrets
from base64 import b64encode
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pamps.config import settings
from pamps.database import Database, Row
from pamps.deps import DatabaseDep, LimiterDep, client_address
from pamps.errors import TooManyRequests, Unauthorized
from pamps.routing import SectionRouter
from pamps.services import auth, oauth

router = SectionRouter(tags=["mastodon"])

FORM_AUDIENCE = "pamps:oauth-authorize"
FORM_SCOPE = "oauth_form"  # never "access_token": the native API refuses it
FORM_LIFETIME = timedelta(minutes=15)
COOKIE = "pamps_oauth"
MAX_STATE = 1000

SCOPE_WORDS = {
    "read": "Read everything in your account: statuses, likes, follows and profile",
    "write": "Publish, edit and delete statuses, like them, follow people and change your profile",
    "follow": "See whom you follow, follow and unfollow people",
    "push": "Receive push notifications",
    "profile": "See your username and profile",
}
# What each part of read or write is about, for "Read your ..." and "Change your ...".
SUB_SCOPE_WORDS = {
    "accounts": "profile",
    "favourites": "likes",
    "follows": "follows",
    "statuses": "statuses",
    "search": "search",
}

STYLE = """
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1b1d21}
main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px;
box-shadow:0 1px 3px #0003}
h1{font-size:1.4rem;margin-top:0}
label{display:block;margin-top:1rem;font-weight:600}
input{box-sizing:border-box;width:100%;padding:.5rem;font:inherit;border:1px solid #767b85;
border-radius:4px}
.buttons{display:flex;gap:.75rem;margin-top:1.5rem}
button{font:inherit;padding:.5rem 1.25rem;border-radius:4px;border:1px solid #1d4ed8;
cursor:pointer}
.authorize{background:#1d4ed8;color:#fff}
.deny{background:#fff;color:#1d4ed8}
.alert{padding:.75rem;border-radius:4px;background:#fde8e8;color:#7f1d1d}
code{font-size:1.1rem;word-break:break-all;background:#eef0f3;padding:.25rem .5rem}
@media (prefers-color-scheme:dark){body{background:#15171a;color:#e8eaed}
main{background:#202327}input{background:#15171a;color:#e8eaed}
.deny{background:#202327;color:#93b4ff}.authorize{background:#3b6cf0;border-color:#3b6cf0}
code{background:#2c3036}.alert{background:#4c1d1d;color:#fecaca}}
"""
# The page runs no script at all and takes its style only from this block.
STYLE_HASH = b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str, status_code: int = 200, headers: Any = None) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · Pamps</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code, headers={**PAGE_HEADERS, **(headers or {})})


def problem(message: str, status_code: int = 400) -> HTMLResponse:
    """A page for a request that cannot go back to the app: nothing is sent
    to a redirect URI that is not the app's."""
    body = f'<h1>Cannot authorize</h1><p class="alert" role="alert">{e(message)}</p>'
    return page("Cannot authorize", body, status_code)


def scope_words(scope: str) -> str:
    if scope in SCOPE_WORDS:
        return SCOPE_WORDS[scope]
    top, _, part = scope.partition(":")
    noun = SUB_SCOPE_WORDS.get(part, part)
    return f"Read your {noun}" if top == "read" else f"Change your {noun}"


def with_query(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query (kept as it was, RFC 6749
    section 3.1.2)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def back_to_app(request_params: dict[str, Any], **answer: str | None) -> Response:
    """Send the browser back to the app with ``answer`` (and the app's
    ``state``); for the out-of-band URI there is nowhere to go: the answer
    is shown instead."""
    uri = request_params["redirect_uri"]
    if uri == oauth.OOB:
        if answer.get("code"):
            body = (
                "<h1>Authorization code</h1>"
                "<p>Copy this code and paste it into the app:</p>"
                f'<p><code id="code">{e(answer["code"])}</code></p>'
                '<label for="code-copy">Authorization code</label>'
                f'<input id="code-copy" readonly value="{e(answer["code"])}">'
            )
            return page("Authorization code", body)
        words = answer.get("error_description") or answer.get("error") or ""
        body = f'<h1>Not authorized</h1><p class="alert" role="alert">{e(words)}</p>'
        return page("Not authorized", body, 400 if answer.get("error") != "access_denied" else 200)
    target = with_query(uri, {**answer, "state": request_params.get("state")})
    # 303: the browser follows with a GET, whatever the method of the form.
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


def form_token(params: dict[str, Any], cookie: str) -> str:
    now = datetime.now(UTC)
    claims = {
        "aud": FORM_AUDIENCE,
        "scope": FORM_SCOPE,
        "iat": now,
        "exp": now + FORM_LIFETIME,
        "csrf": hashlib.sha256(cookie.encode()).hexdigest(),
        "req": params,
    }
    sec = settings.security
    return jwt.encode(claims, str(sec.secret_key), algorithm=str(sec.algorithm))


def read_form_token(token: str, cookie: str | None) -> dict[str, Any] | None:
    """The parameters a form token carries, if it is genuine, unexpired and
    was handed to the browser holding ``cookie``."""
    if not token or len(token) > 8192 or not cookie:
        return None
    sec = settings.security
    try:
        claims = jwt.decode(
            token,
            str(sec.secret_key),
            algorithms=[str(sec.algorithm)],
            audience=FORM_AUDIENCE,
            options={"require": ["exp", "aud", "csrf", "req"]},
        )
    except jwt.PyJWTError:
        return None
    expected = hashlib.sha256(cookie.encode()).hexdigest()
    if claims.get("scope") != FORM_SCOPE or not secrets.compare_digest(
        str(claims["csrf"]), expected
    ):
        return None
    params = claims["req"]
    return params if isinstance(params, dict) else None


def authorize_form(
    request: Request,
    app: Row,
    params: dict[str, Any],
    token: str,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
    headers: Any = None,
) -> HTMLResponse:
    name = e(app["name"])
    scopes = "".join(f"<li>{e(scope_words(s))}</li>" for s in params["scopes"])
    if params["redirect_uri"] == oauth.OOB:
        after = "You will be shown a code to paste into the app."
    else:
        target = urlsplit(params["redirect_uri"])
        where = target.netloc or f"{target.scheme}:"
        after = f"You will be sent back to {e(where)}."
    alert = f'<p class="alert" role="alert">{e(error)}</p>' if error else ""
    body = f"""<h1>Authorize {name}</h1>
<p><strong>{name}</strong> asks to use your Pamps account to:</p>
<ul>{scopes}</ul>
{alert}
<form method="post" action="{e(request.url.path)}">
<input type="hidden" name="form_token" value="{e(token)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none"
 spellcheck="false" required maxlength="{auth.MAX_LOGIN_NAME}" value="{e(username)}"
 aria-describedby="username-hint">
<small id="username-hint">Your username or your email address</small>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="buttons">
<button class="authorize" type="submit" name="decision" value="authorize">Authorize</button>
<button class="deny" type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>
<p>{after}</p>"""
    return page(f"Authorize {app['name']}", body, status_code, headers)


async def _request_params(db: Database, query: dict[str, str]) -> tuple[Row, dict[str, Any]]:
    """The app and what it asks for; ValueError(message) for a request that
    cannot be answered at the app's redirect URI, OAuthRedirect for one
    that can."""
    app = await oauth.client(db, query.get("client_id"), None)
    if app is None:
        raise ValueError("This app is not registered here (unknown client_id).")
    uri = query.get("redirect_uri") or ""
    registered = oauth.redirect_uris(app)
    if not uri and len(registered) == 1:
        uri = registered[0]
    if not oauth.redirect_allowed(app, uri):
        raise ValueError("The redirect URI is not one this app registered.")
    params: dict[str, Any] = {"client_id": app["client_id"], "redirect_uri": uri}
    state = query.get("state")
    params["state"] = state[:MAX_STATE] if state else None
    if query.get("response_type") != "code":
        raise OAuthRedirect(params, "unsupported_response_type", "response_type must be code")
    try:
        scopes = oauth.parse_scopes(query.get("scope"))
    except oauth.ScopeError:
        raise OAuthRedirect(params, "invalid_scope", "The requested scope is unknown") from None
    if not oauth.within(scopes, app["scopes"]):
        raise OAuthRedirect(params, "invalid_scope", "The requested scope exceeds the app's")
    try:
        challenge, method = oauth.check_challenge(
            query.get("code_challenge"), query.get("code_challenge_method")
        )
    except oauth.PKCEError as error:
        raise OAuthRedirect(params, "invalid_request", str(error)) from None
    params |= {"scopes": scopes, "code_challenge": challenge, "code_challenge_method": method}
    return app, params


class OAuthRedirect(Exception):
    def __init__(self, params: dict[str, Any], error: str, description: str) -> None:
        self.params, self.error, self.description = params, error, description


@router.get("/oauth/authorize", summary="Authorize an app", response_class=HTMLResponse)
@router.get("/oauth/authorize/", include_in_schema=False, response_class=HTMLResponse)
async def authorize_page(db: DatabaseDep, request: Request) -> Response:
    """The login-and-authorize page of the authorization-code flow."""
    query = dict(request.query_params)
    try:
        app, params = await _request_params(db, query)
    except ValueError as error:
        return problem(str(error))
    except OAuthRedirect as redirect:
        return back_to_app(
            redirect.params, error=redirect.error, error_description=redirect.description
        )
    cookie = request.cookies.get(COOKIE) or secrets.token_urlsafe(32)
    response = authorize_form(request, app, params, form_token(params, cookie))
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(FORM_LIFETIME.total_seconds()),
        path="/oauth/authorize",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return response


@router.post("/oauth/authorize", summary="Answer the authorization page")
@router.post("/oauth/authorize/", include_in_schema=False)
async def authorize(db: DatabaseDep, limiter: LimiterDep, request: Request) -> Response:
    """Log in and authorize (a code for the app) or deny."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    token = fields.get("form_token", "")
    params = read_form_token(token, request.cookies.get(COOKIE))
    if params is None:
        return problem(
            "This form has expired or did not come from this browser. "
            "Go back to the app and start again (cookies must be enabled)."
        )
    app = await oauth.client(db, params.get("client_id"), None)
    if app is None or not oauth.redirect_allowed(app, params["redirect_uri"]):
        return problem("This app is no longer registered here.")
    if fields.get("decision") == "deny":
        return back_to_app(
            params, error="access_denied", error_description="You denied the app access."
        )
    name, password = fields.get("username", "").strip(), fields.get("password", "")
    if not name or not password:
        return authorize_form(
            request, app, params, token, "Enter your username and password.", name, 400
        )
    try:
        user = await auth.login(db, limiter, name, password, client_address(request))
    except Unauthorized:
        return authorize_form(
            request, app, params, token, "Incorrect username or password.", name, 400
        )
    except TooManyRequests as error:
        message = "Too many failed attempts. Wait a few minutes and try again."
        retry = {"Retry-After": (error.headers or {}).get("Retry-After", "60")}
        return authorize_form(request, app, params, token, message, name, 429, retry)
    code = await oauth.grant_code(
        db,
        int(app["id"]),
        int(user["id"]),
        params["redirect_uri"],
        params["scopes"],
        params["code_challenge"],
        params["code_challenge_method"],
    )
    return back_to_app(params, code=code)
