"""The toot command line client, run as a user would, against a live server."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live import live_server

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(backend: str, database_url: str) -> Iterator[str]:
    with live_server(database_url) as url:
        yield url


def toot(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run toot with its configuration kept under ``home``."""
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    command = [str(Path(sys.executable).with_name("toot")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def signup(base: str, username: str) -> None:
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    assert httpx.post(f"{base}/user/", json=body).status_code == 201


def test_login_post_whoami_timeline_follow(server: str, tmp_path: Path) -> None:
    signup(server, "alice")
    signup(server, "bob")
    # toot logs in with the email as the username.
    login = toot(tmp_path, "login_cli", "-i", server, "-e", "alice@example.com", "-p", PASSWORD)
    assert login.returncode == 0, login.stderr
    assert "Successfully logged in" in login.stdout
    whoami = toot(tmp_path, "whoami")
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.startswith("@alice alice")
    posted = toot(tmp_path, "post", "hello from toot")
    assert posted.returncode == 0, posted.stderr
    assert f"Toot posted: {server}/@alice/" in posted.stdout
    timeline = toot(tmp_path, "timeline", "--once")
    assert timeline.returncode == 0, timeline.stderr
    assert "hello from toot" in timeline.stdout
    followed = toot(tmp_path, "follow", "bob")
    assert followed.returncode == 0, followed.stderr
    assert "You are now following bob" in followed.stdout
    native = httpx.get(f"{server}/user/bob/followers/").json()
    assert [user["username"] for user in native] == ["alice"]


def test_wrong_password_fails(server: str, tmp_path: Path) -> None:
    signup(server, "alice")
    login = toot(tmp_path, "login_cli", "-i", server, "-e", "alice@example.com", "-p", "wrong")
    assert login.returncode != 0
    assert (
        not (tmp_path / "toot" / "config.json").exists()
        or "alice" not in (tmp_path / "toot" / "config.json").read_text()
    )
