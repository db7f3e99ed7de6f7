"""Alembic environment: the URI comes from Pamps settings, the target from
the SQLModel metadata, and batch mode lets SQLite alter tables."""

import re
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from pamps.config import settings
from pamps.models import SQLModel

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def database_uri() -> str:
    # A caller (tests, `pamps migrate`) may pass a URI explicitly.
    return str(config.attributes.get("uri") or settings.db.uri)


def number_revision(context: object, revision: object, directives: list[Any]) -> None:
    """New revisions continue the numbering (0001, 0002, ...) unless
    ``--rev-id`` gave one."""
    script = directives[0]
    if not getattr(script, "rev_id", None) or not re.fullmatch(r"[0-9a-f]{12}", script.rev_id):
        return  # an explicit --rev-id
    head = ScriptDirectory.from_config(config).get_current_head()
    script.rev_id = f"{int(head) + 1:04d}" if head and head.isdigit() else "0001"


def run_migrations_offline() -> None:
    context.configure(
        url=database_uri(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        dialect_opts={"paramstyle": "named"},
        process_revision_directives=number_revision,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(database_uri(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        process_revision_directives=number_revision,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
