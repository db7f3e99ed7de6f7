"""Settings, layered by Dynaconf.

Order, later wins: pamps/default.toml (shipped with the package),
settings.toml, .secrets.toml, then PAMPS_* environment variables (``__`` for
nesting, e.g. ``PAMPS_DB__URI``). The environment section is chosen by
``PAMPS_ENV`` (development, testing or production).

Read values at call time (``settings.db.uri``), never copy them into module
globals, so that tests and operators can change them. Code that runs on
every request reads through :func:`setting`, which remembers each value until
the settings change ("settings reads" row of docs/performance.md); the
middleware reads its few values once, when the app starts serving. Change
settings with ``settings.set`` (or another of Dynaconf's methods), never by
writing into a section in place.
"""

import os
import secrets
from typing import Any

from dynaconf import Dynaconf, Validator

HERE = os.path.dirname(os.path.abspath(__file__))

# Secret keys that ship in this repository or in the workshop; never valid in
# production.
KNOWN_DEFAULT_KEYS = frozenset(
    {
        "dev-only-insecure-key-change-me-0123456789abcdef",
        "testing-only-insecure-key-0123456789abcdef012345",
        "secret",
        "changeme",
        "change-me",
        "insecure",
        "your-secret-key",
        # deploy/secrets/pamps.toml.example and deploy/k8s/secret.yaml
        "EXAMPLE-ONLY-replace-with-openssl-rand-hex-32-output",
    }
)
MIN_SECRET_KEY_LENGTH = 32

# Values read through setting(), by dotted path; emptied whenever a method
# of PampsSettings below may have changed any value.
_remembered: dict[str, Any] = {}


class PampsSettings(Dynaconf):
    """Dynaconf's settings, forgetting what :func:`setting` remembers whenever
    they may change."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        _remembered.clear()

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        _remembered.clear()

    def configure(self, *args: Any, **kwargs: Any) -> None:
        super().configure(*args, **kwargs)
        _remembered.clear()


def _forgetting(name: str) -> Any:
    """Dynaconf's method ``name``, then forget the remembered values."""

    def method(self: PampsSettings, *args: Any, **kwargs: Any) -> Any:
        try:
            return Dynaconf.__getattr__(self, name)(*args, **kwargs)
        finally:
            _remembered.clear()

    method.__name__ = name
    return method


# Every method of Dynaconf's that changes values.
for _name in ("set", "unset", "update", "reload", "setenv", "load_file", "clean"):
    setattr(PampsSettings, _name, _forgetting(_name))


settings = PampsSettings(
    envvar_prefix="PAMPS",
    preload=[os.path.join(HERE, "default.toml")],
    settings_files=["settings.toml", ".secrets.toml"],
    environments=["development", "production", "testing"],
    env_switcher="PAMPS_ENV",
    env="development",
    load_dotenv=False,
    # Nested tables merge: settings.toml can set db.uri and keep db.pool_size.
    merge_enabled=True,
    validators=[
        Validator("db.uri", must_exist=True, is_type_of=str),
        Validator("security.algorithm", is_in=["HS256", "HS384", "HS512"]),
        Validator(
            "security.access_token_expire_minutes",
            "security.refresh_token_expire_minutes",
            is_type_of=int,
            gt=0,
        ),
        Validator("posts.max_length", is_type_of=int, gt=0),
        Validator(
            "mastodon.page_cache",
            "mastodon.token_cache",
            is_type_of=int,
            gte=0,
        ),
        Validator(
            "server.max_body_size",
            "server.max_header_size",
            "server.max_headers",
            is_type_of=int,
            gt=0,
        ),
        Validator("server.body_timeout", is_type_of=(int, float), gt=0),
        Validator("server.cors_origins", is_type_of=(list, str)),
        Validator("db.replicas", is_type_of=(list, str)),
        Validator(
            "db.replica_max_lag_seconds", "db.replica_check_seconds", is_type_of=(int, float), gt=0
        ),
        Validator("server.shutdown_timeout", is_type_of=(int, float), gt=0),
        Validator("metrics.enabled", "logging.access_log", is_type_of=bool),
        Validator("metrics.port", is_type_of=int, gte=0, lte=65535),
        Validator("metrics.host", is_type_of=str, len_min=1),
        Validator("logging.format", is_in=["plain", "json"]),
    ],
)


ENVIRONMENTS = ("development", "testing", "production")
MISSING = object()


def setting(path: str) -> Any:
    """The value of the dotted ``path`` (``"posts.max_length"``), for code
    that runs on every request: a Dynaconf read costs a few microseconds, so
    each value is remembered until the settings change. With
    ``server.remember_settings`` false every call reads Dynaconf."""
    value = _remembered.get(path, MISSING)
    if value is MISSING:
        value = settings[path]  # KeyError for a path that does not exist
        if settings.server.remember_settings:
            _remembered[path] = value
    return value


class ConfigError(Exception):
    """Settings that the service cannot run with; the message is one line."""


def check_environment() -> None:
    # An unknown PAMPS_ENV (a typo of "production") would silently run with
    # the defaults, a random secret key per worker among them.
    env = str(settings.current_env).lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(
            f"PAMPS_ENV={settings.current_env} is not an environment; use one of "
            + ", ".join(ENVIRONMENTS)
        )


def check_database_uri() -> None:
    """Only SQLite and PostgreSQL URLs; the URL itself is never echoed (it may
    hold a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(str(settings.db.uri)).get_backend_name()
    except ArgumentError:
        raise ConfigError(
            "db.uri is not a database URL (sqlite:///FILE or postgresql://...)"
        ) from None
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"db.uri: {backend} is not supported; use sqlite:///FILE or postgresql://..."
        )


def check_pool() -> None:
    """``db.pool_size`` a positive whole number or "auto"; ``db.max_overflow``
    zero or more, or "auto"."""
    for name, least in (("pool_size", 1), ("max_overflow", 0)):
        value = settings.db[name]
        if str(value).lower() == "auto":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f'db.{name} must be "auto" or a whole number >= {least}')


def cors_origins() -> list[str]:
    """``server.cors_origins`` as a list: a TOML list, or from the environment
    a plain string of one origin or several separated by commas."""
    value = settings.server.cors_origins
    if isinstance(value, str):
        return [origin.strip() for origin in value.split(",") if origin.strip()]
    return [str(origin) for origin in value]


def check_secret_key() -> None:
    """Refuse to run production with a missing, shipped, short or numeric key.

    Other environments get a development key from .secrets.toml.
    """
    key = settings.get("security.secret_key")
    production = settings.current_env.lower() == "production"
    if (key is None or key == "") and not production:
        # Outside production a missing key (e.g. running away from the
        # repository's .secrets.toml) gets a random one for this process:
        # tokens simply stop working after a restart.
        settings.set("security.secret_key", secrets.token_hex(32))
        return
    if key is None or key == "":
        raise ConfigError(
            "security.secret_key is not set; set PAMPS_SECURITY__SECRET_KEY "
            "(e.g. `openssl rand -hex 32`)"
        )
    if not isinstance(key, str):
        # Dynaconf parses PAMPS_SECURITY__SECRET_KEY=12345 as an int.
        raise ConfigError("security.secret_key must be a string, not a number")
    if not production:
        return
    if key in KNOWN_DEFAULT_KEYS:
        raise ConfigError(
            "security.secret_key is a published development value; "
            "set PAMPS_SECURITY__SECRET_KEY to a fresh random value"
        )
    if key.isdigit():
        raise ConfigError("security.secret_key must not be only digits")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"security.secret_key is too short ({len(key)} characters); "
            f"use at least {MIN_SECRET_KEY_LENGTH}"
        )


def replica_uris() -> list[str]:
    """``db.replicas`` as a list: a TOML list, or from the environment a plain
    string of one URI or several separated by commas."""
    value = settings.db.get("replicas") or []
    if isinstance(value, str):
        return [uri.strip() for uri in value.split(",") if uri.strip()]
    return [str(uri) for uri in value]


def check_replicas() -> None:
    """Read replicas are PostgreSQL streaming replicas of a PostgreSQL primary."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    uris = replica_uris()
    if not uris:
        return
    if make_url(str(settings.db.uri)).get_backend_name() != "postgresql":
        raise ConfigError(
            "db.replicas needs a PostgreSQL db.uri: SQLite has no replicas "
            "(leave db.replicas empty)"
        )
    for number, uri in enumerate(uris, 1):
        try:
            backend = make_url(uri).get_backend_name()
        except ArgumentError:
            backend = None
        if backend != "postgresql":
            # Its position, never the URI itself (it may hold a password).
            raise ConfigError(f"db.replicas: replica {number} is not a postgresql://... URL")


def check_rate_limit_storage() -> None:
    """Production counts rate limits where every worker and host sees them.

    ``memory://`` counts in each process: behind a load balancer, or with
    several workers, a client would get the limit once per process, and the
    host that refuses a login would not be the one it tries next.
    """
    if settings.current_env.lower() != "production" or not settings.ratelimit.enabled:
        return
    if str(settings.ratelimit.storage_uri).startswith(("memory", "async+memory")):
        raise ConfigError(
            "ratelimit.storage_uri is memory://, counted in each process; in production "
            "set PAMPS_RATELIMIT__STORAGE_URI=redis://... shared by every worker and host "
            "(or PAMPS_RATELIMIT__ENABLED=false)"
        )


def check_settings() -> None:
    """Validate settings once at start-up; raise ConfigError with one line."""
    from dynaconf.validator import ValidationError

    try:
        settings.validators.validate()
    except ValidationError as exc:
        raise ConfigError(str(exc).splitlines()[0]) from None
    check_environment()
    check_database_uri()
    check_pool()
    check_secret_key()
    check_replicas()
    check_rate_limit_storage()
