"""The ``pamps`` command line, on both backends, through Typer's CliRunner."""

import os
import re
import secrets
import subprocess
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from alembic import command
from alembic.script import ScriptDirectory
from click.testing import Result
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import inspect, text
from sqlalchemy.exc import SAWarning
from typer.testing import CliRunner

from pamps import cli as cli_module
from pamps import config
from pamps.app import create_app
from pamps.cli import PAMPS_FUNCTIONS, cli, migrations_config
from pamps.config import ConfigError, settings
from tests.conftest import create_database, dispose_engines, drop_database, get_engine

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/none"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TABLES = {
    "alembic_version",
    "idempotency_key",
    "like",
    "oauth_app",
    "oauth_code",
    "oauth_token",
    "post",
    "session",
    "social",
    "user",
}
HEAD = ScriptDirectory.from_config(migrations_config()).get_current_head()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    return runner.invoke(cli, list(args), input=input)


def assert_ok(result: Result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)


def assert_one_error_line(result: Result, *fragments: str) -> str:
    """Exit code 1, exactly one line on stderr starting with "Error:", no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = ANSI.sub("", result.stderr).splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def table_names() -> set[str]:
    return set(inspect(get_engine()).get_table_names())


def usernames() -> list[str]:
    with get_engine().connect() as conn:
        return list(conn.execute(text('SELECT username FROM "user" ORDER BY id')).scalars())


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a Rich table (header row and borders left out)."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def login(client: TestClient, username: str, password: str) -> int:
    response = client.post("/token", data={"username": username, "password": password})
    return response.status_code


class TestHelp:
    def test_lists_every_command(self, runner: CliRunner) -> None:
        result = invoke(runner, "--help")
        assert_ok(result)
        for name in ("shell", "user-list", "create-user", "reset-db", "serve", "migrate"):
            assert re.search(rf"│ {name}\s", result.stdout), name

    def test_serve_help_documents_its_options_and_their_settings(self, runner: CliRunner) -> None:
        result = invoke(runner, "serve", "--help")
        assert_ok(result)
        for option in ("--host", "--port", "--workers", "--reload"):
            assert option in result.stdout
        # The help names the setting each option defaults to.
        for name in ("server.host", "server.port", "server.workers"):
            assert name in result.stdout


class TestCreateUser:
    def test_with_password_argument_user_can_log_in(
        self, runner: CliRunner, client: TestClient
    ) -> None:
        result = invoke(runner, "create-user", "alice@example.com", "alice", PASSWORD)
        assert_ok(result)
        assert "Created user 'alice'" in result.stdout
        assert result.stderr == ""
        assert usernames() == ["alice"]
        assert login(client, "alice", PASSWORD) == 200
        assert login(client, "alice", "wrong password") == 401

    def test_options_are_stored(self, runner: CliRunner, client: TestClient) -> None:
        result = invoke(
            runner,
            "create-user",
            "bob@example.com",
            "bob",
            PASSWORD,
            "--bio",
            "hi there",
            "--avatar",
            "https://example.com/bob.png",
        )
        assert_ok(result)
        body = client.get("/user/bob/").json()
        assert (body["bio"], body["avatar"]) == ("hi there", "https://example.com/bob.png")

    def test_without_password_prompts_hidden_with_confirmation(
        self, runner: CliRunner, client: TestClient
    ) -> None:
        secret = "s3cret-prompted-pw"
        result = invoke(
            runner, "create-user", "carol@example.com", "carol", input=f"{secret}\n{secret}\n"
        )
        assert_ok(result)
        assert "Password" in result.output
        assert "Repeat for confirmation" in result.output
        assert secret not in result.output
        assert login(client, "carol", secret) == 200

    def test_prompt_asks_again_when_confirmation_differs(
        self, runner: CliRunner, client: TestClient
    ) -> None:
        secret = "s3cret-prompted-pw"
        result = invoke(
            runner,
            "create-user",
            "dave@example.com",
            "dave",
            input=f"{secret}\nsomething else\n{secret}\n{secret}\n",
        )
        assert_ok(result)
        assert "do not match" in result.output
        assert secret not in result.output
        assert "something else" not in result.output
        assert login(client, "dave", secret) == 200

    @pytest.mark.parametrize(
        ("email", "username", "password", "field"),
        [
            ("bob@example.com", "bo", PASSWORD, "username"),
            ("bob@example.com", "b" * 31, PASSWORD, "username"),
            ("bob@example.com", "bad name", PASSWORD, "username"),
            ("bob@example.com", "bob/../x", PASSWORD, "username"),
            ("bob@example.com", "timeline", PASSWORD, "username"),
            ("bob@example.com", "Me_", PASSWORD, None),  # valid: control case
            ("bob@example.com", "bob", "short", "password"),
            ("bob@example.com", "bob", "x" * 129, "password"),
            ("not-an-email", "bob", PASSWORD, "email"),
            ("bob@", "bob", PASSWORD, "email"),
        ],
    )
    def test_validation_is_the_api_validation(
        self,
        runner: CliRunner,
        client: TestClient,
        email: str,
        username: str,
        password: str,
        field: str | None,
    ) -> None:
        result = invoke(runner, "create-user", email, username, password)
        api = client.post(
            "/user/", json={"email": email, "username": username, "password": password}
        )
        if field is None:
            assert_ok(result)
            # The CLI created it, so the API sees a duplicate.
            assert api.status_code == 409, api.text
            return
        line = assert_one_error_line(result, f"Error: {field}:")
        assert password not in line
        # The API's message, without pydantic's "Value error, " prefix.
        assert line == f"Error: {field}: {api.json()['detail'][0]['msg']}"
        assert "Value error" not in line
        assert api.status_code == 422, api.text
        assert api.json()["detail"][0]["loc"] == ["body", field]
        assert usernames() == []

    @pytest.mark.parametrize("duplicate", ["alice", "ALICE", "Alice"])
    def test_duplicate_username_in_any_case(
        self, runner: CliRunner, duplicate: str, backend: str
    ) -> None:
        assert_ok(invoke(runner, "create-user", "alice@example.com", "alice", PASSWORD))
        result = invoke(runner, "create-user", "other@example.com", duplicate, PASSWORD)
        assert_one_error_line(result, f"username {duplicate!r} is already taken")
        assert usernames() == ["alice"]

    @pytest.mark.parametrize("duplicate", ["alice@example.com", "Alice@Example.COM"])
    def test_duplicate_email(self, runner: CliRunner, duplicate: str, backend: str) -> None:
        assert_ok(invoke(runner, "create-user", "alice@example.com", "alice", PASSWORD))
        result = invoke(runner, "create-user", duplicate, "bob", PASSWORD)
        assert_one_error_line(result, "email 'alice@example.com' is already registered")
        assert usernames() == ["alice"]


class TestUserList:
    def test_empty(self, runner: CliRunner, backend: str) -> None:
        result = invoke(runner, "user-list")
        assert_ok(result)
        assert "Pamps users" in result.stdout
        assert table_rows(result.stdout) == []

    def test_shows_users_in_a_table(
        self, runner: CliRunner, client: TestClient, backend: str
    ) -> None:
        assert_ok(invoke(runner, "create-user", "ann@example.com", "ann", PASSWORD))
        assert_ok(invoke(runner, "create-user", "ben@example.com", "ben", PASSWORD))
        token = client.post("/token", data={"username": "ben", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for words in ("one", "two"):
            response = client.post("/post/", json={"text": words}, headers=headers)
            assert response.status_code == 201, response.text

        result = invoke(runner, "user-list")
        assert_ok(result)
        header = next(line for line in result.stdout.splitlines() if "username" in line)
        assert [c.strip() for c in header.split("┃")[1:-1]] == [
            "id",
            "username",
            "email",
            "posts",
            "created at",
        ]
        rows = table_rows(result.stdout)
        assert [row[1:4] for row in rows] == [
            ["ann", "ann@example.com", "0"],
            ["ben", "ben@example.com", "2"],
        ]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", row[4]) for row in rows)


@pytest.fixture
def restore_schema(database_url: str) -> Iterator[None]:
    """Leave the shared database migrated to head, whatever the test did to it."""
    yield
    dispose_engines()
    command.upgrade(migrations_config(database_url), "head")


class TestResetDb:
    def test_asks_for_confirmation(self, runner: CliRunner, backend: str) -> None:
        assert_ok(invoke(runner, "create-user", "alice@example.com", "alice", PASSWORD))
        result = invoke(runner, "reset-db", input="n\n")
        assert result.exit_code == 1
        assert "Drop every table" in result.output
        assert "Traceback" not in result.output
        assert table_names() == TABLES
        assert usernames() == ["alice"]

    def test_confirmed_drops_every_table(
        self, runner: CliRunner, backend: str, restore_schema: None
    ) -> None:
        assert_ok(invoke(runner, "create-user", "alice@example.com", "alice", PASSWORD))
        result = invoke(runner, "reset-db", input="y\n")
        assert_ok(result)
        assert table_names() == set()
        if backend == "postgresql":  # the counters' trigger functions too
            with get_engine().connect() as conn:
                assert conn.scalars(text(PAMPS_FUNCTIONS)).all() == []

    def test_force_drops_everything_and_migrate_rebuilds(
        self, runner: CliRunner, client: TestClient, backend: str, restore_schema: None
    ) -> None:
        assert_ok(invoke(runner, "create-user", "alice@example.com", "alice", PASSWORD))
        assert table_names() == TABLES

        with warnings.catch_warnings():
            # No SQLAlchemy warning may reach the admin's terminal.
            warnings.simplefilter("error", SAWarning)
            result = invoke(runner, "reset-db", "-f")
        assert_ok(result)
        assert result.stderr == ""
        assert "Drop every table" not in result.output
        # Alembic's version table too: otherwise `migrate` would believe the
        # schema is still there.
        assert table_names() == set()

        result = invoke(runner, "migrate")
        assert_ok(result)
        assert "migrated to head" in result.stdout
        assert table_names() == TABLES
        with get_engine().connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == HEAD == "0010"

        # The API works again on the rebuilt, empty schema.
        assert login(client, "alice", PASSWORD) == 401
        response = client.post(
            "/user/", json={"email": "a@example.com", "username": "alice", "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        assert login(client, "alice", PASSWORD) == 200

    def test_migrate_is_idempotent(self, runner: CliRunner, backend: str) -> None:
        assert_ok(invoke(runner, "migrate"))
        assert_ok(invoke(runner, "migrate"))
        assert table_names() == TABLES


class TestMigrate:
    @pytest.fixture
    def never_migrated(
        self, backend: str, database_url: str, tmp_path: Path, request: pytest.FixtureRequest
    ) -> Iterator[str]:
        """Points the settings at a database of this test's own, never migrated."""
        if backend == "sqlite":
            url, server = f"sqlite:///{tmp_path / 'never.db'}", None
        else:
            server = request.getfixturevalue("postgres_server")
            url = create_database(server)
        settings.set("db.uri", url)
        try:
            yield url
        finally:
            settings.set("db.uri", database_url)
            dispose_engines()
            if server is not None:
                drop_database(server, url)

    def test_commands_on_a_never_migrated_database_say_to_migrate(
        self, runner: CliRunner, never_migrated: str
    ) -> None:
        for args in [["user-list"], ["create-user", "alice@example.com", "alice", PASSWORD]]:
            result = invoke(runner, *args)
            line = assert_one_error_line(result)
            assert line == "Error: the database has no schema yet: run `pamps migrate`"
        result = invoke(runner, "migrate")
        assert_ok(result)
        assert result.stdout == f"Database migrated to head (empty -> {HEAD}).\n"
        assert_ok(invoke(runner, "create-user", "alice@example.com", "alice", PASSWORD))
        assert usernames() == ["alice"]

    @pytest.mark.parametrize("target", ["head", HEAD, "base", "0001"])
    def test_nothing_to_do_says_so(self, runner: CliRunner, backend: str, target: str) -> None:
        result = invoke(runner, "migrate", target)
        assert_ok(result)
        only = "" if target in ("head", HEAD) else " (`pamps migrate` only upgrades)"
        assert result.stdout == f"Nothing to migrate: the database is already at {HEAD}{only}.\n"
        assert table_names() == TABLES

    @pytest.mark.parametrize("target", ["nonsense", "9999", "head+1"])
    def test_an_unknown_revision_is_one_line(
        self, runner: CliRunner, backend: str, target: str
    ) -> None:
        line = assert_one_error_line(invoke(runner, "migrate", target))
        assert target.split("+")[0] in line or "head" in line, line

    @pytest.mark.parametrize(
        ("uri", "message"),
        [
            ("mysql://root:hunter2@localhost/pamps", "db.uri: mysql is not supported"),
            ("mariadb+pymysql://root:hunter2@db/pamps", "db.uri: mariadb is not supported"),
            ("postgres://u:hunter2@db/pamps", "db.uri: postgres is not supported"),
            ("hunter2", "db.uri is not a database URL"),
        ],
    )
    def test_an_unsupported_url_is_one_line_without_the_password(
        self, runner: CliRunner, backend: str, database_url: str, uri: str, message: str
    ) -> None:
        settings.set("db.uri", uri)
        try:
            for args in [["migrate"], ["user-list"], ["reset-db", "-f"]]:
                line = assert_one_error_line(invoke(runner, *args))
                assert line.startswith(f"Error: {message}"), line
                assert "hunter2" not in line
            with pytest.raises(ConfigError, match=r"db\.uri"):
                create_app()
        finally:
            settings.set("db.uri", database_url)
            dispose_engines()


class TestShell:
    def test_stdlib_console_when_ipython_is_missing(
        self, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, backend: str
    ) -> None:
        monkeypatch.setitem(sys.modules, "IPython", None)  # import fails
        assert_ok(invoke(runner, "create-user", "alice@example.com", "alice", PASSWORD))
        lines = [
            "print(type(engine).__name__, settings.current_env)",
            "print(settings.db.uri == engine.url.render_as_string(hide_password=False))",
            "print(session.bind is engine, select is __import__('sqlmodel').select)",
            "print(User.__tablename__, Post.__tablename__)",
            "print([u.username for u in session.scalars(select(User))])",
            "print([type(u).__name__ for u in session.exec(select(User)).all()])",
            "1 / 0",
        ]
        result = invoke(runner, "shell", input="\n".join(lines) + "\n")
        assert_ok(result)
        assert result.output.count("Traceback") == 1  # the 1 / 0 typed in the console
        # The stdlib console prompts on stdout: one ">>> " per line read.
        assert result.stdout.split(">>> ") == [
            "",
            "Engine testing\n",
            "True\n",
            "True True\n",
            "user post\n",
            "['alice']\n",
            "['User']\n",
            "",
            "",
        ]
        # An error shows its own traceback, not the missing IPython first.
        assert "ZeroDivisionError" in result.stderr
        assert "IPython" not in result.stderr
        assert "another exception occurred" not in result.stderr
        banner = next(line for line in result.stderr.splitlines() if "Pamps shell" in line)
        for name in ("settings", "engine", "select", "session", "User", "Post"):
            assert re.search(rf"\b{name}\b", banner), name

    def test_ipython_when_present(
        self, runner: CliRunner, monkeypatch: pytest.MonkeyPatch, backend: str
    ) -> None:
        calls: list[dict[str, Any]] = []
        fake = types.ModuleType("IPython")
        fake.start_ipython = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "IPython", fake)
        result = invoke(runner, "shell")
        assert_ok(result)
        assert len(calls) == 1
        namespace = calls[0]["user_ns"]
        assert namespace["settings"] is settings
        assert str(namespace["engine"].url) == str(get_engine().url)
        assert namespace["session"].bind is namespace["engine"]
        assert {"select", "User", "Post"} <= set(namespace)


class TestServe:
    @pytest.fixture
    def runs(self, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []

        def fake_run(app: str, **kwargs: Any) -> None:
            calls.append({"app": app, **kwargs})

        monkeypatch.setattr(uvicorn, "run", fake_run)
        return calls

    def test_workers_size_their_pools_for_their_number(
        self, runner: CliRunner, runs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PAMPS_SERVER__WORKERS", "1")  # restored afterwards
        assert_ok(invoke(runner, "serve", "--workers", "3"))
        assert runs[0]["workers"] == 3
        assert os.environ["PAMPS_SERVER__WORKERS"] == "3"

    def test_defaults_come_from_settings(
        self, runner: CliRunner, runs: list[dict[str, Any]]
    ) -> None:
        assert_ok(invoke(runner, "serve"))
        [call] = runs
        assert call["app"] == "pamps.app:app"
        assert call["http"] == "pamps.server:LimitedHttpToolsProtocol"
        assert (call["host"], call["port"], call["workers"], call["reload"]) == (
            settings.server.host,
            settings.server.port,
            settings.server.workers,
            False,
        )
        # X-Forwarded-For is believed from the configured proxies only.
        assert (call["proxy_headers"], call["forwarded_allow_ips"]) == (True, "127.0.0.1")

    def test_forwarded_allow_ips_setting(
        self, runner: CliRunner, runs: list[dict[str, Any]]
    ) -> None:
        saved = settings.server.forwarded_allow_ips
        settings.set("server.forwarded_allow_ips", "10.0.0.0/8")
        try:
            assert_ok(invoke(runner, "serve"))
        finally:
            settings.set("server.forwarded_allow_ips", saved)
        assert runs[0]["forwarded_allow_ips"] == "10.0.0.0/8"

    def test_options(self, runner: CliRunner, runs: list[dict[str, Any]]) -> None:
        assert_ok(invoke(runner, "serve", "--host", "0.0.0.0", "--port", "9001", "--workers", "3"))
        assert_ok(invoke(runner, "serve", "--reload"))
        assert [(c["host"], c["port"], c["workers"], c["reload"]) for c in runs] == [
            ("0.0.0.0", 9001, 3, False),
            (settings.server.host, settings.server.port, None, True),
        ]


class TestUnreachableDatabase:
    @pytest.fixture
    def unreachable(self, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        # A terminal console, so the colour of the line can be checked.
        monkeypatch.setattr(
            cli_module,
            "err_console",
            Console(stderr=True, force_terminal=True, color_system="standard", width=1000),
        )
        settings.set("db.uri", UNREACHABLE)
        try:
            yield
        finally:
            settings.set("db.uri", database_url)
            dispose_engines()

    @pytest.mark.parametrize(
        "args",
        [
            ["user-list"],
            ["create-user", "alice@example.com", "alice", PASSWORD],
            ["reset-db", "-f"],
            ["migrate"],
        ],
        ids=lambda args: args[0],
    )
    def test_one_red_line(
        self, runner: CliRunner, backend: str, unreachable: None, args: list[str]
    ) -> None:
        result = invoke(runner, *args)
        assert_one_error_line(result, "database error")
        assert "\x1b[1;31mError:" in result.stderr
        assert PASSWORD not in result.output

    def test_later_commands_use_the_restored_database(
        self, runner: CliRunner, backend: str, database_url: str
    ) -> None:
        settings.set("db.uri", UNREACHABLE)
        try:
            assert invoke(runner, "user-list").exit_code == 1
        finally:
            settings.set("db.uri", database_url)
            dispose_engines()
        assert_ok(invoke(runner, "user-list"))


# Production refuses to start with a bad secret key -------------------------


# Production counts rate limits in a store every host shares.
SHARED_LIMITS = "redis://127.0.0.1:6379/0"


def run_in_production(args: list[str], secret_key: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAMPS_")}
    env["PAMPS_ENV"] = "production"
    env["PAMPS_RATELIMIT__STORAGE_URI"] = SHARED_LIMITS
    if secret_key is not None:
        env["PAMPS_SECURITY__SECRET_KEY"] = secret_key
    return subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


IMPORT_APP = [sys.executable, "-c", "import pamps.app"]
UVICORN_IMPORT = [
    sys.executable,
    "-c",
    "from uvicorn.importer import import_from_string; import_from_string('pamps.app:app')",
]
PAMPS = str(Path(sys.executable).parent / "pamps")
BAD_KEYS = {
    "missing": None,
    "empty": "",
    "short": "a1b2c3d4e5f6",
    "numeric": 1234567890123456789012345678901234567890,
    "digits": "1234567890123456789012345678901234567890",
    "default": "dev-only-insecure-key-change-me-0123456789abcdef",
    "testing-default": "testing-only-insecure-key-0123456789abcdef012345",
    "workshop": "secret",
}


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The production settings, in place of the process's own, for this test."""
    production = settings.from_env("production")
    production.set("ratelimit.storage_uri", SHARED_LIMITS)
    monkeypatch.setattr(config, "settings", production)
    return production


@pytest.mark.parametrize("key", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_production_refuses_a_bad_secret_key(production: Any, key: object) -> None:
    production.set("security.secret_key", key)
    with pytest.raises(ConfigError, match="secret_key") as error:
        config.check_settings()
    assert "\n" not in str(error.value)


def test_production_accepts_a_random_key(production: Any) -> None:
    key = secrets.token_hex(32)
    production.set("security.secret_key", key)
    config.check_settings()
    assert production.security.secret_key == key


def test_production_refuses_rate_limits_counted_in_each_process(production: Any) -> None:
    production.set("security.secret_key", secrets.token_hex(32))
    production.set("ratelimit.storage_uri", "memory://")
    with pytest.raises(ConfigError, match="PAMPS_RATELIMIT__STORAGE_URI=redis://") as error:
        config.check_settings()
    assert "\n" not in str(error.value)
    production.set("ratelimit.enabled", False)  # no limits at all: nothing to share
    config.check_settings()


def test_outside_production_a_missing_key_becomes_a_random_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    testing = settings.from_env("testing")
    monkeypatch.setattr(config, "settings", testing)
    testing.set("security.secret_key", None)
    config.check_settings()
    assert len(testing.security.secret_key) == 64


# The same refusal from the real entry points, in processes of their own (few:
# each one imports the whole application).


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (IMPORT_APP, None),
        (IMPORT_APP, BAD_KEYS["default"]),
        # From the environment, digits arrive as a number (Dynaconf parses them).
        (UVICORN_IMPORT, BAD_KEYS["digits"]),
        ([PAMPS, "user-list"], BAD_KEYS["short"]),
    ],
    ids=["import-missing", "import-default", "uvicorn-numeric", "cli-short"],
)
def test_production_process_refuses_a_bad_secret_key(args: list[str], key: str | None) -> None:
    if args[0] == PAMPS and not Path(PAMPS).exists():
        pytest.skip("the pamps console script is not installed")
    result = run_in_production(args, key)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "secret_key" in lines[0]
    assert result.stdout == ""


def test_production_process_starts_with_a_random_key() -> None:
    key = secrets.token_hex(32)
    while key.isdigit():  # pragma: no cover - astronomically unlikely
        key = secrets.token_hex(32)
    result = run_in_production(UVICORN_IMPORT, key)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [IMPORT_APP, [PAMPS, "user-list"]], ids=["import", "cli"])
@pytest.mark.parametrize("name", ["prod", "staging"])
def test_an_unknown_environment_is_refused_with_one_line(args: list[str], name: str) -> None:
    if args[0] == PAMPS and not Path(PAMPS).exists():
        pytest.skip("the pamps console script is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAMPS_")}
    env |= {"PAMPS_ENV": name, "PAMPS_SECURITY__SECRET_KEY": secrets.token_hex(32)}
    result = subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1
    expected = (
        f"PAMPS_ENV={name} is not an environment; use one of development, testing, production"
    )
    assert ANSI.sub("", result.stderr).splitlines() == [
        f"Error: {expected}" if args[0] == PAMPS else f"pamps: configuration error: {expected}"
    ]
    assert result.stdout == ""
