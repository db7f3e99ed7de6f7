"""``pamps seed``: generate a realistic network straight into the database.

Users share one real password hash (so every one of them can log in), posts
are spread over the last year with ids in date order and about 20 % replies,
follows and likes lean towards popular accounts the way real networks do. The
same ``--seed`` gives the same rows (dates are anchored to the current UTC
day).

PostgreSQL is loaded with COPY inside one transaction: foreign keys, unique
constraints and secondary indexes of the four tables are dropped first and
rebuilt from their own catalog definitions afterwards (bulk building is far
cheaper than maintaining them row by row), the counters' triggers are off, users and
posts go through temporary tables so that each row is written once with its
counters, then sequences are moved past the
new ids and the tables vacuumed and analyzed. SQLite gets ``executemany`` in big
transactions, its triggers counting as rows arrive.
"""

import math
import os
import random
import time
from array import array
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from pamps.config import ConfigError, check_settings
from pamps.database import make_engine
from pamps.security import hash_password

SEED_PASSWORD = "pamps-seed-password"

# name: (users, posts, follows per user, likes). S1 has S2's and S3's shape
# (50 follows per user, 5 likes per post) on a smaller network, so that
# S1 -> S3 measures the network's growth alone: the timeline reads the newest
# posts of each followed user, so its cost follows the number of follows.
SCALES: dict[str, tuple[int, int, int, int]] = {
    "S0": (50, 300, 5, 600),
    "S1": (1_000, 10_000, 50, 50_000),
    "S2": (10_000, 200_000, 50, 1_000_000),
    "S3": (50_000, 1_000_000, 50, 5_000_000),
    "S4": (200_000, 5_000_000, 50, 10_000_000),
}

TABLES = ("user", "post", "social", "like")
REPLY_SHARE = 0.2
DAY = 86_400.0
YEAR = 365 * DAY
BATCH = 20_000

# Zipf exponents over the popularity ranking: who gets followed, who writes.
FOLLOW_SKEW = 1.0
AUTHOR_SKEW = 0.6

_WORDS = (
    "the a to and of in is it you that for on with this my was just so but be are have not "
    "at what all about like if your me get now up out one time day today new good great "
    "people love think know really still back going see work way want need make why how "
    "when who more much some very right here there again never always next last first "
    "python api fastapi postgres sqlite database query index cache server deploy release "
    "bug fix test code review merge branch commit docs coffee tea lunch weekend morning "
    "night music movie book game football rain sun city train travel home team meeting "
    "idea project launch design data cloud linux open source community conference talk "
    "learn teach workshop friends family happy tired busy finally maybe probably sure "
    "thanks please sorry wow lol nice cool awesome interesting weird funny true false"
)
WORDS = tuple(_WORDS.split())


class SeedError(Exception):
    """A seeding failure shown as one line."""


@dataclass
class SeedResult:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    password: str = SEED_PASSWORD
    disk_bytes: int | None = None  # the database's size once seeded


# -- generation --------------------------------------------------------------


def _cum_weights(n: int, skew: float) -> list[float]:
    """Cumulative Zipf weights 1/rank**skew for ranks 1..n."""
    total = 0.0
    out = []
    for rank in range(1, n + 1):
        total += rank**-skew
        out.append(total)
    return out


class _Network:
    """Draws every row from one Random, in a fixed order."""

    def __init__(
        self,
        users: int,
        posts: int,
        follows_per_user: int,
        likes: int,
        seed: int,
        end: datetime,
        date_format: Callable[[float], str],
    ) -> None:
        self.n_users = users
        self.n_posts = posts
        self.follows = follows_per_user
        self.likes = likes
        self.rng = random.Random(seed)
        self.fmt = date_format
        self.end = end.timestamp()
        self.start = self.end - YEAR
        # Popularity: rank r (0 = most popular) is user popular[r].
        self.popular = list(range(1, users + 1))
        self.rng.shuffle(self.popular)
        self.rank = array("i", [0]) * (users + 1)
        for r, uid in enumerate(self.popular):
            self.rank[uid] = r
        # Sentence fragments, combined at random: cheaper than drawing every word.
        self.fragments = [
            " ".join(self.rng.choices(WORDS, k=self.rng.randint(2, 9))) for _ in range(4096)
        ]
        # Filled by posts(), used by likes().
        self.post_ts = array("d")
        self.post_weight = array("d")

    def username(self, uid: int) -> str:
        return f"user{uid:06d}"

    def text(self, parts: int = 3) -> str:
        """One to ``parts`` random fragments, 2 to 9 words each."""
        rng = self.rng
        fragments = self.fragments
        count = 1 + int(rng.random() * parts)
        words = " ".join([fragments[rng.getrandbits(12)] for _ in range(count)])
        return words.capitalize()

    def users(self, password_hash: str) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        # Accounts opened over the month before the first post.
        span = 30 * DAY / max(self.n_users, 1)
        base = self.start - 30 * DAY
        for uid in range(1, self.n_users + 1):
            name = self.username(uid)
            bio = self.text(2) if rng.random() < 0.6 else None
            avatar = f"https://avatars.example.com/{name}.png" if rng.random() < 0.5 else None
            created = self.fmt(base + (uid - 1 + rng.random()) * span)
            yield (uid, f"{name}@example.com", name, avatar, bio, password_hash, created)

    def posts(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        n = self.n_posts
        authors = rng.choices(
            self.popular, cum_weights=_cum_weights(self.n_users, AUTHOR_SKEW), k=n
        )
        author_of = array("i", [0]) * (n + 1)
        # Recent posts by popular authors, candidates for "popular" parents.
        hot: list[int] = []
        hot_rank = max(1, self.n_users // 50)
        span = YEAR / max(n, 1)
        self.post_ts = array("d", [0.0]) * (n + 1)
        self.post_weight = array("d", [0.0]) * (n + 1)
        for pid in range(1, n + 1):
            uid = authors[pid - 1]
            author_of[pid] = uid
            ts = self.start + (pid - 1 + rng.random()) * span  # strictly increasing
            self.post_ts[pid] = ts
            parent = None
            if pid > 1 and rng.random() < REPLY_SHARE:
                if hot and rng.random() < 0.35:
                    parent = hot[-1 - min(int(rng.expovariate(1 / 20)), len(hot) - 1)]
                else:
                    back = 1 + int(rng.expovariate(1 / 50))
                    parent = max(1, pid - back)
            rank = self.rank[uid]
            if parent is None:
                text = self.text()
                if rank < hot_rank:
                    hot.append(pid)
                    if len(hot) > 2000:
                        del hot[:1000]
            else:
                text = f"@{self.username(author_of[parent])} {self.text(2)}"
            # How likeable: the author's popularity, a random factor, replies less.
            luck = rng.random()
            weight = (rank + 1) ** -0.8 * (0.2 + 5 * luck * luck * luck * luck)
            self.post_weight[pid] = weight * (0.2 if parent else 1.0)
            yield (pid, text, self.fmt(ts), uid, parent)

    def social(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        n = self.n_users
        per_user = self.follows
        popular = self.popular
        cum = _cum_weights(n, FOLLOW_SKEW)
        sid = 0
        for uid in range(1, n + 1):
            chosen: set[int] = set()
            order: list[int] = []
            for _ in range(6):
                if len(order) >= per_user:
                    break
                for target in rng.choices(popular, cum_weights=cum, k=2 * per_user):
                    if target != uid and target not in chosen:
                        chosen.add(target)
                        order.append(target)
                        if len(order) == per_user:
                            break
            if len(order) < per_user:  # tiny networks: fill up uniformly
                rest = [t for t in range(1, n + 1) if t != uid and t not in chosen]
                order.extend(rng.sample(rest, per_user - len(order)))
            for target in order:
                sid += 1
                yield (sid, uid, target, self.fmt(rng.uniform(self.start, self.end)))

    def like_counts(self) -> array:
        """Likes per post: proportional to weight, at most one per user, exact total."""
        n, cap, total = self.n_posts, self.n_users, self.likes
        weights = self.post_weight
        wsum = math.fsum(weights)
        counts = array("i", [0]) * (n + 1)
        if wsum > 0:
            acc, before = 0.0, 0
            for pid in range(1, n + 1):
                acc += weights[pid]
                upto = int(total * acc / wsum)
                counts[pid] = min(cap, upto - before)
                before = upto
        # Caps leave a few likes over: hand them out to random posts with room.
        given = sum(counts)
        rng = self.rng
        while given < total:
            pid = rng.randint(1, n)
            if counts[pid] < cap:
                counts[pid] += 1
                given += 1
        while given > total:
            pid = rng.randint(1, n)
            if counts[pid] > 0:
                counts[pid] -= 1
                given -= 1
        return counts

    def like_rows(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        counts = self.like_counts()
        lid = 0
        end = self.end
        fmt = self.fmt
        users = range(1, self.n_users + 1)
        for pid in range(1, self.n_posts + 1):
            k = counts[pid]
            if not k:
                continue
            ts = self.post_ts[pid]
            for uid in rng.sample(users, k):
                lid += 1
                delay = rng.random()
                # Most likes come within hours, a few days later.
                yield (lid, uid, pid, fmt(min(end, ts + 4 * DAY * delay * delay * delay)))


def _date_formatter(suffix: str) -> Callable[[float], str]:
    """A fast ``YYYY-MM-DD HH:MM:SS.ffffff`` + suffix formatter for UTC epoch seconds.

    datetime.isoformat costs several times more, and it runs for every row.
    """
    days: dict[int, str] = {}
    minutes = [f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]

    def fmt(ts: float) -> str:
        micros = int(ts * 1_000_000)
        seconds, us = divmod(micros, 1_000_000)
        day, rest = divmod(seconds, 86_400)
        prefix = days.get(day)
        if prefix is None:
            prefix = days[day] = datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d ")
        minute, second = divmod(rest, 60)
        return f"{prefix}{minutes[minute]}{second:02d}.{us:06d}{suffix}"

    return fmt


# PostgreSQL reads the offset; SQLite stores naive UTC text, as SQLAlchemy does.
_pg_date = _date_formatter("+00")
_sqlite_date = _date_formatter("")


# -- loading -----------------------------------------------------------------

COLUMNS = {
    "user": ("id", "email", "username", "avatar", "bio", "password", "created_at"),
    "post": ("id", "text", "date", "user_id", "parent_id"),
    "social": ("id", "from_id", "to_id", "date"),
    "like": ("id", "user_id", "post_id", "date"),
}


# Tables whose rows move the stored counters (migration 0009's triggers).
COUNTED = ("post", "social", "like")
# PostgreSQL: users and posts are loaded into temporary tables first, then
# written once, in id order, with their counters (known once follows and
# likes are in). Updating the rows instead would write them twice, scramble
# their order, and leave HOT chains that make PostgreSQL ignore the indexes
# built after them until older transactions end.
STAGED = {"user": "seed_user", "post": "seed_post"}
PG_FILL = (
    """INSERT INTO "user" (id, email, username, avatar, bio, password, created_at,
        posts_count, followers_count, following_count)
    SELECT u.id, u.email, u.username, u.avatar, u.bio, u.password, u.created_at,
        coalesce(p.n, 0), coalesce(r.n, 0), coalesce(f.n, 0)
    FROM seed_user AS u
    LEFT JOIN (SELECT user_id AS id, count(*) AS n FROM seed_post WHERE deleted_at IS NULL
               GROUP BY user_id) AS p ON p.id = u.id
    LEFT JOIN (SELECT to_id AS id, count(*) AS n FROM social GROUP BY to_id) AS r ON r.id = u.id
    LEFT JOIN (SELECT from_id AS id, count(*) AS n FROM social GROUP BY from_id) AS f
        ON f.id = u.id
    ORDER BY u.id""",
    """INSERT INTO post (id, text, date, user_id, parent_id, likes_count, replies_count)
    SELECT p.id, p.text, p.date, p.user_id, p.parent_id, coalesce(l.n, 0), coalesce(r.n, 0)
    FROM seed_post AS p
    LEFT JOIN (SELECT post_id AS id, count(*) AS n FROM "like" GROUP BY post_id) AS l
        ON l.id = p.id
    LEFT JOIN (SELECT parent_id AS id, count(*) AS n FROM seed_post
               WHERE parent_id IS NOT NULL AND deleted_at IS NULL GROUP BY parent_id) AS r
        ON r.id = p.id
    ORDER BY p.id""",
)


def _is_empty(cursor: Any) -> bool:
    cursor.execute('SELECT 1 FROM "user" LIMIT 1')
    return cursor.fetchone() is None


def _pg_drop_constraints(cursor: Any) -> list[str]:
    """Drop FKs, unique constraints and secondary indexes; return how to rebuild them."""
    tables = "'\"user\"'::regclass, 'post'::regclass, 'social'::regclass, '\"like\"'::regclass"
    cursor.execute(
        f"""SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE conrelid IN ({tables}) AND contype IN ('f', 'u')
        ORDER BY contype = 'u', conname"""
    )
    constraints = cursor.fetchall()
    cursor.execute(
        f"""SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i WHERE i.indrelid IN ({tables}) AND NOT i.indisprimary
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1"""
    )
    indexes = cursor.fetchall()
    rebuild: list[str] = []
    for table, name, _kind, _definition in constraints:  # FKs first, then uniques
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
        rebuild.append(definition)
    uniques = [c for c in constraints if c[2] == "u"]
    fks = [c for c in constraints if c[2] == "f"]
    for table, name, _kind, definition in uniques + fks:  # uniques before FKs
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    return rebuild


def _quote(table: str) -> str:
    return f'"{table}"'


class _Loader:
    def __init__(self, engine: Engine, progress: Progress | None) -> None:
        self.engine = engine
        self.progress = progress
        self.postgres = engine.dialect.name == "postgresql"

    def _task(self, table: str, total: int) -> Callable[[int], None]:
        if self.progress is None:
            return lambda n: None
        task = self.progress.add_task(table, total=total)
        return lambda n: self.progress.advance(task, n)  # type: ignore[union-attr]

    def copy(
        self,
        cursor: Any,
        table: str,
        rows: Iterator[tuple[Any, ...]],
        total: int,
        into: str | None = None,
    ) -> int:
        """Load ``table``'s ``rows`` into ``into`` (default: the table itself)."""
        advance = self._task(table, total)
        columns = ", ".join(COLUMNS[table])
        target = _quote(into or table)
        count = 0
        if self.postgres and hasattr(cursor, "copy"):
            with cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
                    if not count % BATCH:
                        advance(BATCH)
        else:
            marks = ", ".join("?" if not self.postgres else "%s" for _ in COLUMNS[table])
            sql = f"INSERT INTO {target} ({columns}) VALUES ({marks})"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == BATCH:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    advance(len(batch))
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
        advance(count % BATCH)
        return count


def seed(
    engine: Engine,
    users: int,
    posts: int,
    follows_per_user: int,
    likes: int,
    seed: int = 1,
    force: bool = False,
    progress: bool = True,
    end: datetime | None = None,
) -> SeedResult:
    """Fill an empty, migrated database with a generated network.

    ``end`` is the newest possible date (default: the start of the current UTC
    day, so that the same seed gives the same rows all day).
    """

    if users < 0 or posts < 0 or follows_per_user < 0 or likes < 0:
        raise SeedError("counts must not be negative")
    if posts and not users:
        raise SeedError("posts need at least one user")
    if follows_per_user > max(users - 1, 0):
        raise SeedError(f"--follows {follows_per_user} needs more than {follows_per_user} users")
    if likes > users * posts:
        raise SeedError(f"--likes {likes} is more than one like per user and post")
    if end is None:
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    postgres = engine.dialect.name == "postgresql"
    network = _Network(
        users,
        posts,
        follows_per_user,
        likes,
        seed,
        end,
        _pg_date if postgres else _sqlite_date,
    )
    result = SeedResult()
    started = time.perf_counter()
    password_hash = hash_password(SEED_PASSWORD)
    columns = [
        TextColumn("{task.description:>8}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    bar = Progress(*columns, transient=False) if progress else None
    loader = _Loader(engine, bar)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if not _is_empty(cursor):
            if not force:
                raise SeedError(
                    f"{engine.url.render_as_string()} already has users; "
                    "use --force to empty it first"
                )
            if postgres:
                cursor.execute('TRUNCATE "like", social, post, "user" RESTART IDENTITY CASCADE')
            else:
                for table in ("like", "social", "post", "user"):
                    cursor.execute(f"DELETE FROM {_quote(table)}")
        rebuild: list[str] = []
        if postgres:
            cursor.execute("SET LOCAL statement_timeout = 0")
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            rebuild = _pg_drop_constraints(cursor)
            # The counters' triggers would update a post or user per row
            # loaded: off for the load (inside its transaction), then counted.
            for table in COUNTED:
                cursor.execute(f"ALTER TABLE {_quote(table)} DISABLE TRIGGER USER")
            for table, staged in STAGED.items():
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {staged} (LIKE {_quote(table)} INCLUDING DEFAULTS) "
                    "ON COMMIT DROP"
                )
        plan = [
            ("user", lambda: network.users(password_hash), users),
            ("post", network.posts, posts),
            ("social", network.social, users * follows_per_user),
            ("like", network.like_rows, likes),
        ]
        with bar or nullcontext():
            for table, rows, total in plan:
                t0 = time.perf_counter()
                into = STAGED.get(table) if postgres else None
                result.counts[table] = loader.copy(cursor, table, rows(), total, into)
                result.seconds[table] = time.perf_counter() - t0
            if postgres:
                t0 = time.perf_counter()
                cursor.execute("SET LOCAL work_mem = '256MB'")  # the id-order sorts
                for statement in PG_FILL:
                    cursor.execute(statement)
                for table in COUNTED:
                    cursor.execute(f"ALTER TABLE {_quote(table)} ENABLE TRIGGER USER")
                result.seconds["counters"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                for statement in rebuild:
                    cursor.execute(statement)
                for table in TABLES:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{_quote(table)}', 'id'), "
                        f"coalesce((SELECT max(id) FROM {_quote(table)}), 0) + 1, false)"
                    )
                result.seconds["indexes"] = time.perf_counter() - t0
        raw.commit()
        if postgres:
            t0 = time.perf_counter()
            raw.driver_connection.autocommit = True  # type: ignore[union-attr]
            try:
                cursor = raw.cursor()
                # Out of the load's transaction, so its SET LOCAL is gone: at
                # S4 the VACUUM takes minutes.
                cursor.execute("SET statement_timeout = 0")
                # VACUUM too: it sets the visibility map, so index-only scans
                # stay index-only as on a database that has lived a while.
                cursor.execute('VACUUM (ANALYZE) "user", post, social, "like"')
            finally:
                raw.driver_connection.autocommit = False  # type: ignore[union-attr]
            result.seconds["vacuum"] = time.perf_counter() - t0
        else:
            cursor.execute("ANALYZE")
            raw.commit()
        result.disk_bytes = _disk_bytes(raw.cursor(), engine)
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    result.total_seconds = time.perf_counter() - started
    return result


def _disk_bytes(cursor: Any, engine: Engine) -> int | None:
    """What the database takes on disk: PostgreSQL's own count, or the SQLite
    file with its write-ahead log (None in memory)."""
    if engine.dialect.name == "postgresql":
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])
    path = engine.url.database
    if not path or path == ":memory:":
        return None
    return sum(os.path.getsize(f) for f in (path, path + "-wal") if os.path.exists(f))


# -- command -----------------------------------------------------------------


def seed_command(
    scale: Annotated[
        str | None,
        typer.Option(
            "--scale",
            help="Preset: S1 = 1k users/10k posts/50 follows/50k likes, S2 = 10k/200k/50/1M, "
            "S3 = 50k/1M/50/5M, S4 = 200k/5M/50/10M (S0: a tiny one). Explicit options "
            "override it.",
        ),
    ] = None,
    users: Annotated[int | None, typer.Option("--users", help="Users [1000].")] = None,
    posts: Annotated[int | None, typer.Option("--posts", help="Posts [10000].")] = None,
    follows: Annotated[int | None, typer.Option("--follows", help="Follows per user [50].")] = None,
    likes: Annotated[int | None, typer.Option("--likes", help="Likes in all [50000].")] = None,
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Empty user, post, social and like first.")
    ] = False,
) -> None:
    """Generate a realistic network (users, posts, follows, likes) into the database."""

    err = Console(stderr=True)
    console = Console()

    def fail(message: str) -> typer.Exit:
        err.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
        return typer.Exit(code=1)

    preset_name = (scale or "S1").upper()
    if preset_name not in SCALES:
        raise fail(f"unknown --scale {scale!r}; choose one of {', '.join(SCALES)}")
    preset = SCALES[preset_name]
    counts = [
        preset[i] if value is None else value
        for i, value in enumerate((users, posts, follows, likes))
    ]
    try:
        check_settings()
        engine = make_engine()
        console.print(
            f"Seeding {engine.url.render_as_string()}: {counts[0]:,} users, {counts[1]:,} posts, "
            f"{counts[2]} follows per user, {counts[3]:,} likes (seed {seed_value})"
        )
        n_users, n_posts, n_follows, n_likes = counts
        result = seed(engine, n_users, n_posts, n_follows, n_likes, seed=seed_value, force=force)
    except (SeedError, ConfigError) as error:
        raise fail(str(error)) from None
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).strip().splitlines()
        raise fail(f"database error: {reason[0] if reason else type(error).__name__}") from None
    except Exception as error:  # psycopg errors from the raw connection
        if type(error).__module__.startswith(("psycopg", "sqlite3")):
            line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise fail(f"database error: {line}") from None
        raise
    table = Table(title=f"Seeded in {result.total_seconds:.1f} s")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    for name in TABLES:
        table.add_row(name, f"{result.counts[name]:,}", f"{result.seconds[name]:.1f}")
    for step in ("counters", "indexes", "vacuum"):
        if step in result.seconds:
            table.add_row(step, "", f"{result.seconds[step]:.1f}")
    console.print(table)
    if result.disk_bytes is not None:
        console.print(f"The database takes {result.disk_bytes / 1e6:,.0f} MB on disk.")
    console.print(
        f"[green]Every seeded user (user000001 … user{counts[0]:06d}) logs in with the "
        f"password[/] [bold]{SEED_PASSWORD}[/]"
    )


__all__ = ["SCALES", "SEED_PASSWORD", "SeedError", "SeedResult", "seed", "seed_command"]
