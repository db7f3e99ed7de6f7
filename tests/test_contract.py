"""Contract fuzzing: Schemathesis over every operation of ``/openapi.json``,
with every check and every phase (examples, coverage, fuzzing, stateful).

A real server (``pamps serve``) per database backend, Schemathesis' own
command line against it, with a valid bearer token: a user registered and
logged in here, who owns a post and follows a second user, so that the small
ids the coverage phase tries reach real objects, not only 404s. The checks
include those a unit of data cannot fail alone: schema-valid data must be
accepted (the schema states every rule the server enforces) and
schema-violating data refused, an allowed method must answer, an
unsupported one 405 with ``Allow``, a deleted resource must stay gone.

Its false positives are dropped in tests/contract_hooks.py, each with its
reason. The run is deterministic (the same cases every time) and short:
``PAMPS_FUZZ_EXAMPLES`` examples per operation in the fuzzing phase (default
15). The long run::

    PAMPS_FUZZ_EXAMPLES=500 .venv/bin/pytest tests/test_contract.py

Anonymous calls are covered by tests/test_payloads.py::TestOpenApi (every
protected operation answers a documented 401 without a token).
"""

import os
import subprocess
import sys
from pathlib import Path

import httpx

from pamps.app import app
from tests.live import live_server

ROOT = Path(__file__).resolve().parent.parent
FUZZ_EXAMPLES = int(os.environ.get("PAMPS_FUZZ_EXAMPLES", "15"))
PASSWORD = "correct horse battery"


def fuzz_token(client: httpx.Client) -> str:
    """Registers the fuzzing user and a second one; the first one's token."""
    for name in ["fuzzer", "other"]:
        user = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        assert client.post("/user/", json=user).status_code == 201
    tokens = client.post("/token", data={"username": "fuzzer", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    assert client.post("/post/", json={"text": "a post to edit"}, headers=headers).is_success
    assert client.post("/user/follow/2", headers=headers).status_code == 201
    return str(tokens.json()["access_token"])


def test_schemathesis_every_check_and_phase(database_url: str, tmp_path: Path) -> None:
    env = {"PAMPS_RATELIMIT__ENABLED": "false"}
    with live_server(database_url, env=env, cli=True) as url:
        with httpx.Client(base_url=url) as client:
            token = fuzz_token(client)
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            "tests/schemathesis.toml",
            "run",
            f"{url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(FUZZ_EXAMPLES),
            "--generation-deterministic",
            # One worker: parallel workers trip over CPython 3.11's ast module
            # (a runtime error inside Hypothesis, not a finding).
            "--workers",
            "1",
            "--continue-on-failure",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path),
        ]
        result = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
        )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    operations = sum(len(item) for item in app.openapi()["paths"].values())
    assert f"{operations} selected / {operations} total" in result.stdout, result.stdout[:2000]
    for phase in ["Coverage", "Fuzzing", "Stateful"]:
        assert f"✅ {phase}" in result.stdout, result.stdout[-3000:]
