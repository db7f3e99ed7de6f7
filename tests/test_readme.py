"""The README's curl session, run as written against a real server."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.live import live_server

README = Path(__file__).resolve().parent.parent / "README.md"
MARK = "@@@ "


def session_script() -> str:
    """The first bash block after "## Using the API"."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Using the API") :]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def run_session(base_url: str) -> dict[str, str]:
    """Runs the session; each curl command (as traced) mapped to what it printed."""
    script = session_script().replace("API=http://127.0.0.1:8000", f"API={base_url}", 1)
    assert f"API={base_url}" in script
    # The trace (stderr) and the answers (stdout) in one stream, so that each
    # answer follows the command that printed it.
    result = subprocess.run(
        # PS4 set in the script: bash ignores it from the environment as root.
        ["bash", "-x", "-c", f"PS4=$'\\n{MARK}'\n{script}"],
        env={"PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    steps: dict[str, str] = {}
    for chunk in result.stdout.split(MARK)[1:]:
        command, _, output = chunk.partition("\n")
        if command.startswith("curl "):
            steps[command] = output.strip()
    return steps


def answer(steps: dict[str, str], *fragments: str) -> Any:
    [output] = [out for cmd, out in steps.items() if all(f in cmd for f in fragments)]
    return json.loads(output)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_session_works_as_written(database_url: str) -> None:
    env = {"PAMPS_RATELIMIT__ENABLED": "false"}
    with live_server(database_url, env=env) as url:
        steps = run_session(url)
    refreshed = answer(steps, "/refresh_token")
    assert set(refreshed) == {"access_token", "refresh_token", "token_type"}
    assert "Internal Server Error" not in json.dumps(steps)
    assert [u["username"] for u in answer(steps, "/user/bob/followers/")] == ["alice"]
    assert [u["username"] for u in answer(steps, "/user/alice/following/")] == ["bob"]
    timeline = answer(steps, "/user/timeline/")
    assert [(p["username"], p["text"]) for p in timeline] == [("alice", "Hello, Pamps! (edited)")]
