"""A real Pamps server in a subprocess, for tests that need real concurrency
(races, rate limits across workers, database faults)."""

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import httpx

from tests.pgserver import free_port


@dataclass
class LiveServer:
    """A running server: its base URL, its process and the file of its log."""

    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def log_text(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode()


@contextmanager
def live_server(
    database_url: str,
    workers: int = 1,
    env: dict[str, str] | None = None,
    timeout: float = 30,
    cli: bool = False,
) -> Iterator[str]:
    """Run ``uvicorn pamps.app:app`` (``pamps serve`` with ``cli``) on a free
    loopback port; yields its base URL.

    The server is stopped (and killed if need be) when the block ends.
    """
    with live_process(database_url, workers, env, timeout, cli) as live:
        yield live.url


@contextmanager
def live_process(
    database_url: str,
    workers: int = 1,
    env: dict[str, str] | None = None,
    timeout: float = 30,
    cli: bool = False,
    access_log: bool = False,
) -> Iterator[LiveServer]:
    """:func:`live_server`, yielding the process and its log as well (tests
    that signal the server or read what it wrote)."""
    port = free_port()
    # The server's log goes to a file, not a pipe: a pipe nobody reads fills
    # up (64 KiB) and then blocks the server on its next log line.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process_env = {
        **os.environ,
        "PAMPS_ENV": "testing",
        "PAMPS_DB__URI": database_url,
        **(env or {}),
    }
    where = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if cli:
        command = [sys.executable, "-c", "from pamps.cli import main; main()", "serve", *where]
    else:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "pamps.app:app",
            *where,
            "--log-level",
            "warning",
        ]
    process = subprocess.Popen(
        [*command, "--access-log" if access_log else "--no-access-log"],
        env=process_env,
        stdout=log,
        stderr=log,
    )
    live = LiveServer(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {live.log_text()[-2000:]}")
            try:
                if httpx.get(f"{live.url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in time")
            time.sleep(0.1)
        yield live
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
