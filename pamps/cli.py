"""The ``pamps`` command line: administration of a Pamps installation."""

import code
import functools
import math
import os
import signal
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import sqlmodel
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col

from pamps import models
from pamps.config import ConfigError, check_settings, settings
from pamps.database import make_engine
from pamps.models import User, UserCreate
from pamps.security import hash_password
from pamps.seed import seed_command

cli = typer.Typer(
    name="pamps",
    help="Pamps administration.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


class CLIError(Exception):
    """An error shown to the admin as one line."""


def fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def one_line_errors(command: F) -> F:
    """Turn expected failures into one red line and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            check_settings()
            return command(*args, **kwargs)
        except (CLIError, ConfigError) as error:
            raise fail(str(error)) from None
        except SQLAlchemyError as error:
            if not schema_exists():
                raise fail("the database has no schema yet: run `pamps migrate`") from None
            reason = str(getattr(error, "orig", error)).strip().splitlines()
            raise fail(f"database error: {reason[0] if reason else type(error).__name__}") from None

    return wrapper  # type: ignore[return-value]


def schema_exists() -> bool:
    """Whether Alembic has ever migrated the database (True when that cannot
    be told, e.g. the database is unreachable: the error says why)."""
    try:
        with make_engine().connect() as conn:
            return current_revision(conn) is not None
    except SQLAlchemyError:
        return True


def current_revision(conn: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def migrations_config(uri: str | None = None) -> Any:
    """An Alembic Config for this project's migrations folder."""
    from alembic.config import Config

    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        ini = base / "alembic.ini"
        if ini.is_file() and (base / "migrations").is_dir():
            config = Config(str(ini))
            config.set_main_option("script_location", str(base / "migrations"))
            config.attributes["configure_logger"] = False
            if uri:
                config.attributes["uri"] = uri
            return config
    raise CLIError("migrations not found: run pamps from the project folder")


@cli.command()
@one_line_errors
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations (alembic upgrade)."""
    from alembic import command
    from alembic.util import CommandError

    with make_engine().connect() as conn:
        before = current_revision(conn)
    try:
        command.upgrade(migrations_config(), revision)
    except CommandError as error:  # e.g. "Can't locate revision identified by 'x'"
        raise CLIError(str(error).splitlines()[0]) from None
    except AssertionError:  # Alembic's answer to a relative target past the head
        raise CLIError(f"there is no revision {revision!r} to migrate to") from None
    with make_engine().connect() as conn:
        after = current_revision(conn)
    if after == before:
        # `migrate` only upgrades: a target at or below the current revision
        # changes nothing, and says so.
        only = "" if revision in ("head", after) else " (`pamps migrate` only upgrades)"
        console.print(
            f"Nothing to migrate: the database is already at {after or 'base'}{only}.",
            soft_wrap=True,
        )
    else:
        console.print(
            f"[green]Database migrated to {revision} ({before or 'empty'} -> {after}).[/]",
            soft_wrap=True,
        )


@cli.command()
@one_line_errors
def shell() -> None:
    """Open a Python shell with settings, engine, select, session and models loaded."""
    engine = make_engine()
    session = Session(engine)
    namespace: dict[str, Any] = {
        "settings": settings,
        "engine": engine,
        # SQLModel's: session.exec(select(User)).all() gives User objects.
        "select": sqlmodel.select,
        "session": session,
        **{name: getattr(models, name) for name in models.__all__},
    }
    banner = f"Pamps shell: {', '.join(sorted(namespace))}"
    try:
        from IPython import start_ipython
    except ImportError:
        start_ipython = None
    # Outside the except block: otherwise every error typed in the console
    # would be shown "during handling of" the missing IPython.
    if start_ipython is None:
        code.interact(banner=banner, local=namespace)
    else:
        console.print(banner)
        start_ipython(argv=["--no-banner"], user_ns=namespace)
    session.close()


@cli.command("user-list")
@one_line_errors
def user_list() -> None:
    """List all users in a table."""
    table = Table(title="Pamps users")
    for column in ("id", "username", "email", "posts", "created at"):
        table.add_column(column)
    with Session(make_engine()) as session:
        for user in session.scalars(select(User).order_by(col(User.id))):
            table.add_row(
                str(user.id),
                user.username,
                user.email,
                str(user.posts_count),
                f"{user.created_at:%Y-%m-%d %H:%M}",
            )
    console.print(table)


@cli.command("create-user")
@one_line_errors
def create_user(
    email: str,
    username: str,
    password: Annotated[
        str | None,
        typer.Argument(help="Left out, it is asked for without echo (and off shell history)."),
    ] = None,
    bio: Annotated[str | None, typer.Option(help="Short biography.")] = None,
    avatar: Annotated[str | None, typer.Option(help="Avatar URL.")] = None,
) -> None:
    """Create a user, validated exactly as registration through the API."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(email=email, username=username, password=password, bio=bio, avatar=avatar)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "input"
        raise CLIError(f"{field}: {first['msg'].removeprefix('Value error, ')}") from None
    with Session(make_engine()) as session:
        same_name = func.lower(col(User.username)) == data.username.lower()
        if session.scalars(select(User).where(same_name)).first():
            raise CLIError(f"username {data.username!r} is already taken")
        if session.scalars(select(User).where(col(User.email) == data.email)).first():
            raise CLIError(f"email {data.email!r} is already registered")
        user = User.model_validate(data, update={"password": hash_password(data.password)})
        session.add(user)
        try:
            session.commit()
        except IntegrityError:
            raise CLIError("username or email is already registered") from None
        console.print(f"[green]Created user {user.username!r} (id {user.id}).[/]")


PAMPS_FUNCTIONS = """SELECT p.oid::regprocedure::text FROM pg_proc AS p
    JOIN pg_namespace AS n ON n.oid = p.pronamespace
    WHERE n.nspname = current_schema() AND p.proname LIKE 'pamps\\_%'"""


@cli.command("reset-db")
@one_line_errors
def reset_db(
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Do not ask for confirmation.")
    ] = False,
) -> None:
    """Drop every table (data and Alembic's version table); `pamps migrate` rebuilds."""
    engine = make_engine()
    if not force:
        typer.confirm(f"Drop every table in {engine.url.render_as_string()}?", abort=True)
    metadata = MetaData()
    with warnings.catch_warnings():
        # SQLite cannot reflect the lower(username) index; dropping its table
        # drops it all the same, so the warning would only alarm the admin.
        warnings.filterwarnings("ignore", message=".*expression-based index")
        metadata.reflect(engine)
    metadata.drop_all(engine)
    if engine.dialect.name == "postgresql":
        # The counters' trigger functions (SQLite's triggers go with their tables).
        with engine.begin() as conn:
            for name in conn.scalars(text(PAMPS_FUNCTIONS)):
                conn.execute(text(f"DROP FUNCTION {name}"))
    console.print("[green]Database emptied. Run `pamps migrate` to rebuild the schema.[/]")


@cli.command()
@one_line_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (server.port).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (server.workers).")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    access_log: Annotated[
        bool | None, typer.Option(help="Log every request (logging.access_log).")
    ] = None,
) -> None:
    """Run the API with Uvicorn."""
    import uvicorn

    from pamps import logs, metrics, server

    if workers and not reload:
        # The workers size their pools for their number (db.pool_size "auto").
        os.environ["PAMPS_SERVER__WORKERS"] = str(workers)
    if access_log is not None:
        settings.set("logging.access_log", access_log)
        os.environ["PAMPS_LOGGING__ACCESS_LOG"] = str(access_log).lower()  # for the workers
    processes = 1 if reload else (workers or int(settings.server.workers))
    options: dict[str, Any] = {}
    log_config = logs.uvicorn_log_config()
    if log_config is not None:
        options["log_config"] = log_config
    # SIGTERM is how a host is stopped: Uvicorn finishes what it accepted,
    # then raises the signal again, which ends the process with status 0.
    signal.signal(signal.SIGTERM, exit_quietly)
    with metrics.multiprocess_dir(processes):
        uvicorn.run(
            "pamps.app:app",
            host=host or str(settings.server.host),
            port=port or int(settings.server.port),
            workers=None if reload else processes,
            reload=reload,
            # In JSON the app writes the request records itself (pamps.logs).
            access_log=bool(settings.logging.access_log) and not logs.json_format(),
            timeout_graceful_shutdown=math.ceil(float(settings.server.shutdown_timeout)),
            # The client address (rate limits per address) comes from
            # X-Forwarded-For only when the peer is one of these proxies.
            proxy_headers=True,
            forwarded_allow_ips=str(settings.server.forwarded_allow_ips),
            # Limits on request heads (server.max_header_size, server.max_headers).
            http=server.PROTOCOL,
            **options,
        )


def exit_quietly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def main() -> None:
    cli()


# Demo data and benchmarks: `pamps seed --scale S1`.
cli.command("seed")(seed_command)
