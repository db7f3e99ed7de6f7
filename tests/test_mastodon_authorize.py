"""The authorization-code flow of the Mastodon-compatible API: the page at
/oauth/authorize driven as a browser without JavaScript would (httpx, its
form read from the HTML), the code traded with Mastodon.py, PKCE, toot's
browser login, and every way a request can be refused."""

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from mastodon import Mastodon, MastodonIllegalArgumentError, MastodonUnauthorizedError
from sqlalchemy import text

from pamps.database import make_engine
from tests import mastodon_schemas as schemas
from tests.live import live_server

PASSWORD = "correct horse battery"
CALLBACK = "https://app.example/callback?from=pamps"
OOB = "urn:ietf:wg:oauth:2.0:oob"


@pytest.fixture(scope="module")
def server(backend: str, database_url: str) -> Iterator[str]:
    with live_server(database_url) as url:
        yield url


class Form(HTMLParser):
    """The first form of a page: its action, fields and submit buttons."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}
        self.labels: list[str] = []
        self._label = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action = values.get("action")
        elif tag == "input" and "name" in values:
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "button":
            self.buttons[values.get("value", "")] = values.get("name", "")
        self._label = tag == "label"

    def handle_data(self, data: str) -> None:
        if self._label and data.strip():
            self.labels.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label = False


def signup(base: str, username: str) -> dict[str, Any]:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    answer = httpx.post(f"{base}/user/", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def new_app(base: str, name: str = "Gallery", uris: str = f"{CALLBACK}\n{OOB}") -> Mastodon:
    client_id, secret = Mastodon.create_app(
        name, api_base_url=base, redirect_uris=uris.split("\n"), scopes=["read", "write"]
    )
    return Mastodon(client_id, secret, api_base_url=base)


def approve(
    browser: httpx.Client,
    url: str,
    username: str = "alice",
    password: str = PASSWORD,
    decision: str = "authorize",
) -> httpx.Response:
    """Open the authorization page at ``url`` and submit its form."""
    shown = browser.get(url)
    assert shown.status_code == 200, shown.text
    form = Form(shown.text)
    assert form.action is not None
    fields = {**form.fields, "username": username, "password": password, "decision": decision}
    return browser.post(form.action, data=fields)


def code_of(answer: httpx.Response, redirect: str = CALLBACK) -> str:
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(redirect.split("?")[0] + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["from"] == ["pamps"]  # the registered URI's own query is kept
    return query["code"][0]


def s256(verifier: str) -> str:
    hashed = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(hashed).rstrip(b"=").decode()


def exchange(base: str, api: Mastodon, code: str, redirect: str = CALLBACK, **extra: str) -> Any:
    body = {
        "grant_type": "authorization_code",
        "client_id": api.client_id,
        "client_secret": api.client_secret,
        "code": code,
        "redirect_uri": redirect,
        **extra,
    }
    return httpx.post(f"{base}/oauth/token", data=body)


@pytest.fixture
def browser(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, follow_redirects=False) as client:
        yield client


class TestCodeFlow:
    def test_mastodon_py_end_to_end(self, server: str, browser: httpx.Client) -> None:
        signup(server, "alice")
        api = new_app(server)
        url = api.auth_request_url(
            redirect_uris=CALLBACK, scopes=["read", "write"], state="s-1", skip_server_info=True
        )
        shown = browser.get(url)
        assert shown.status_code == 200
        assert shown.headers["content-type"].startswith("text/html")
        form = Form(shown.text)
        assert form.labels[:2] == ["Username", "Password"]
        assert form.buttons == {"authorize": "decision", "deny": "decision"}
        assert "<h1>Authorize Gallery</h1>" in shown.text
        assert "Read everything in your account" in shown.text
        assert "Publish, edit and delete statuses" in shown.text
        assert "You will be sent back to app.example." in shown.text
        answer = approve(browser, url, "alice@example.com")  # the email works too
        assert parse_qs(urlsplit(answer.headers["location"]).query)["state"] == ["s-1"]
        code = code_of(answer)
        token = api.log_in(code=code, redirect_uri=CALLBACK, scopes=["read", "write"])
        assert api.me().username == "alice"
        assert api.status_post("through the browser login").content
        # A code is good once: used again it fails, and the token it bought
        # is revoked (someone else holds a copy of the code).
        again = Mastodon(api.client_id, api.client_secret, api_base_url=server)
        with pytest.raises(MastodonIllegalArgumentError):
            again.log_in(code=code, redirect_uri=CALLBACK, scopes=["read", "write"])
        revoked = Mastodon(api.client_id, api.client_secret, token, api_base_url=server)
        with pytest.raises(MastodonUnauthorizedError):
            revoked.me()

    def test_the_code_carries_the_approved_scopes(self, server: str, browser: httpx.Client) -> None:
        signup(server, "alice")
        api = new_app(server)
        url = api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], skip_server_info=True)
        answer = exchange(server, api, code_of(approve(browser, url)), scope="read write")
        assert answer.status_code == 200, answer.text
        schemas.check(schemas.TOKEN, answer.json())
        assert answer.json()["scope"] == "read"
        assert answer.headers["cache-control"] == "no-store"
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        posted = httpx.post(f"{server}/api/v1/statuses", json={"status": "x"}, headers=headers)
        assert posted.status_code == 403

    @pytest.mark.parametrize("method", ["S256", "plain"])
    def test_pkce(self, server: str, browser: httpx.Client, method: str) -> None:
        signup(server, "alice")
        api = new_app(server)
        verifier = secrets.token_urlsafe(48)
        challenge = s256(verifier) if method == "S256" else verifier
        url = api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], skip_server_info=True)
        url += "&" + urlencode({"code_challenge": challenge, "code_challenge_method": method})
        code = code_of(approve(browser, url))
        # Without the verifier, or with another one: refused, and the code stays live.
        for extra in ({}, {"code_verifier": secrets.token_urlsafe(48)}, {"code_verifier": "x"}):
            refused = exchange(server, api, code, **extra)
            assert refused.status_code == 400
            schemas.check(schemas.OAUTH_ERROR, refused.json())
            assert refused.json()["error"] == "invalid_grant"
        if method == "S256":  # the challenge itself is not the verifier
            assert exchange(server, api, code, code_verifier=challenge).status_code == 400
        answer = exchange(server, api, code, code_verifier=verifier)
        assert answer.status_code == 200, answer.text
        assert exchange(server, api, code, code_verifier=verifier).status_code == 400

    def test_a_verifier_for_a_code_without_challenge_is_refused(
        self, server: str, browser: httpx.Client
    ) -> None:
        signup(server, "alice")
        api = new_app(server)
        url = api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], skip_server_info=True)
        code = code_of(approve(browser, url))
        verifier = secrets.token_urlsafe(48)
        assert exchange(server, api, code, code_verifier=verifier).status_code == 400
        assert exchange(server, api, code).status_code == 200

    def test_a_code_is_bound_to_its_client_and_redirect_uri(
        self, server: str, browser: httpx.Client
    ) -> None:
        signup(server, "alice")
        api, other = new_app(server), new_app(server, "Other")
        url = api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], skip_server_info=True)
        code = code_of(approve(browser, url))
        assert exchange(server, other, code).json()["error"] == "invalid_grant"
        assert exchange(server, api, code, redirect=OOB).json()["error"] == "invalid_grant"
        assert exchange(server, api, code).status_code == 200

    def test_an_expired_code_is_refused(
        self, server: str, browser: httpx.Client, database_url: str
    ) -> None:
        signup(server, "alice")
        api = new_app(server)
        url = api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], skip_server_info=True)
        code = code_of(approve(browser, url))
        engine = make_engine(database_url)
        try:
            with engine.begin() as conn:
                past = datetime.now(UTC) - timedelta(seconds=1)
                conn.execute(text("UPDATE oauth_code SET expires_at = :t"), {"t": past})
        finally:
            engine.dispose()
        assert exchange(server, api, code).json()["error"] == "invalid_grant"

    def test_codes_are_shared_by_every_host(self, server: str, database_url: str) -> None:
        """A code made by one server is redeemed on another on the same database."""
        signup(server, "alice")
        with live_server(database_url) as second:
            api = new_app(server)
            url = api.auth_request_url(
                redirect_uris=CALLBACK, scopes=["read"], skip_server_info=True
            )
            with httpx.Client(base_url=server) as browser:
                code = code_of(approve(browser, url))
            answer = exchange(second, api, code)
            assert answer.status_code == 200, answer.text

    def test_out_of_band_shows_the_code(self, server: str, browser: httpx.Client) -> None:
        signup(server, "alice")
        api = new_app(server)
        url = api.auth_request_url(redirect_uris=OOB, scopes=["read"], skip_server_info=True)
        assert "You will be shown a code to paste into the app." in browser.get(url).text
        shown = approve(browser, url)
        assert shown.status_code == 200
        match = re.search(r'<code id="code">([A-Za-z0-9_-]+)</code>', shown.text)
        assert match is not None
        api.log_in(code=match.group(1), scopes=["read"])
        assert api.me().username == "alice"


class TestRefusals:
    def url(self, server: str, api: Mastodon, **params: str) -> str:
        query = {
            "client_id": api.client_id,
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "scope": "read",
            "state": "st",
            **params,
        }
        return f"{server}/oauth/authorize?{urlencode(query)}"

    def test_unknown_app_or_redirect_uri_is_shown_never_redirected(
        self, server: str, browser: httpx.Client
    ) -> None:
        api = new_app(server)
        for params, words in (
            ({"client_id": "nope"}, "This app is not registered here"),
            ({"redirect_uri": "https://evil.example/"}, "not one this app registered"),
            ({"redirect_uri": "https://app.example/callback"}, "not one this app registered"),
        ):
            answer = browser.get(self.url(server, api, **params))
            assert answer.status_code == 400
            assert "location" not in answer.headers
            assert words in answer.text

    def test_unsafe_redirect_uris_are_refused(self, server: str, browser: httpx.Client) -> None:
        api = new_app(server, uris="javascript:alert(1)")
        answer = browser.get(self.url(server, api, redirect_uri="javascript:alert(1)"))
        assert answer.status_code == 400 and "location" not in answer.headers

    @pytest.mark.parametrize(
        ("params", "error"),
        [
            ({"response_type": "token"}, "unsupported_response_type"),
            ({"scope": "read admin:write"}, "invalid_scope"),
            ({"scope": "follow"}, "invalid_scope"),  # wider than the app's
            ({"code_challenge": "short"}, "invalid_request"),
            ({"code_challenge": "a" * 43, "code_challenge_method": "S512"}, "invalid_request"),
            ({"code_challenge_method": "S256"}, "invalid_request"),
        ],
    )
    def test_bad_requests_go_back_to_the_app_with_an_error(
        self, server: str, browser: httpx.Client, params: dict[str, str], error: str
    ) -> None:
        api = new_app(server)
        answer = browser.get(self.url(server, api, **params))
        assert answer.status_code == 303
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert (query["error"], query["state"]) == ([error], ["st"])
        assert "code" not in query

    def test_deny(self, server: str, browser: httpx.Client) -> None:
        signup(server, "alice")
        api = new_app(server)
        answer = approve(browser, self.url(server, api), password="", decision="deny")
        assert answer.status_code == 303
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert (query["error"], query["state"]) == (["access_denied"], ["st"])

    def test_wrong_password_shows_the_form_again(self, server: str, browser: httpx.Client) -> None:
        signup(server, "alice")
        api = new_app(server)
        answer = approve(browser, self.url(server, api), '"><b>alice', "wrong")
        assert answer.status_code == 400
        assert '<p class="alert" role="alert">Incorrect username or password.</p>' in answer.text
        assert 'value="&quot;&gt;&lt;b&gt;alice"' in answer.text and "<b>alice" not in answer.text
        # The form shown again still works.
        form = Form(answer.text)
        fields = {**form.fields, "username": "alice", "password": PASSWORD}
        assert code_of(browser.post(form.action or "", data=fields))

    def test_the_form_only_works_in_the_browser_that_loaded_it(
        self, server: str, browser: httpx.Client
    ) -> None:
        signup(server, "alice")
        api = new_app(server)
        form = Form(browser.get(self.url(server, api)).text)
        fields = {**form.fields, "username": "alice", "password": PASSWORD}
        with httpx.Client(base_url=server) as elsewhere:  # another site posting it
            answer = elsewhere.post("/oauth/authorize", data=fields)
            assert answer.status_code == 400 and "location" not in answer.headers
            assert "did not come from this browser" in answer.text
            elsewhere.get(self.url(server, api))  # a cookie of its own: still not this form
            assert elsewhere.post("/oauth/authorize", data=fields).status_code == 400
        tampered = form.fields["form_token"][:-4] + "AAAA"
        answer = browser.post("/oauth/authorize", data={**fields, "form_token": tampered})
        assert answer.status_code == 400
        assert browser.post("/oauth/authorize", data=fields).status_code == 303

    def test_a_form_token_is_no_api_token(self, server: str, browser: httpx.Client) -> None:
        api = new_app(server)
        token = Form(browser.get(self.url(server, api)).text).fields["form_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{server}/user/me/", headers=headers).status_code == 401
        mine = httpx.get(f"{server}/api/v1/accounts/verify_credentials", headers=headers)
        assert mine.status_code == 401

    def test_everything_shown_is_escaped(self, server: str, browser: httpx.Client) -> None:
        api = new_app(server, name='<script>alert("x")</script>')
        answer = browser.get(self.url(server, api))
        assert answer.status_code == 200
        assert "<script>" not in answer.text
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in answer.text

    def test_page_headers(self, server: str, browser: httpx.Client) -> None:
        api = new_app(server)
        answer = browser.get(self.url(server, api))
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-frame-options"] == "DENY"
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert "path=/oauth/authorize" in cookie


def test_login_limits_are_the_native_ones(database_url: str) -> None:
    """Wrong passwords on the page count against the native login's limits:
    after them the page refuses, and so does POST /token."""
    env = {"PAMPS_RATELIMIT__ENABLED": "true", "PAMPS_RATELIMIT__LOGIN": "3/minute"}
    with live_server(database_url, env=env) as server, httpx.Client(base_url=server) as browser:
        signup(server, "alice")
        api = new_app(server)
        url = api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], skip_server_info=True)
        for _ in range(3):
            assert approve(browser, url, password="wrong").status_code == 400
        limited = approve(browser, url)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert "Too many failed attempts" in limited.text
        native = httpx.post(f"{server}/token", data={"username": "alice", "password": PASSWORD})
        assert native.status_code == 429


def test_toot_logs_in_through_the_browser(server: str, tmp_path: Path) -> None:
    """toot's `login`: it prints the authorization URL and asks for the code
    the page shows (the out-of-band redirect)."""
    signup(server, "alice")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    env["PYTHONUNBUFFERED"] = "1"
    command = [str(Path(sys.executable).with_name("toot")), "login", "-i", server]
    with subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as toot:
        assert toot.stdout is not None and toot.stdin is not None
        url = ""
        while not url:
            line = toot.stdout.readline()
            assert line, toot.stderr.read() if toot.stderr else ""
            if line.startswith(f"{server}/oauth/authorize"):
                url = line.strip()
        with httpx.Client(base_url=server) as browser:
            shown = approve(browser, url)
        match = re.search(r'<code id="code">([A-Za-z0-9_-]+)</code>', shown.text)
        assert match is not None, shown.text
        out, err = toot.communicate(f"n\n{match.group(1)}\n", timeout=60)
        assert toot.returncode == 0, out + err
    assert "Successfully logged in" in out
    whoami = subprocess.run(
        [command[0], "whoami"], env=env, capture_output=True, text=True, timeout=60
    )
    assert whoami.returncode == 0 and whoami.stdout.startswith("@alice")
