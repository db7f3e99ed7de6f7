"""Alembic migrations on a fresh database of each backend, and the settings.

Every migration test gets a database of its own, so upgrading, downgrading
and corrupting it never touches the suite's shared database.
"""

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, String, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from pamps.cli import migrations_config
from pamps.database import engine_options
from pamps.models import SQLModel
from tests.conftest import create_database, drop_database

ROOT = Path(__file__).resolve().parent.parent
TABLES = {
    "user",
    "post",
    "social",
    "like",
    "session",
    "idempotency_key",
    "oauth_app",
    "oauth_token",
    "oauth_code",
}
REVISIONS = [
    ("0001", None, "initial: the user table"),
    ("0002", "0001", "post: posts and replies, with edit and soft-delete stamps"),
    ("0003", "0002", "social: who follows whom"),
    ("0004", "0003", "like: one like per user and post"),
    ("0005", "0004", "post: index of each user's visible posts, for the timeline and profiles"),
    (
        "0006",
        "0005",
        "session and idempotency_key: logins that can be ended, posts that are written once",
    ),
    ("0007", "0006", "oauth_app and oauth_token: apps and tokens of the Mastodon-compatible API"),
    ("0008", "0007", "oauth_code: authorization codes of the Mastodon-compatible API's OAuth"),
    ("0009", "0008", "user, post: counters kept in the rows by triggers"),
    ("0010", "0009", "social: a follow's counters locked in the order of the users' ids"),
]
HEAD = REVISIONS[-1][0]
# Alembic cannot reflect expression indexes on SQLite, so it skips comparing
# them (with a warning); their presence is checked through sqlite_master.
SKIPPED_ON_SQLITE = "expression-based index"


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of this test's own, with nothing in it."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = create_database(server)
    try:
        yield url
    finally:
        drop_database(server, url)


@pytest.fixture
def engine(fresh_url: str) -> Iterator[Engine]:
    engine = create_engine(fresh_url)
    yield engine
    engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(migrations_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(migrations_config(url), revision)


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def drift(engine: Engine, metadata: MetaData) -> list[Any]:
    """What autogenerate would write to turn the database into ``metadata``."""
    with engine.connect() as conn, warnings.catch_warnings():
        if engine.dialect.name == "sqlite":
            warnings.filterwarnings("ignore", message=f".*{SKIPPED_ON_SQLITE}")
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def index_sql(engine: Engine) -> dict[str, str]:
    """Each index's definition, as the database reports it."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            )
        else:
            rows = conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
            )
        return {name: " ".join(sql.split()) for name, sql in rows}


def copy_of_metadata() -> MetaData:
    copy = MetaData(naming_convention=SQLModel.metadata.naming_convention)
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


class TestRevisions:
    def test_one_linear_chain_with_descriptive_messages(self) -> None:
        script = ScriptDirectory.from_config(migrations_config())
        assert script.get_heads() == [HEAD]
        chain = [
            (rev.revision, rev.down_revision, rev.doc)
            for rev in reversed(list(script.walk_revisions("base", "heads")))
        ]
        assert chain == REVISIONS


class TestUpgradeDowngrade:
    def test_upgrade_downgrade_upgrade(self, fresh_url: str, engine: Engine) -> None:
        upgrade(fresh_url)
        assert tables(engine) == {*TABLES, "alembic_version"}
        assert current_revision(engine) == HEAD

        downgrade(fresh_url, "base")
        assert tables(engine) == {"alembic_version"}
        assert current_revision(engine) is None

        upgrade(fresh_url)
        assert tables(engine) == {*TABLES, "alembic_version"}
        assert current_revision(engine) == HEAD
        assert drift(engine, SQLModel.metadata) == []

    def test_every_step_up_and_down(self, fresh_url: str, engine: Engine) -> None:
        created: list[set[str]] = [
            *[{"user"}, {"post"}, {"social"}, {"like"}, set()],
            {"session", "idempotency_key"},
            {"oauth_app", "oauth_token"},
            {"oauth_code"},
            set(),
            set(),
        ]
        expected: set[str] = {"alembic_version"}
        for (revision, _, _), new in zip(REVISIONS, created, strict=True):
            upgrade(fresh_url, "+1")
            expected |= new
            assert current_revision(engine) == revision
            assert tables(engine) == expected
        for (_, previous, _), gone in zip(reversed(REVISIONS), reversed(created), strict=True):
            downgrade(fresh_url, "-1")
            expected -= gone
            assert current_revision(engine) == previous
            assert tables(engine) == expected

    def test_follow_counters_in_id_order(
        self, fresh_url: str, engine: Engine, backend: str
    ) -> None:
        """0010 changes PostgreSQL's follow trigger only (SQLite runs one
        write at a time); going down puts 0009's back."""
        query = (
            "SELECT prosrc FROM pg_proc WHERE proname = 'pamps_social_counters'"
            if backend == "postgresql"
            else "SELECT group_concat(sql, ';') FROM sqlite_master WHERE tbl_name = 'social'"
        )

        def definition() -> str:
            with engine.connect() as conn:
                return str(conn.execute(text(query)).scalar_one())

        upgrade(fresh_url, "0009")
        before = definition()
        upgrade(fresh_url, "0010")
        after = definition()
        downgrade(fresh_url, "0009")
        assert definition() == before
        if backend == "postgresql":
            assert "edge.from_id < edge.to_id" in after
            assert "edge.from_id < edge.to_id" not in before
        else:
            assert after == before

    def test_downgrade_keeps_earlier_data(self, fresh_url: str, engine: Engine) -> None:
        upgrade(fresh_url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    'INSERT INTO "user" (email, username, password, created_at) '
                    "VALUES ('a@example.com', 'alice', 'x', CURRENT_TIMESTAMP)"
                )
            )
        downgrade(fresh_url, "0001")
        upgrade(fresh_url)
        with engine.connect() as conn:
            assert conn.execute(text('SELECT username FROM "user"')).scalars().all() == ["alice"]

    def test_counters_are_counted_for_existing_rows(self, fresh_url: str, engine: Engine) -> None:
        """0009 counts what is already there; from then on the triggers count,
        and going back down leaves the rows as they were."""
        upgrade(fresh_url, "0008")
        with engine.begin() as conn:
            for name in ("ann", "bob"):
                conn.execute(
                    text(
                        'INSERT INTO "user" (email, username, password, created_at) '
                        "VALUES (:email, :name, 'x', CURRENT_TIMESTAMP)"
                    ),
                    {"email": f"{name}@example.com", "name": name},
                )
            post = "INSERT INTO post (text, date, user_id, parent_id, deleted_at) VALUES "
            conn.execute(text(post + "('one', CURRENT_TIMESTAMP, 1, NULL, NULL)"))
            conn.execute(text(post + "('gone', CURRENT_TIMESTAMP, 1, NULL, CURRENT_TIMESTAMP)"))
            conn.execute(text(post + "('reply', CURRENT_TIMESTAMP, 2, 1, NULL)"))
            conn.execute(text(post + "('gone reply', CURRENT_TIMESTAMP, 2, 1, CURRENT_TIMESTAMP)"))
            conn.execute(
                text("INSERT INTO social (from_id, to_id, date) VALUES (2, 1, CURRENT_TIMESTAMP)")
            )
            conn.execute(
                text('INSERT INTO "like" (user_id, post_id, date) VALUES (2, 1, CURRENT_TIMESTAMP)')
            )
        upgrade(fresh_url, "0009")
        users = 'SELECT posts_count, followers_count, following_count FROM "user" ORDER BY id'
        posts = "SELECT likes_count, replies_count FROM post ORDER BY id"
        with engine.connect() as conn:
            assert conn.execute(text(users)).all() == [(1, 1, 0), (1, 0, 1)]
            assert conn.execute(text(posts)).all() == [(1, 1), (0, 0), (0, 0), (0, 0)]
        with engine.begin() as conn:
            conn.execute(text('DELETE FROM "like"'))
            conn.execute(text("UPDATE post SET deleted_at = CURRENT_TIMESTAMP WHERE id = 3"))
        with engine.connect() as conn:
            assert conn.execute(text(users)).all() == [(1, 1, 0), (0, 0, 1)]
            assert conn.execute(text(posts)).all() == [(0, 0), (0, 0), (0, 0), (0, 0)]
        downgrade(fresh_url, "0008")
        with engine.begin() as conn:
            conn.execute(
                text('INSERT INTO "like" (user_id, post_id, date) VALUES (1, 1, CURRENT_TIMESTAMP)')
            )
            assert conn.execute(text("SELECT count(*) FROM post")).scalar_one() == 4


class TestModelsMatchMigrations:
    def test_no_drift(self, fresh_url: str, engine: Engine, backend: str) -> None:
        upgrade(fresh_url)
        with engine.connect() as conn, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
        skipped = {str(w.message) for w in caught if SKIPPED_ON_SQLITE in str(w.message)}
        if backend == "postgresql":
            assert skipped == set()
            return
        # SQLite: only the case-insensitive username index went uncompared;
        # the database itself shows it is there.
        assert skipped, "Alembic now compares expression indexes on SQLite: drop the workaround"
        assert all("ix_user_username_lower" in message for message in skipped)
        assert index_sql(engine)["ix_user_username_lower"] == (
            "CREATE UNIQUE INDEX ix_user_username_lower ON user (lower(username))"
        )

    def test_an_extra_column_is_detected(self, fresh_url: str, engine: Engine) -> None:
        upgrade(fresh_url)
        metadata = copy_of_metadata()
        metadata.tables["user"].append_column(Column("nickname", String(40)))
        [difference] = drift(engine, metadata)
        assert difference[0] == "add_column"
        assert (difference[2], difference[3].name) == ("user", "nickname")

    def test_a_changed_type_is_detected(self, fresh_url: str, engine: Engine) -> None:
        upgrade(fresh_url)
        metadata = copy_of_metadata()
        metadata.tables["user"].c.bio.type = String(1000)
        [[difference]] = drift(engine, metadata)
        assert difference[0] == "modify_type"
        assert (difference[2], difference[3]) == ("user", "bio")

    def test_a_missing_index_is_detected(
        self, fresh_url: str, engine: Engine, backend: str
    ) -> None:
        upgrade(fresh_url)
        names = [("like", "ix_like_post_id"), ("post", "ix_post_home")]
        if backend == "postgresql":  # SQLite cannot compare expression indexes
            names.append(("user", "ix_user_username_lower"))
        for table_name, name in names:
            metadata = copy_of_metadata()
            table = metadata.tables[table_name]
            table.indexes.remove(next(i for i in table.indexes if i.name == name))
            [difference] = drift(engine, metadata)
            assert difference[0] == "remove_index"
            assert difference[1].name == name

    def test_a_missing_migration_is_detected(self, fresh_url: str, engine: Engine) -> None:
        upgrade(fresh_url, "0003")
        differences = drift(engine, SQLModel.metadata)
        added = {d[1].name for d in differences if d[0] == "add_table"}
        assert added == {
            "like",
            "session",
            "idempotency_key",
            "oauth_app",
            "oauth_token",
            "oauth_code",
        }


class TestIndexes:
    def test_case_insensitive_unique_username_index(
        self, fresh_url: str, engine: Engine, backend: str
    ) -> None:
        upgrade(fresh_url)
        sql = index_sql(engine)["ix_user_username_lower"]
        assert sql.startswith("CREATE UNIQUE INDEX")
        expression = "lower((username)::text)" if backend == "postgresql" else "lower(username)"
        assert f"({expression})" in sql
        insert = text(
            'INSERT INTO "user" (email, username, password, created_at) '
            "VALUES (:email, :username, 'x', CURRENT_TIMESTAMP)"
        )
        with engine.begin() as conn:
            conn.execute(insert, {"email": "a@example.com", "username": "alice"})
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"email": "b@example.com", "username": "ALICE"})

    def test_partial_home_index(self, fresh_url: str, engine: Engine, backend: str) -> None:
        upgrade(fresh_url)
        sql = index_sql(engine)["ix_post_home"]
        if backend == "postgresql":
            assert sql == (
                "CREATE INDEX ix_post_home ON public.post USING btree (id) "
                "WHERE ((parent_id IS NULL) AND (deleted_at IS NULL))"
            )
        else:
            assert sql == (
                "CREATE INDEX ix_post_home ON post (id) "
                "WHERE parent_id IS NULL AND deleted_at IS NULL"
            )

    def test_every_model_index_exists(self, fresh_url: str, engine: Engine) -> None:
        upgrade(fresh_url)
        names = {
            index.name for table in SQLModel.metadata.tables.values() for index in table.indexes
        }
        assert names <= set(index_sql(engine))


# Settings ------------------------------------------------------------------


def settings_in_process(expression: str, **env: str) -> str:
    """``expression`` evaluated by a fresh process with only ``env`` for PAMPS_*."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAMPS_")}
    result = subprocess.run(
        [sys.executable, "-c", f"from pamps.config import settings; print({expression})"],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class TestSettings:
    def test_environment_switch_and_nested_overrides(self) -> None:
        # One process per case, all of them small: each shows one layer.
        show = "settings.current_env, settings.db.uri, settings.db.pool_size, settings.db.echo"
        assert settings_in_process(show) == "development sqlite:///pamps.db auto False"
        assert (
            settings_in_process(show, PAMPS_ENV="testing")
            == "testing sqlite:///pamps_test.db auto False"
        )
        uri = "postgresql://pamps:secret@db:5432/pamps"
        assert (
            settings_in_process(show, PAMPS_ENV="production", PAMPS_DB__URI=uri)
            == f"production {uri} auto False"
        )
        assert (
            settings_in_process(
                "settings.db.uri, settings.db.pool_size, settings.security.argon2_time_cost",
                PAMPS_ENV="testing",
                PAMPS_DB__POOL_SIZE="3",
            )
            == "sqlite:///pamps_test.db 3 1"
        )

    def test_plain_postgresql_uri_selects_psycopg(self) -> None:
        uri = "postgresql://pamps:secret@db:5432/pamps"
        engine = create_engine(uri, **engine_options(uri))
        assert engine.dialect.driver == "psycopg"
        engine.dispose()


class TestNewRevisions:
    def test_are_numbered_after_the_head_and_named_like_the_others(
        self, fresh_url: str, tmp_path: Path
    ) -> None:
        # A copy of the project's Alembic setup, so the new files go nowhere else.
        (tmp_path / "alembic.ini").write_text((ROOT / "alembic.ini").read_text())
        versions = tmp_path / "migrations" / "versions"
        versions.mkdir(parents=True)
        for name in ["env.py", "script.py.mako"]:
            (tmp_path / "migrations" / name).write_text((ROOT / "migrations" / name).read_text())
        for path in (ROOT / "migrations" / "versions").glob("0*.py"):
            (versions / path.name).write_text(path.read_text())
        config = Config(str(tmp_path / "alembic.ini"))
        config.set_main_option("script_location", str(tmp_path / "migrations"))
        config.attributes["configure_logger"] = False
        config.attributes["uri"] = fresh_url
        number = int(HEAD)

        command.revision(config, message="add a thing")
        command.upgrade(config, "head")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=f".*{SKIPPED_ON_SQLITE}")
            command.revision(config, message="Second one!", autogenerate=True)
        command.revision(config, message="explicit", rev_id="custom")

        new = sorted(
            p.name for p in versions.glob("*.py") if p.name[:4] > HEAD or "custom" in p.name
        )
        assert new == [
            f"{number + 1:04d}_add_a_thing.py",
            f"{number + 2:04d}_second_one.py",
            "custom_explicit.py",
        ]
        script = ScriptDirectory.from_config(config)
        assert script.get_revision(f"{number + 2:04d}").down_revision == f"{number + 1:04d}"
        assert script.get_revision(f"{number + 1:04d}").down_revision == HEAD
