"""POST /token, POST /refresh_token and the checks every access token goes through.

Tokens that the server must refuse are crafted here with PyJWT (and by hand
where PyJWT would refuse to make them), signed with the test secret key so that
only the property under test is wrong.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import bcrypt
import jwt
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import insert, text

from pamps import ratelimit
from pamps.config import settings
from pamps.models import Session
from tests.conftest import get_engine, reset_limits

if TYPE_CHECKING:
    from tests.conftest import TestUser

MakeUser = Callable[..., "TestUser"]

BAD_CREDENTIALS = {"detail": "Incorrect username or password"}
INVALID_TOKEN = {"detail": "Could not validate credentials"}
NOT_AUTHENTICATED = {"detail": "Not authenticated"}
TOKEN_EXPIRED = {"detail": "Token expired"}
TOO_MANY = {"detail": "Too many requests, try again later"}


# --- helpers -------------------------------------------------------------------------------


def login(client: TestClient, username: str, password: str) -> Response:
    return client.post("/token", data={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secret_key() -> str:
    return str(settings.security.secret_key)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def open_session(user_id: int) -> tuple[int, str]:
    """A session of the user written in SQL, as a login would: its id and its
    refresh token's id."""
    jti = uuid.uuid4().hex
    now = datetime.now(UTC)
    with get_engine().begin() as conn:
        row = conn.execute(
            insert(Session)
            .values(
                user_id=user_id, client="test", refresh_jti=jti, created_at=now, last_used_at=now
            )
            .returning(Session.id)  # type: ignore[arg-type]
        )
        return int(row.scalar_one()), jti


def claims(user_id: int, scope: str = "access_token", **changes: Any) -> dict[str, Any]:
    """The claims the server itself would put in a token, of a new session of
    the user, with ``changes`` applied (a value of ``...`` removes the claim)."""
    now = int(time.time())
    session_id, jti = open_session(user_id)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "scope": scope,
        "sid": session_id,
        "iat": now,
        "exp": now + 300,
    }
    if scope == "refresh_token":
        payload["jti"] = jti
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not ...}


def sign(payload: dict[str, Any], key: str | None = None, algorithm: str = "HS256") -> str:
    """Sign arbitrary claims (PyJWS does not check them, unlike jwt.encode)."""
    return jwt.PyJWS().encode(
        json.dumps(payload).encode(), key or secret_key(), algorithm=algorithm
    )


def unsigned(payload: dict[str, Any], alg: str = "none") -> str:
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(payload).encode())}."


def me(client: TestClient, headers: dict[str, str] | None = None, **kwargs: Any) -> Response:
    return client.get("/user/me/", headers=headers or {}, **kwargs)


def assert_unauthorized(response: Response, body: dict[str, str] = INVALID_TOKEN) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == body
    assert response.headers["www-authenticate"] == "Bearer"


def stored_hash(user_id: int) -> str:
    with get_engine().connect() as conn:
        return conn.execute(
            text('SELECT password FROM "user" WHERE id = :id'), {"id": user_id}
        ).scalar_one()


def set_stored_hash(user_id: int, hashed: str) -> None:
    with get_engine().begin() as conn:
        conn.execute(
            text('UPDATE "user" SET password = :p WHERE id = :id'), {"p": hashed, "id": user_id}
        )


def delete_user_row(user_id: int) -> None:
    with get_engine().begin() as conn:
        conn.execute(text('DELETE FROM "user" WHERE id = :id'), {"id": user_id})


def tokens_for(client: TestClient, user: TestUser) -> dict[str, str]:
    response = login(client, user.username, user.password)
    assert response.status_code == 200, response.text
    return response.json()


# --- POST /token ---------------------------------------------------------------------------


class TestLogin:
    def test_returns_a_bearer_pair_that_must_not_be_cached(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        response = login(client, "alice", user.password)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"access_token", "refresh_token", "token_type"}
        assert body["token_type"] == "bearer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"

        access = jwt.decode(body["access_token"], secret_key(), algorithms=["HS256"])
        refresh = jwt.decode(body["refresh_token"], secret_key(), algorithms=["HS256"])
        assert (access["sub"], access["scope"]) == (str(user.id), "access_token")
        assert (refresh["sub"], refresh["scope"]) == (str(user.id), "refresh_token")
        assert access["exp"] - access["iat"] == 30 * 60
        assert refresh["exp"] - refresh["iat"] == 600 * 60

        profile = me(client, bearer(body["access_token"]))
        assert profile.status_code == 200, profile.text
        assert profile.json()["username"] == "alice"

    def test_username_is_case_insensitive(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user("Alice")
        response = login(client, "aLICE", user.password)
        assert response.status_code == 200, response.text
        assert me(client, bearer(response.json()["access_token"])).json()["id"] == user.id

    @pytest.mark.parametrize("email", ["alice@example.com", "ALICE@Example.COM"])
    def test_login_by_email(self, client: TestClient, make_user: MakeUser, email: str) -> None:
        user = make_user("alice", email="alice@example.com")
        response = login(client, email, user.password)
        assert response.status_code == 200, response.text
        assert me(client, bearer(response.json()["access_token"])).json()["id"] == user.id

    def test_wrong_password_and_unknown_user_look_the_same(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        make_user("alice", email="alice@example.com")
        wrong_password = login(client, "alice", "not the password")
        unknown_user = login(client, "nobody", "not the password")
        unknown_email = login(client, "nobody@example.com", "not the password")
        for response in (wrong_password, unknown_user, unknown_email):
            assert_unauthorized(response, BAD_CREDENTIALS)
            assert "cache-control" not in response.headers
        assert wrong_password.content == unknown_user.content == unknown_email.content

    def test_password_of_another_user_does_not_work(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        make_user("alice", password="alice's password")
        make_user("bob", password="bob's password!")
        assert_unauthorized(login(client, "alice", "bob's password!"), BAD_CREDENTIALS)

    @pytest.mark.parametrize(
        "password",
        [
            pytest.param("a" * 72 + "tail-one", id="ascii-80"),
            pytest.param("😀" * 128, id="emoji-128-chars-512-bytes"),
            pytest.param("p" * 70 + "👩‍👩‍👧" + "x" * 53, id="zwj-sequence-128"),
        ],
    )
    def test_long_passwords_are_compared_exactly(
        self, client: TestClient, make_user: MakeUser, password: str
    ) -> None:
        assert len(password.encode()) > 72
        assert len(password) <= 128
        make_user("alice", password=password)
        response = login(client, "alice", password)
        assert response.status_code == 200, response.text
        # Bcrypt would stop at byte 72; these differ only after it.
        changed_last = password[:-1] + ("b" if password[-1] != "b" else "c")
        assert_unauthorized(login(client, "alice", changed_last), BAD_CREDENTIALS)
        assert_unauthorized(login(client, "alice", password[:-1]), BAD_CREDENTIALS)
        assert_unauthorized(login(client, "alice", password + "x"), BAD_CREDENTIALS)
        assert_unauthorized(
            login(client, "alice", password.encode()[:72].decode(errors="ignore")),
            BAD_CREDENTIALS,
        )

    @pytest.mark.parametrize("length", [129, 1025, 5000, 20_000])
    def test_any_password_length_at_login_is_a_plain_401(
        self, client: TestClient, make_user: MakeUser, length: int
    ) -> None:
        make_user("alice")
        assert_unauthorized(login(client, "alice", "x" * length), BAD_CREDENTIALS)
        assert_unauthorized(login(client, "nobody", "😀" * length), BAD_CREDENTIALS)

    def test_registered_password_plus_padding_beyond_the_form_limit_fails(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        # The route cuts what it hashes at 1024 characters; a long suffix must
        # never make a wrong password pass.
        user = make_user("alice", password="p" * 128)
        assert_unauthorized(login(client, "alice", user.password + "q" * 4000), BAD_CREDENTIALS)

    @pytest.mark.parametrize(
        "username",
        ["a" * 5000, "alice\x00", "alice\x00@example.com", "\u0430lice", "' OR 1=1 --", "%", "_"],
        ids=["5000-chars", "nul", "nul-email", "cyrillic", "sql", "percent", "underscore"],
    )
    def test_odd_usernames_are_a_plain_401(
        self, client: TestClient, make_user: MakeUser, username: str
    ) -> None:
        make_user("alice", email="alice@example.com")
        assert_unauthorized(login(client, username, "correct horse battery"), BAD_CREDENTIALS)

    @pytest.mark.parametrize(
        "data",
        [
            {"username": "alice"},
            {"password": "correct horse battery"},
            {"username": "alice", "password": ""},
            {},
        ],
        ids=["no-password", "no-username", "empty-password", "empty"],
    )
    def test_incomplete_form_is_422_without_the_password(
        self, client: TestClient, make_user: MakeUser, data: dict[str, str]
    ) -> None:
        make_user("alice")
        response = client.post("/token", data=data)
        assert response.status_code == 422, response.text
        assert "correct horse battery" not in response.text

    def test_json_body_is_not_a_login_form(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user("alice")
        response = client.post("/token", json={"username": "alice", "password": user.password})
        assert response.status_code == 422, response.text
        assert user.password not in response.text

    def test_credentials_in_the_query_string_are_not_read(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        response = client.post("/token", params={"username": "alice", "password": user.password})
        assert response.status_code == 422, response.text
        assert user.password not in response.text


class TestWorkshopBcryptHashes:
    """Accounts created by the workshop (passlib bcrypt) keep working."""

    @pytest.mark.parametrize("prefix", [b"2b", b"2a"])
    def test_bcrypt_hash_logs_in_and_is_upgraded_to_argon2(
        self, client: TestClient, make_user: MakeUser, prefix: bytes
    ) -> None:
        user = make_user("alice", password="workshop password")
        legacy = bcrypt.hashpw(b"workshop password", bcrypt.gensalt(rounds=4, prefix=prefix))
        set_stored_hash(user.id, legacy.decode())

        response = login(client, "alice", "workshop password")
        assert response.status_code == 200, response.text
        upgraded = stored_hash(user.id)
        assert upgraded.startswith("$argon2id$")
        assert "workshop password" not in upgraded
        # The new hash is for the same password, and only that one.
        assert login(client, "alice", "workshop password").status_code == 200
        assert_unauthorized(login(client, "alice", "workshop passworD"), BAD_CREDENTIALS)
        assert stored_hash(user.id) == upgraded

    def test_wrong_password_leaves_the_bcrypt_hash_alone(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        legacy = bcrypt.hashpw(b"workshop password", bcrypt.gensalt(rounds=4)).decode()
        set_stored_hash(user.id, legacy)
        assert_unauthorized(login(client, "alice", "workshop passwordX"), BAD_CREDENTIALS)
        assert stored_hash(user.id) == legacy

    def test_password_over_72_bytes_against_a_bcrypt_hash_is_401(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        # bcrypt 5 raises on such passwords; the login must not turn that into
        # a 500, nor accept a password that only shares the first 72 bytes.
        user = make_user("alice")
        legacy = bcrypt.hashpw(b"w" * 72, bcrypt.gensalt(rounds=4)).decode()
        set_stored_hash(user.id, legacy)
        assert_unauthorized(login(client, "alice", "w" * 72 + "extra"), BAD_CREDENTIALS)
        assert stored_hash(user.id) == legacy
        assert login(client, "alice", "w" * 72).status_code == 200

    @pytest.mark.parametrize("hashed", ["", "not-a-hash", "$2b$04$short", "$argon2id$v=19$x"])
    def test_malformed_stored_hash_is_a_wrong_password(
        self, client: TestClient, make_user: MakeUser, hashed: str
    ) -> None:
        user = make_user("alice")
        set_stored_hash(user.id, hashed)
        assert_unauthorized(login(client, "alice", user.password), BAD_CREDENTIALS)


# --- failed-login rate limit ---------------------------------------------------------------


@pytest.fixture
def login_limit() -> Iterator[None]:
    """Turn rate limiting on with small login limits for one test."""
    saved = {
        key: settings.get(f"ratelimit.{key}") for key in ("enabled", "login", "login_per_address")
    }
    settings.set("ratelimit.enabled", True)
    settings.set("ratelimit.login", "3/minute")
    settings.set("ratelimit.login_per_address", "100/minute")
    ratelimit.reset_limits()
    try:
        yield
    finally:
        for key, value in saved.items():
            settings.set(f"ratelimit.{key}", value)
        ratelimit.reset_limits()


def assert_too_many(response: Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json() == TOO_MANY
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["x-ratelimit-limit"] == str(limit)
    assert response.headers["x-ratelimit-remaining"] == "0"


class TestLoginRateLimit:
    def test_fourth_attempt_after_three_failures_is_429_even_with_the_right_password(
        self, client: TestClient, make_user: MakeUser, login_limit: None
    ) -> None:
        user = make_user("alice")
        for _ in range(3):
            assert_unauthorized(login(client, "alice", "wrong password"), BAD_CREDENTIALS)
        assert_too_many(login(client, "alice", user.password), 3)
        assert_too_many(login(client, "alice", "wrong password"), 3)

    def test_other_accounts_are_unaffected(
        self, client: TestClient, make_user: MakeUser, login_limit: None
    ) -> None:
        alice = make_user("alice")
        bob = make_user("bob")
        for _ in range(3):
            login(client, "alice", "wrong password")
        assert_too_many(login(client, "alice", alice.password), 3)
        assert login(client, "bob", bob.password).status_code == 200
        assert_unauthorized(login(client, "bob", "wrong password"), BAD_CREDENTIALS)

    def test_the_account_is_counted_whatever_the_case(
        self, client: TestClient, make_user: MakeUser, login_limit: None
    ) -> None:
        user = make_user("alice")
        for name in ("alice", "ALICE", "Alice"):
            assert_unauthorized(login(client, name, "wrong password"), BAD_CREDENTIALS)
        assert_too_many(login(client, "aLiCe", user.password), 3)

    def test_username_and_email_share_one_counter(
        self, client: TestClient, make_user: MakeUser, login_limit: None
    ) -> None:
        # Naming the account by its email must not give an attacker more tries.
        user = make_user("alice", email="alice@example.com")
        for name in ("alice", "alice@example.com", "ALICE@Example.com"):
            assert_unauthorized(login(client, name, "wrong password"), BAD_CREDENTIALS)
        assert_too_many(login(client, "alice", user.password), 3)
        assert_too_many(login(client, "alice@example.com", user.password), 3)

    def test_unknown_accounts_are_limited_too(self, client: TestClient, login_limit: None) -> None:
        # Otherwise the limit itself would tell which accounts exist.
        for _ in range(3):
            assert_unauthorized(login(client, "ghost", "wrong password"), BAD_CREDENTIALS)
        assert_too_many(login(client, "ghost", "wrong password"), 3)

    def test_successful_logins_are_not_counted(
        self, client: TestClient, make_user: MakeUser, login_limit: None
    ) -> None:
        user = make_user("alice")
        for _ in range(5):
            assert login(client, "alice", user.password).status_code == 200

    def test_reset_lifts_the_limit(
        self, client: TestClient, make_user: MakeUser, login_limit: None
    ) -> None:
        user = make_user("alice")
        for _ in range(3):
            login(client, "alice", "wrong password")
        assert_too_many(login(client, "alice", user.password), 3)
        reset_limits(client)
        assert login(client, "alice", user.password).status_code == 200

    def test_failures_from_one_client_across_accounts_are_limited(
        self, client: TestClient, make_user: MakeUser, login_limit: None
    ) -> None:
        settings.set("ratelimit.login_per_address", "4/minute")
        user = make_user("alice")
        for name in ("bob", "carol", "dave", "erin"):
            assert_unauthorized(login(client, name, "wrong password"), BAD_CREDENTIALS)
        assert_too_many(login(client, "alice", user.password), 4)

    def test_disabled_limit_never_answers_429(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        assert not settings.ratelimit.enabled
        user = make_user("alice")
        for _ in range(30):
            assert_unauthorized(login(client, "alice", "wrong password"), BAD_CREDENTIALS)
        assert login(client, "alice", user.password).status_code == 200


# --- access tokens -------------------------------------------------------------------------


class TestAccessToken:
    """Every way a request can fail to carry a valid access token: 401 + Bearer."""

    @pytest.mark.parametrize(
        ("authorization", "body"),
        [
            pytest.param(None, NOT_AUTHENTICATED, id="no-header"),
            pytest.param("", NOT_AUTHENTICATED, id="empty-header"),
            pytest.param("Bearer", INVALID_TOKEN, id="bearer-alone"),
            pytest.param("Bearer ", INVALID_TOKEN, id="empty-bearer"),
            pytest.param("Basic {token}", NOT_AUTHENTICATED, id="basic-with-jwt"),
            pytest.param("Token {token}", NOT_AUTHENTICATED, id="other-scheme"),
            pytest.param("{token}", NOT_AUTHENTICATED, id="jwt-without-scheme"),
            pytest.param("bearer junk", INVALID_TOKEN, id="lowercase-junk"),
            pytest.param("Bearer not.a.jwt", INVALID_TOKEN, id="three-junk-parts"),
            pytest.param("Bearer {token}x", INVALID_TOKEN, id="jwt-with-suffix"),
            pytest.param("Bearer {token} {token}", INVALID_TOKEN, id="two-tokens"),
            pytest.param("Bearer " + "a" * 5000, INVALID_TOKEN, id="5kb-token"),
            pytest.param("Bearer " + "eyJ" * 2000, INVALID_TOKEN, id="6kb-b64"),
        ],
    )
    def test_bad_authorization_header(
        self,
        client: TestClient,
        make_user: MakeUser,
        authorization: str | None,
        body: dict[str, str],
    ) -> None:
        user = make_user("alice")
        token = tokens_for(client, user)["access_token"]
        headers = {} if authorization is None else {"Authorization": authorization}
        headers = {k: v.replace("{token}", token) for k, v in headers.items()}
        assert_unauthorized(me(client, headers), body)

    def test_valid_token_works_with_any_case_of_the_scheme(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        token = tokens_for(client, user)["access_token"]
        for scheme in ("Bearer", "bearer", "BEARER"):
            response = me(client, {"Authorization": f"{scheme} {token}"})
            assert response.status_code == 200, response.text

    @pytest.mark.parametrize("param", ["access_token", "token", "Authorization"])
    def test_token_in_the_query_string_is_ignored(
        self, client: TestClient, make_user: MakeUser, param: str
    ) -> None:
        user = make_user("alice")
        token = tokens_for(client, user)["access_token"]
        assert_unauthorized(me(client, params={param: token}), NOT_AUTHENTICATED)
        assert_unauthorized(me(client, params={param: f"Bearer {token}"}), NOT_AUTHENTICATED)

    def test_token_in_a_cookie_is_ignored(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user("alice")
        token = tokens_for(client, user)["access_token"]
        response = client.get(
            "/user/me/", headers={"Cookie": f"access_token={token}; Authorization=Bearer {token}"}
        )
        assert_unauthorized(response, NOT_AUTHENTICATED)

    def test_tampered_signature(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user("alice")
        token = tokens_for(client, user)["access_token"]
        header, payload, signature = token.split(".")
        # The first character carries six significant bits (the last may not).
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        assert_unauthorized(me(client, bearer(f"{header}.{payload}.{flipped}")))
        assert_unauthorized(me(client, bearer(f"{header}.{payload}.")))
        assert_unauthorized(me(client, bearer(f"{header}.{payload}")))

    def test_payload_swapped_for_another_user_keeps_no_signature_valid(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        alice = make_user("alice")
        bob = make_user("bob")
        header, _, signature = tokens_for(client, alice)["access_token"].split(".")
        forged = b64url(json.dumps(claims(bob.id)).encode())
        assert_unauthorized(me(client, bearer(f"{header}.{forged}.{signature}")))

    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
    def test_alg_none_is_refused(self, client: TestClient, make_user: MakeUser, alg: str) -> None:
        user = make_user("alice")
        assert_unauthorized(me(client, bearer(unsigned(claims(user.id), alg))))
        # Also with the genuine signature left in place.
        genuine = tokens_for(client, user)["access_token"]
        _, payload, signature = genuine.split(".")
        header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        assert_unauthorized(me(client, bearer(f"{header}.{payload}.{signature}")))

    @pytest.mark.parametrize(
        "algorithm",
        [
            "HS384",
            pytest.param(
                "HS512",
                marks=pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"),
            ),
        ],
    )
    def test_other_algorithm_with_the_right_key_is_refused(
        self, client: TestClient, make_user: MakeUser, algorithm: str
    ) -> None:
        user = make_user("alice")
        assert_unauthorized(me(client, bearer(sign(claims(user.id), algorithm=algorithm))))

    def test_token_signed_with_another_key_is_refused(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        other_key = "another-secret-key-of-the-same-length-0123456789ab"
        assert_unauthorized(me(client, bearer(sign(claims(user.id), key=other_key))))

    def test_control_a_token_made_the_same_way_with_the_right_key_works(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        # Proves the helpers above build otherwise valid tokens.
        user = make_user("alice")
        response = me(client, bearer(sign(claims(user.id))))
        assert response.status_code == 200, response.text
        assert response.json()["id"] == user.id

    def test_expired_token(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user("alice")
        past = datetime.now(UTC) - timedelta(minutes=31)
        token = jwt.encode(
            {
                "sub": str(user.id),
                "scope": "access_token",
                "sid": open_session(user.id)[0],
                "iat": past,
                "exp": past + timedelta(minutes=30),
            },
            secret_key(),
            algorithm="HS256",
        )
        assert_unauthorized(me(client, bearer(token)), TOKEN_EXPIRED)

    def test_a_token_accepted_before_expires_all_the_same(
        self, client: TestClient, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Verified tokens are remembered (pamps.auth._verified_claims); the
        # expiry is still checked on every request.
        user = make_user("alice")
        expires = int(time.time()) + 60
        token = sign(claims(user.id, exp=expires))
        assert me(client, bearer(token)).status_code == 200
        assert client.get("/user/timeline", headers=bearer(token)).status_code == 200
        # pamps.auth's clock only, at the second the token expires.
        monkeypatch.setattr("pamps.auth.time", SimpleNamespace(time=lambda: float(expires)))
        assert_unauthorized(me(client, bearer(token)), TOKEN_EXPIRED)
        assert_unauthorized(client.get("/user/timeline", headers=bearer(token)), TOKEN_EXPIRED)

    def test_a_token_accepted_before_is_refused_once_the_secret_key_changes(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        token = sign(claims(user.id))
        assert me(client, bearer(token)).status_code == 200
        old_key = secret_key()
        settings.set("security.secret_key", "n" * 64)
        try:
            assert_unauthorized(me(client, bearer(token)))
        finally:
            settings.set("security.secret_key", old_key)
        assert me(client, bearer(token)).status_code == 200

    def test_a_refresh_token_accepted_before_is_still_no_access_token(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        refresh = tokens_for(client, user)["refresh_token"]
        response = client.post("/refresh_token", json={"refresh_token": refresh})
        assert response.status_code == 200, response.text
        assert_unauthorized(me(client, bearer(refresh)))
        assert_unauthorized(client.get("/user/timeline", headers=bearer(refresh)))

    def test_token_of_a_deleted_user(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user("alice")
        token = tokens_for(client, user)["access_token"]
        assert me(client, bearer(token)).status_code == 200
        delete_user_row(user.id)
        assert_unauthorized(me(client, bearer(token)))

    def test_token_of_a_deleted_user_on_the_routes_that_check_it_themselves(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        """Posting, liking and the timeline check the token's user inside
        their own statement: still a 401, and nothing written."""
        author = make_user("author")
        post = client.post("/post/", json={"text": "hi"}, headers=author.headers).json()
        user = make_user("alice")
        headers = bearer(tokens_for(client, user)["access_token"])
        delete_user_row(user.id)
        assert_unauthorized(client.post("/post/", json={"text": "ghost"}, headers=headers))
        reply = {"text": "ghost", "parent_id": post["id"]}
        assert_unauthorized(client.post("/post/", json=reply, headers=headers))
        assert_unauthorized(client.post(f"/post/{post['id']}/like/", headers=headers))
        assert_unauthorized(client.get("/user/timeline", headers=headers))
        # 401 before 404, as on every authenticated route.
        missing = post["id"] + 1000
        assert_unauthorized(client.post(f"/post/{missing}/like/", headers=headers))
        orphan = {"text": "ghost", "parent_id": missing}
        assert_unauthorized(client.post("/post/", json=orphan, headers=headers))
        assert client.get(f"/post/{post['id']}/").json()["likes_count"] == 0
        assert client.get("/post/").json() == [post]

    @pytest.mark.parametrize(
        "changes",
        [
            pytest.param({"sub": ...}, id="no-sub"),
            pytest.param({"sub": 1}, id="int-sub"),
            pytest.param({"sub": None}, id="null-sub"),
            pytest.param({"sub": [1]}, id="list-sub"),
            pytest.param({"sub": ""}, id="empty-sub"),
            pytest.param({"sub": "alice"}, id="username-sub"),
            pytest.param({"sub": "-1"}, id="negative-sub"),
            pytest.param({"sub": "0"}, id="zero-sub"),
            pytest.param({"sub": "1.0"}, id="float-sub"),
            pytest.param({"sub": " 1"}, id="space-sub"),
            pytest.param({"sub": "²"}, id="superscript-digit-sub"),
            pytest.param({"sub": "9" * 30}, id="huge-sub"),
            pytest.param({"sub": str(2**31)}, id="sub-beyond-int4"),
            pytest.param({"sub": str(2**63)}, id="sub-beyond-int8"),
            pytest.param({"sub": "9" * 4000}, id="4000-digit-sub"),
            pytest.param({"scope": ...}, id="no-scope"),
            pytest.param({"scope": "admin"}, id="other-scope"),
            pytest.param({"scope": ["access_token"]}, id="list-scope"),
            pytest.param({"exp": ...}, id="no-exp"),
            pytest.param({"exp": "never"}, id="string-exp"),
        ],
    )
    def test_bad_claims(
        self, client: TestClient, make_user: MakeUser, changes: dict[str, Any]
    ) -> None:
        make_user("alice")  # id 1 exists, so a sub of 1 would name somebody
        user = make_user("bob")
        assert_unauthorized(me(client, bearer(sign(claims(user.id, **changes)))))

    def test_refresh_token_is_not_an_access_token(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        refresh = tokens_for(client, user)["refresh_token"]
        assert_unauthorized(me(client, bearer(refresh)))
        response = client.patch("/user/me/", json={"bio": "hacked"}, headers=bearer(refresh))
        assert_unauthorized(response)
        assert me(client, user.headers).json()["bio"] is None


# --- POST /refresh_token -------------------------------------------------------------------


class TestRefreshToken:
    def test_gives_a_new_working_pair(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user("alice")
        first = tokens_for(client, user)
        response = client.post("/refresh_token", json={"refresh_token": first["refresh_token"]})
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        pair = response.json()
        assert set(pair) == {"access_token", "refresh_token", "token_type"}
        assert pair["token_type"] == "bearer"
        profile = me(client, bearer(pair["access_token"]))
        assert profile.status_code == 200, profile.text
        assert profile.json()["id"] == user.id
        again = client.post("/refresh_token", json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 200, again.text

    def test_access_token_is_not_a_refresh_token(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        access = tokens_for(client, user)["access_token"]
        response = client.post("/refresh_token", json={"refresh_token": access})
        assert_unauthorized(response)
        assert "cache-control" not in response.headers

    def test_refresh_token_in_the_authorization_header_is_not_read(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        refresh = tokens_for(client, user)["refresh_token"]
        response = client.post("/refresh_token", json={}, headers=bearer(refresh))
        assert response.status_code == 422, response.text
        assert refresh not in response.text

    @pytest.mark.parametrize(
        "make_token",
        [
            pytest.param(lambda uid: "", id="empty"),
            pytest.param(lambda uid: "junk", id="junk"),
            pytest.param(lambda uid: "a" * 5000, id="5kb"),
            pytest.param(lambda uid: unsigned(claims(uid, "refresh_token")), id="alg-none"),
            pytest.param(
                lambda uid: sign(claims(uid, "refresh_token"), key="k" * 48), id="other-key"
            ),
            pytest.param(
                lambda uid: sign(claims(uid, "refresh_token", exp=int(time.time()) - 1)),
                id="expired",
            ),
            pytest.param(lambda uid: sign(claims(uid, "refresh_token", sub=uid)), id="int-sub"),
        ],
    )
    def test_bad_refresh_tokens(
        self, client: TestClient, make_user: MakeUser, make_token: Callable[[int], str]
    ) -> None:
        user = make_user("alice")
        response = client.post("/refresh_token", json={"refresh_token": make_token(user.id)})
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() in (INVALID_TOKEN, TOKEN_EXPIRED)

    def test_refresh_token_of_a_deleted_user(self, client: TestClient, make_user: MakeUser) -> None:
        user = make_user("alice")
        refresh = tokens_for(client, user)["refresh_token"]
        delete_user_row(user.id)
        assert_unauthorized(client.post("/refresh_token", json={"refresh_token": refresh}))

    @pytest.mark.parametrize(
        "body",
        [{}, {"refresh_token": None}, {"refresh_token": 5}, {"token": "x"}, [], "x"],
        ids=["empty", "null", "int", "wrong-key", "list", "string"],
    )
    def test_malformed_body_is_422(self, client: TestClient, body: Any) -> None:
        response = client.post("/refresh_token", json=body)
        assert response.status_code == 422, response.text

    def test_refresh_token_in_the_query_string_is_not_read(
        self, client: TestClient, make_user: MakeUser
    ) -> None:
        user = make_user("alice")
        refresh = tokens_for(client, user)["refresh_token"]
        response = client.post("/refresh_token", params={"refresh_token": refresh})
        assert response.status_code == 422, response.text
        assert refresh not in response.text
