"""Finding a PostgreSQL server for the tests, or starting a private one.

Order: ``PAMPS_TEST_DATABASE_URL`` (a URL of any database on the server to
use, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``), then the local
server on 127.0.0.1:5432, then a private throw-away cluster made with
``initdb`` when PostgreSQL's binaries are installed.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def reachable(url: str) -> bool:
    try:
        psycopg.connect(to_libpq(url), connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


def to_libpq(url: str) -> str:
    """A SQLAlchemy-style URL as a libpq one (drops any ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        # Resolved: a link on the PATH may stand for pg_ctl alone, without
        # the other tools of its folder (pg_basebackup).
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(candidates[-1]).parent if candidates else None


class PrivatePostgres:
    """A PostgreSQL cluster of our own: a temp folder and a free port.

    PostgreSQL refuses to run as root, so under root the cluster belongs to
    the ``postgres`` system user and commands run through ``runuser``.
    """

    def __init__(self) -> None:
        bins = bindir()
        if bins is None:
            raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found")
        self.bins = bins
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pamps-pg-"))
        self.data = self.root / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bins / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=60)

    def init(self) -> "PrivatePostgres":
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        return self

    def standby(self) -> "PrivatePostgres":
        """A streaming replica of this running cluster (pg_basebackup -R), on a
        folder and port of its own; start it with :meth:`start`."""
        replica = PrivatePostgres()
        self._run(
            "pg_basebackup",
            "-D",
            str(replica.data),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-R",  # standby.signal and primary_conninfo: it follows this one
            "-X",
            "stream",
            "-c",
            "fast",
        )
        return replica

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def wait_until_reachable(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not reachable(url):
        if time.monotonic() > deadline:
            raise RuntimeError(f"PostgreSQL at {make_url(url).host} did not come up")
        time.sleep(0.2)
