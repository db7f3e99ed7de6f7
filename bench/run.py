"""Benchmark Pamps end to end on PostgreSQL, in one command.

    python bench/run.py --scale S1 [--workers 1] [--hosts 1] [--connections 32] [--duration 15]
                        [--rounds 3] [--yardstick ../shared/bench/ceiling_app.py]
                        [--output docs/performance.md] [--routes a,b] [--no-stress]

Creates a fresh database on the server (--server), migrates and seeds it, starts
Pamps as in production on this machine (uvicorn, N workers, a pool sized for
its cores, no reload, no access log), drives
every route with wrk (installed with apt-get when missing and running as root),
measures the SQL behind the read routes with pgbench, optionally serves a
yardstick app on the same database and loads each read route on it right after
Pamps' run of that route (so that each ratio compares neighbouring runs), then
writes JSON
(docs/performance-<scale>.json next to --output) and a Markdown section for
the scale in --output. Everything listens on 127.0.0.1 only; the database is
dropped at the end unless --keep.

Each read route, its yardstick run and pgbench are measured --rounds times
(3 by default) and the medians reported; the write routes run once. Then,
unless --no-stress (or --routes leaves out `post` or `login`), `GET /post/{id}/`
alone at 16 connections, during a login storm, and at 256 connections (see
stress()).

``--hosts N``: N Pamps processes (each of --workers workers) on other ports
behind the same database, as N hosts behind a load balancer would be; every
load is N wrk processes at once, one per host, sharing --connections out
between them: req/s are their sum, p50/p99/max the worst host's. The yardstick
runs as N processes too. The outputs are named ``<scale>-hosts<N>`` so that
the one-host figures stay.

``--smoke``: the tiny S0 network, 1 s per run, one round, outputs in a
temporary folder unless --output is given. The test suite runs that.
"""

import argparse
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg  # noqa: E402

from pamps.database import SESSION_OPTIONS, local_pool_size, usable_cores  # noqa: E402
from pamps.models.post import MAX_ID  # noqa: E402
from pamps.services import posts, sessions, users  # noqa: E402

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKENS = 50
PASSWORD = "pamps-seed-password"

# Route name -> (method, path shown in the table).
ROUTES = {
    "home": ("GET", "/post/"),
    "post": ("GET", "/post/{id}/"),
    "user_posts": ("GET", "/post/user/{username}/"),
    "user": ("GET", "/user/{username}/"),
    "timeline": ("GET", "/user/timeline"),
    "create_post": ("POST", "/post/"),
    "like": ("POST", "/post/{id}/like/"),
    "login": ("POST", "/token"),
    # The Mastodon-compatible API's reads, each measured right after its
    # native counterpart (MIRRORS) and reported as a fraction of it.
    "m_home": ("GET", "/api/v1/timelines/home"),
    "m_public": ("GET", "/api/v1/timelines/public"),
    "m_status": ("GET", "/api/v1/statuses/{id}"),
    "m_account": ("GET", "/api/v1/accounts/{id}"),
}
MIRRORS = {"m_home": "timeline", "m_public": "home", "m_status": "post", "m_account": "user"}
READS = ("home", "post", "user_posts", "user", "timeline", *MIRRORS)

# --- pgbench: the SQL Pamps sends for the read routes ------------------------

# The statements each read route runs (pamps/services/), in order. The
# timeline looks its token's session and user up first (primary-key lookups:
# pgbench gives them random ids); a user's posts ask whether the user exists
# only when their page is empty.
PGBENCH_STATEMENTS: dict[str, Callable[[], list[Any]]] = {
    "home": lambda: [posts.home_statement()],
    "post": lambda: [posts.post_with_replies_statement()],
    "user_posts": lambda: [posts.user_posts_statement(False)],
    "user": lambda: [users.profile_by_name_statement()],
    "timeline": lambda: [sessions.user_of_statement(), posts.timeline_statement("postgresql")],
}
# pgbench's stand-in for each bind parameter of those statements.
PGBENCH_PARAMS = {
    "before": ":before",
    "after": ":after",
    "limit": ":limit",
    "id": ":id",
    "user_id": ":uid",
    "session_id": ":uid",
    "name": "('user' || lpad(:uid::text, 6, '0'))",
}
PGBENCH_HEADER = f"""\\set id random(1, {{posts}})
\\set uid random(1, {{users}})
\\set before {MAX_ID + 1}
\\set after 0
\\set limit 21
"""


def pgbench_script(statements: list[Any]) -> str:
    """The statements compiled for PostgreSQL with pgbench variables as values."""
    lines = [PGBENCH_HEADER]
    for statement in statements:
        compiled = statement.compile(dialect=PGDialect_psycopg())
        sql = compiled.string
        for name in compiled.params:
            sql = sql.replace(f"%({name})s", PGBENCH_PARAMS[name])
        lines.append(" ".join(sql.split()) + ";")
    return "\n".join(lines)


# The yardstick's timeline shape (full rows of each followed user's newest 21,
# then merged), for comparison.
TIMELINE_LATERAL = """\\set uid random(1, {users})
SELECT p.id, p.text, p.date, p.user_id, p.parent_id FROM social s CROSS JOIN LATERAL (
  SELECT * FROM post q WHERE q.user_id = s.to_id AND q.deleted_at IS NULL
  ORDER BY q.id DESC LIMIT 21) p
WHERE s.from_id = :uid ORDER BY p.id DESC LIMIT 21;"""


# --- wrk scripts ---------------------------------------------------------------

LUA_COMMON = r"""
local tokens = {%(tokens)s}
local mastodon_tokens = {%(mastodon_tokens)s}
local token_ids = {%(token_ids)s}
local users, posts = %(users)d, %(posts)d
local counter = 0
init = function(args) math.randomseed(%(seed)d) end
local function username() return string.format("user%%06d", math.random(1, users)) end
local function auth()
  return {["Authorization"] = "Bearer " .. tokens[math.random(1, #tokens)]}
end
local function mastodon_auth()
  return {["Authorization"] = "Bearer " .. mastodon_tokens[math.random(1, #mastodon_tokens)]}
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,' ..
    '"max_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""

LUA_REQUEST = {
    "home": 'request = function() return wrk.format("GET", "%(prefix)s/post/") end',
    "post": 'request = function() return wrk.format("GET", "%(prefix)s/post/" .. '
    'math.random(1, posts) .. "/") end',
    "user_posts": 'request = function() return wrk.format("GET", "%(prefix)s/post/user/" .. '
    'username() .. "/") end',
    "user": 'request = function() return wrk.format("GET", "%(prefix)s/user/" .. '
    'username() .. "/") end',
    "timeline": 'request = function() return wrk.format("GET", "/user/timeline", auth()) end',
    # The yardstick has no auth: the same users' timelines by id.
    "timeline_by_id": 'request = function() return wrk.format("GET", "/timeline/" .. '
    "token_ids[math.random(1, #token_ids)]) end",
    "create_post": """request = function()
  counter = counter + 1
  local h = auth(); h["Content-Type"] = "application/json"
  return wrk.format("POST", "/post/", h, '{"text": "bench post ' .. counter .. '"}')
end""",
    "like": """request = function()
  return wrk.format("POST", "/post/" .. math.random(1, posts) .. "/like/", auth())
end""",
    "login": """request = function()
  local body = "username=" .. username() .. "&password=%(password)s"
  return wrk.format("POST", "/token",
    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end""",
    "m_home": 'request = function() return wrk.format("GET", "/api/v1/timelines/home", '
    "mastodon_auth()) end",
    "m_public": 'request = function() return wrk.format("GET", "/api/v1/timelines/public") end',
    "m_status": 'request = function() return wrk.format("GET", "/api/v1/statuses/" .. '
    "math.random(1, posts)) end",
    "m_account": 'request = function() return wrk.format("GET", "/api/v1/accounts/" .. '
    "math.random(1, users)) end",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


def run(cmd: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("wrk is not installed: run `apt-get install wrk` (Debian/Ubuntu) and retry")
    log("installing wrk with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if run(["apt-get", "install", "-y", "wrk"], 600, env=env).returncode != 0:
        run(["apt-get", "update"], 600, env=env)
        run(["apt-get", "install", "-y", "wrk"], 600, env=env)
    found = shutil.which("wrk")
    if not found:
        sys.exit("could not install wrk with apt-get")
    return found


def ensure_yardstick_deps() -> None:
    missing = []
    for module in ("starlette", "asyncpg", "orjson"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        # Only for the yardstick, into this environment; never a Pamps requirement.
        log(f"installing {', '.join(missing)} for the yardstick (not a Pamps dependency)")
        cmd = [sys.executable, "-m", "pip", "install", "-q", *missing]
        result = run(cmd, 600)
        if result.returncode != 0:
            sys.exit(f"could not install {missing}: {result.stderr.strip()[-300:]}")


# --- servers ------------------------------------------------------------------


@contextlib.contextmanager
def server(cmd: list[str], env: dict[str, str], port: int, probe: str) -> Iterator[int]:
    """Start a server process, wait until ``probe`` answers 200, stop it afterwards."""
    logfile = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **env}, stdout=logfile, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                logfile.seek(0)
                sys.exit(f"server exited early:\n{logfile.read()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"server did not answer {probe} within 60 s")
            time.sleep(0.3)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        logfile.close()


def start_hosts(
    servers: contextlib.ExitStack,
    who: str,
    cmd: list[str],
    env: dict[str, str],
    probe: str,
    args: argparse.Namespace,
) -> tuple[list[str], list[int]]:
    """--hosts servers of ``cmd`` on ports of their own, stopped with
    ``servers``: their base URLs and process ids."""
    bases, pids = [], []
    for _ in range(args.hosts):
        port = free_port()
        bases.append(f"http://127.0.0.1:{port}")
        log(f"starting {who} ({args.workers} worker(s)) on {bases[-1]}")
        pids.append(servers.enter_context(server([*cmd, "--port", str(port)], env, port, probe)))
    return bases, pids


def rss_mb(pid: int) -> list[float]:
    """Resident memory of a process and its children (the workers), in MB."""
    pids = [pid]
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    out = []
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(round(int(line.split()[1]) / 1024, 1))
    return out


# --- load ---------------------------------------------------------------------


def lua_script(folder: Path, name: str, context: dict[str, Any]) -> Path:
    path = folder / f"{name}.lua"
    path.write_text(LUA_COMMON % context + "\n" + LUA_REQUEST[name] % context + "\n")
    return path


def wrk_command(
    wrk_bin: str,
    url: str,
    script: Path,
    args: argparse.Namespace,
    duration: float,
    connections: int | None = None,
) -> list[str]:
    return [
        wrk_bin,
        f"-t{args.threads}",
        f"-c{connections or args.connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]


def start_wrk(
    wrk_bin: str,
    urls: Sequence[str],
    script: Path,
    args: argparse.Namespace,
    duration: float,
    connections: int | None = None,
) -> list[subprocess.Popen[str]]:
    """One wrk per host, all at once, the connections shared out between them."""
    share = max(args.threads, (connections or args.connections) // len(urls))
    return [
        subprocess.Popen(
            wrk_command(wrk_bin, url, script, args, duration, share),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]


def finish_wrk(processes: list[subprocess.Popen[str]], timeout: float) -> dict[str, Any]:
    """The figures of wrk processes started together, as one load."""
    results = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=timeout)
            results.append(wrk_result(stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return combine(results)


def combine(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Loads run at the same time on several hosts: req/s, requests and errors
    add up; p50, p99 and max are the worst host's (wrk's histograms are not
    merged). Each host's figures are kept under "hosts"."""
    if len(results) == 1:
        return results[0]
    return {
        "rps": round(sum(r["rps"] for r in results), 1),
        "p50_ms": max(r["p50_ms"] for r in results),
        **worst_and_totals(results),
        "hosts": results,
    }


def worst_and_totals(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The worst p99 and max of several runs, and their requests and errors in all."""
    return {
        "p99_ms": max(r["p99_ms"] for r in runs),
        "max_ms": max(r["max_ms"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "error_kinds": {
            kind: sum(r["error_kinds"][kind] for r in runs) for kind in runs[0]["error_kinds"]
        },
    }


def wrk(
    wrk_bin: str,
    urls: Sequence[str],
    script: Path,
    args: argparse.Namespace,
    duration: float,
    connections: int | None = None,
) -> dict[str, Any]:
    processes = start_wrk(wrk_bin, urls, script, args, duration, connections)
    return finish_wrk(processes, duration + 60)


def wrk_result(stdout: str, stderr: str) -> dict[str, Any]:
    """The figures of one wrk run, from the line its Lua ``done`` prints."""
    match = re.search(r"BENCHJSON (\{.*\})", stdout)
    if not match:
        raise RuntimeError(f"wrk failed: {stdout[-500:]} {stderr[-500:]}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "requests": raw["requests"],
        "errors": errors,
        "error_kinds": {k: raw[k] for k in ("connect", "read", "write", "status", "timeout")},
    }


def load(
    wrk_bin: str,
    bases: Sequence[str],
    name: str,
    folder: Path,
    context: dict[str, Any],
    args: argparse.Namespace,
    who: str = "pamps",
) -> dict[str, Any]:
    """One route (its wrk script ``name``) loaded on the servers at ``bases``."""
    script = lua_script(folder, name, context)
    if args.warmup > 0:
        wrk(wrk_bin, bases, script, args, args.warmup)
    r = wrk(wrk_bin, bases, script, args, args.duration)
    log(
        f"{who:>9} {name:>14}: {r['rps']:>9,.1f} req/s  p50 {r['p50_ms']:.1f} ms  "
        f"p99 {r['p99_ms']:.1f} ms  errors {r['errors']}"
    )
    return r


# Connections loading `GET /post/{id}/` in the stress runs: a steady reader
# beside a login storm, then a crowd.
STRESS_READERS = 16
STRESS_CROWD = 256


def stress(
    wrk_bin: str,
    bases: Sequence[str],
    folder: Path,
    context: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The targets that need a crowd, on `GET /post/{id}/`: its p99 alone at
    STRESS_READERS connections, then the same run while --connections more
    hammer `POST /token` (each login a deliberate Argon2 hash), then
    STRESS_CROWD connections alone (throughput must not collapse, no errors).
    The storm starts first and ends after the measured run; its logins per
    second are counted over its whole length ("storm_seconds")."""
    script = lua_script(folder, "post", context)
    if args.warmup > 0:
        wrk(wrk_bin, bases, script, args, args.warmup, STRESS_READERS)
    idle = wrk(wrk_bin, bases, script, args, args.duration, STRESS_READERS)
    # Whole seconds, as wrk runs them: the storm must cover the measured run.
    seconds, lead = max(1, round(args.duration)), max(1, round(args.warmup))
    storm_seconds = seconds + 2 * lead
    storm = start_wrk(wrk_bin, bases, lua_script(folder, "login", context), args, storm_seconds)
    try:
        time.sleep(lead)
        during = wrk(wrk_bin, bases, script, args, seconds, STRESS_READERS)
    finally:
        logins = finish_wrk(storm, storm_seconds + 60)
    crowd = wrk(wrk_bin, bases, script, args, args.duration, STRESS_CROWD)
    out = {
        "idle": idle,
        "login_storm": during,
        "logins": logins,
        "storm_seconds": storm_seconds,
        "crowd": crowd,
        "storm_p99_ratio": round(during["p99_ms"] / idle["p99_ms"], 2) if idle["p99_ms"] else None,
        "crowd_rps_ratio": round(crowd["rps"] / idle["rps"], 2) if idle["rps"] else None,
    }
    for label, r in (
        (f"alone, {STRESS_READERS} conn.", idle),
        ("login storm", during),
        (f"alone, {STRESS_CROWD} conn.", crowd),
    ):
        log(
            f"   stress {label:>17}: {r['rps']:>9,.1f} req/s  p50 {r['p50_ms']:.1f} ms  "
            f"p99 {r['p99_ms']:.1f} ms  errors {r['errors']}"
        )
    log(
        f"   stress {'the storm itself':>17}: {logins['rps']:>9,.1f} logins/s, "
        f"errors {logins['errors']}"
    )
    return out


def fetch_tokens(base: str, user_ids: list[int]) -> list[str]:
    tokens = []
    for uid in user_ids:
        body = urllib.parse.urlencode({"username": f"user{uid:06d}", "password": PASSWORD})
        request = urllib.request.Request(f"{base}/token", data=body.encode(), method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(request, timeout=30) as response:
            tokens.append(json.loads(response.read())["access_token"])
    return tokens


def fetch_mastodon_tokens(base: str, user_ids: list[int]) -> list[str]:
    """Tokens of the Mastodon-compatible API for the same users, made as its
    clients make them: an app, then the password grant."""
    app_body = {"client_name": "bench", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"}
    app_body["scopes"] = "read"
    request = urllib.request.Request(
        f"{base}/api/v1/apps", data=json.dumps(app_body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        app = json.loads(response.read())
    tokens = []
    for uid in user_ids:
        grant = {
            "grant_type": "password",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "username": f"user{uid:06d}",
            "password": PASSWORD,
            "scope": "read",
        }
        body = urllib.parse.urlencode(grant).encode()
        request = urllib.request.Request(f"{base}/oauth/token", data=body, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(request, timeout=30) as response:
            tokens.append(json.loads(response.read())["access_token"])
    return tokens


def read_order(names: list[str]) -> list[str]:
    """The read routes of ``names``, each Mastodon one right after its native
    counterpart (when both run), so that their ratio compares neighbours."""
    reads = [n for n in names if n in READS and n not in MIRRORS]
    for mirror, native in MIRRORS.items():
        if mirror in names:
            if native in reads:
                reads.insert(reads.index(native) + 1, mirror)
            else:
                reads.append(mirror)
    return reads


def pgbench(url: str, folder: Path, counts: dict[str, int], duration: float) -> dict[str, Any]:
    binary = shutil.which("pgbench")
    if not binary:
        log("pgbench not found: skipped")
        return {}
    out: dict[str, Any] = {}
    templates = {name: pgbench_script(make()) for name, make in PGBENCH_STATEMENTS.items()}
    templates["timeline_lateral"] = TIMELINE_LATERAL
    for name, template in templates.items():
        script = folder / f"{name}.sql"
        script.write_text(template.format(users=counts["user"], posts=counts["post"]) + "\n")
        cmd = [binary, "-n", "-c", "8", "-j", "2", "-M", "prepared"]
        cmd += ["-T", str(max(1, round(duration))), "-f", str(script), url]
        # Planned as Pamps' own connections plan them.
        result = run(cmd, duration + 60, env={**os.environ, "PGOPTIONS": SESSION_OPTIONS})
        match = re.search(r"tps = ([\d.]+) \(without initial", result.stdout)
        out[name] = round(float(match.group(1)), 1) if match else None
        if match is None:
            log(f"pgbench {name} failed: {result.stderr.strip()[-300:]}")
        else:
            log(f"{'pgbench ' + name:>24}: {out[name]:>10,.1f} TPS")
    return out


# --- report -------------------------------------------------------------------


def versions(url: str, wrk_bin: str | None) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("fastapi", "sqlalchemy", "sqlmodel", "psycopg", "uvicorn", "pydantic"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[package] = metadata.version(package)
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        out["postgresql"] = row[0] if row else "?"
    if wrk_bin:
        out["wrk"] = (run([wrk_bin, "-v"], 10).stdout.split() or ["?", "?"])[1]
    return out


def git_commit() -> str:
    try:
        head = run(["git", "rev-parse", "--short", "HEAD"], 10, cwd=ROOT).stdout.strip()
        # What this command writes itself (another scale's section) is no change.
        status = ["git", "status", "--porcelain", "--", ".", ":!docs/performance*"]
        dirty = run(status, 10, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{'+dirty' if dirty else ''}" if head else "unknown"


def median(values: Sequence[float | None]) -> float | None:
    """The median of the values that are there (None when none is), unrounded."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return None
    middle = len(present) // 2
    if len(present) % 2:
        return present[middle]
    return (present[middle - 1] + present[middle]) / 2


def rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def median_ratio(ours: Sequence[float], theirs: Sequence[float | None]) -> float | None:
    """The median of the ratios of runs made in the same round."""
    return rounded(median([a / b for a, b in zip(ours, theirs, strict=True) if b]), 3)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One route's rounds: median req/s and p50, the worst p99 and max, every
    error; the single runs are kept under "runs"."""
    if len(runs) == 1:
        return runs[0]
    return {
        "rps": rounded(median([r["rps"] for r in runs]), 1),
        "p50_ms": rounded(median([r["p50_ms"] for r in runs]), 2),
        **worst_and_totals(runs),
        "runs": runs,
    }


def fmt(value: Any, spec: str = ",.0f") -> str:
    return "—" if value is None else format(value, spec)


def markdown(report: dict[str, Any]) -> str:
    scale = report.get("label", report["scale"])
    c = report["counts"]
    hosts = report.get("hosts", 1)
    where = f"{hosts} hosts of " if hosts > 1 else ""
    wrk_text = f"wrk -t{report['threads']} -c{report['connections']} -d{report['duration']:g}s"
    if hosts > 1:
        wrk_text = (
            f"{hosts} wrk at once, one per host, -t{report['threads']} "
            f"-c{report['connections'] // hosts} -d{report['duration']:g}s each"
        )
    lines = [
        f"<!-- bench:{scale} start -->",
        f"## {scale}: {c['user']:,} users, {c['post']:,} posts, {c['social']:,} follows, "
        f"{c['like']:,} likes",
        "",
        f"{report['date']} · commit `{report['commit']}` · {report['cores']} cores "
        f"(load average {report['load_average']}) · {where}{report['workers']} worker(s), "
        f"{report.get('pool_size', '?')} connections each · {wrk_text} · "
        f"seeded in {report['seed_seconds']:.1f} s",
    ]
    rounds = report.get("rounds", 1)
    if rounds > 1:
        lines[-1] += (
            f" · {rounds} rounds: req/s, p50, TPS and fractions are medians (a fraction"
            " pairs runs of the same round), p99 the worst round, errors all rounds"
        )
    lines += [
        "",
        "| route | req/s | p50 ms | p99 ms | errors | yardstick req/s | fraction |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    yard = report.get("yardstick") or {}
    for name, (method, path) in ROUTES.items():
        r = report["routes"].get(name)
        if r is None:
            continue
        y = yard.get(name)
        ratio = report.get("fraction_of_yardstick", {}).get(name)
        lines.append(
            f"| `{method} {path}` | {fmt(r['rps'])} | {fmt(r['p50_ms'], '.1f')} | "
            f"{fmt(r['p99_ms'], '.1f')} | {r['errors']} | "
            f"{fmt(y['rps'] if y else None)} | {fmt(ratio, '.0%')} |"
        )
    native = report.get("fraction_of_native") or {}
    if native:
        lines += [
            "",
            "The Mastodon-compatible API against its native counterpart (same rounds):",
            "",
        ]
        lines += ["| Mastodon route | native route | fraction of its req/s |", "|---|---|---:|"]
        for mirror, ratio in native.items():
            m_method, m_path = ROUTES[mirror]
            n_method, n_path = ROUTES[MIRRORS[mirror]]
            lines.append(f"| `{m_method} {m_path}` | `{n_method} {n_path}` | {fmt(ratio, '.0%')} |")
    if report.get("pgbench"):
        lines += ["", "pgbench, same SQL as the read routes, 8 clients:", ""]
        lines += ["| SQL of | TPS |", "|---|---:|"]
        for name, tps in report["pgbench"].items():
            lines.append(f"| {name} | {fmt(tps)} |")
        ratio = report.get("timeline_fraction_of_pgbench")
        if ratio is not None:
            lines += ["", f"`GET /user/timeline` is {ratio:.0%} of pgbench's TPS for its SQL."]
    if report.get("stress"):
        lines += stress_markdown(report["stress"], report["connections"])
    if report.get("rss_mb"):
        lines += ["", f"Server RSS after the run (MB, per process): {report['rss_mb']}"]
    v = report["versions"]
    lines += ["", "Versions: " + ", ".join(f"{k} {v[k]}" for k in v), f"<!-- bench:{scale} end -->"]
    return "\n".join(lines) + "\n"


def stress_markdown(stress: dict[str, Any], storm_connections: int) -> list[str]:
    logins = stress["logins"]
    lines = [
        "",
        "Stress, `GET /post/{id}/` (once, after the writes):",
        "",
        "| load | req/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, r in (
        (f"{STRESS_READERS} connections, alone", stress["idle"]),
        (
            f"{STRESS_READERS} connections, while {storm_connections} more post to "
            f"`/token` ({fmt(logins['rps'])} logins/s over the storm's "
            f"{stress.get('storm_seconds', '?')} s, {logins['errors']} errors)",
            stress["login_storm"],
        ),
        (f"{STRESS_CROWD} connections, alone", stress["crowd"]),
    ):
        lines.append(
            f"| {label} | {fmt(r['rps'])} | {fmt(r['p50_ms'], '.1f')} | "
            f"{fmt(r['p99_ms'], '.1f')} | {r['errors']} |"
        )
    lines += [
        "",
        f"p99 during the login storm: {fmt(stress['storm_p99_ratio'], '.2f')}x its value alone; "
        f"req/s at {STRESS_CROWD} connections: {fmt(stress['crowd_rps_ratio'], '.2f')}x "
        f"at {STRESS_READERS}.",
    ]
    return lines


def write_markdown(path: Path, section: str, scale: str) -> None:
    start, end = f"<!-- bench:{scale} start -->", f"<!-- bench:{scale} end -->"
    text = path.read_text() if path.exists() else "# Performance\n\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --- main ---------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="S1", choices=["S0", "S1", "S2", "S3", "S4"])
    parser.add_argument("--workers", type=int, default=1, help="worker processes per host")
    parser.add_argument(
        "--hosts",
        type=int,
        default=1,
        help="Pamps processes on other ports behind the same database, each loaded by a wrk "
        "of its own at the same time",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        help="database connections per worker, no overflow (a tuned run); without it "
        'Pamps runs on its defaults (db.pool_size and db.max_overflow "auto")',
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--duration", type=float, default=15, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each run")
    parser.add_argument(
        "--rounds",
        type=int,
        help="times each read route, its yardstick run and pgbench are measured; "
        "medians reported [3, --smoke: 1]",
    )
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL maintenance URL")
    parser.add_argument("--yardstick", type=Path, help="a Starlette yardstick app file")
    parser.add_argument("--output", type=Path, help="Markdown file [docs/performance.md]")
    parser.add_argument("--routes", help="comma-separated subset of: " + ",".join(ROUTES))
    parser.add_argument(
        "--no-stress",
        action="store_true",
        help="skip the login storm and the crowd of connections on `GET /post/{id}/`",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--smoke", action="store_true", help="S0, 1 s runs, temp outputs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.scale, args.duration, args.warmup = "S0", 1, 0
        if args.output is None:
            args.output = Path(tempfile.mkdtemp(prefix="pamps-bench-")) / "performance.md"
    if args.output is None:
        args.output = ROOT / "docs" / "performance.md"
    if args.rounds is None:
        args.rounds = 1 if args.smoke else 3
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.hosts < 1:
        parser.error("--hosts must be at least 1")
    return args


def settle(url: str) -> None:
    """Write out what the seed left in the database's buffers before measuring.

    Seeding S3 writes ~0.5 GB of WAL, which starts a checkpoint spread over
    the next minutes: it ran through the measurements, and writes waited for
    its I/O (S3: p99 of posting 840 ms, of liking 660 ms, against 30-40 ms
    otherwise). A benchmark measures the API, not the aftermath of a bulk load.
    """
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error as error:  # CHECKPOINT needs a privileged role
        log(f"no CHECKPOINT after seeding: {error}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.pool_size is not None and args.pool_size < 1:
        sys.exit("--pool-size must be at least 1")
    # Recorded as run: the defaults' choice for this machine, or the tuned size.
    # Hosts on one machine share its cores, which no host's default knows.
    if args.pool_size is None and args.hosts > 1:
        args.pool_size = local_pool_size(usable_cores(), args.workers * args.hosts)
    pool = (
        f"{args.pool_size} (tuned)"
        if args.pool_size
        else f"{local_pool_size(usable_cores(), args.workers)} (default)"
    )
    from alembic import command
    from sqlalchemy import create_engine

    from pamps.cli import migrations_config
    from pamps.seed import SCALES, seed

    wrk_bin = ensure_wrk()
    if args.yardstick:
        args.yardstick = args.yardstick.resolve()
        if not args.yardstick.is_file():
            sys.exit(f"yardstick not found: {args.yardstick}")
        ensure_yardstick_deps()
    names = args.routes.split(",") if args.routes else list(ROUTES)
    unknown = set(names) - set(ROUTES)
    if unknown:
        sys.exit(f"unknown routes: {', '.join(sorted(unknown))}")

    # Another name for several hosts: their figures do not replace one host's.
    label = args.scale if args.hosts == 1 else f"{args.scale}-hosts{args.hosts}"
    dbname = f"pamps_bench_{args.scale.lower()}_{secrets.token_hex(4)}"
    url = with_database(args.server, dbname)
    with psycopg.connect(args.server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    log(f"database {dbname} created")
    work = Path(tempfile.mkdtemp(prefix="pamps-bench-lua-"))
    try:
        command.upgrade(migrations_config(url), "head")
        users, posts, follows, likes = SCALES[args.scale]
        engine = create_engine(url)
        seeded = seed(engine, users, posts, follows, likes, seed=args.seed, progress=True)
        engine.dispose()
        log(f"seeded in {seeded.total_seconds:.1f} s: {seeded.counts}")
        counts = seeded.counts
        settle(url)
        report: dict[str, Any] = {
            "scale": args.scale,
            "label": label,
            "hosts": args.hosts,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git_commit(),
            "cores": os.cpu_count(),
            "load_average": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
            "workers": args.workers,
            "pool_size": pool,
            "connections": args.connections,
            "threads": args.threads,
            "duration": args.duration,
            "counts": counts,
            "seed_seconds": round(seeded.total_seconds, 1),
            "seed_table_seconds": {k: round(v, 2) for k, v in seeded.seconds.items()},
            "versions": versions(url, wrk_bin),
        }
        pick = __import__("random").Random(args.seed)
        token_ids = sorted(pick.sample(range(1, counts["user"] + 1), min(TOKENS, counts["user"])))
        context = {
            "users": counts["user"],
            "posts": counts["post"],
            "seed": args.seed,
            "password": PASSWORD,
            "prefix": "",
            "token_ids": ", ".join(map(str, token_ids)),
            "tokens": "",
            "mastodon_tokens": "",
        }

        env = {
            "PAMPS_ENV": "production",
            "PAMPS_SECURITY__SECRET_KEY": secrets.token_hex(32),
            "PAMPS_DB__URI": url,
            "PAMPS_RATELIMIT__ENABLED": "false",
            "PAMPS_SERVER__WORKERS": str(args.workers),
        }
        if args.pool_size:
            env |= {"PAMPS_DB__POOL_SIZE": str(args.pool_size), "PAMPS_DB__MAX_OVERFLOW": "0"}
        cmd = [sys.executable, "-m", "uvicorn", "pamps.app:app", "--workers", str(args.workers)]
        cmd += ["--no-access-log", "--host", "127.0.0.1"]
        with contextlib.ExitStack() as servers:
            # The hosts share the settings (the secret key among them), as a
            # load balancer's would.
            bases, pids = start_hosts(servers, "Pamps", cmd, env, "/health", args)
            tokens = fetch_tokens(bases[0], token_ids)
            context["tokens"] = ", ".join(f'"{t}"' for t in tokens)
            if "m_home" in names:
                mastodon = fetch_mastodon_tokens(bases[0], token_ids)
                context["mastodon_tokens"] = ", ".join(f'"{t}"' for t in mastodon)
            ybases: list[str] = []
            if args.yardstick:
                yenv = {"CEILING_DSN": url}
                ycmd = [sys.executable, "-m", "uvicorn", f"{args.yardstick.stem}:app"]
                ycmd += ["--app-dir", str(args.yardstick.parent), "--workers", str(args.workers)]
                ycmd += ["--no-access-log", "--host", "127.0.0.1"]
                probe = "/user/user000001/"
                ybases = start_hosts(servers, "the yardstick", ycmd, yenv, probe, args)[0]
            # Each read route is loaded on Pamps and right after on the
            # yardstick (both idle otherwise), then every read's SQL with
            # pgbench, so that a ratio compares runs a minute or two apart,
            # whatever else the machine does; and all of it --rounds times,
            # the ratios taken per round (docs/performance.md: single 10 s
            # runs on this shared machine varied by 10-25 %).
            reads = read_order(names)
            runs: dict[str, dict[str, list[dict[str, Any]]]] = {
                "routes": {n: [] for n in names},
                "yardstick": {n: [] for n in reads if n not in MIRRORS} if ybases else {},
            }
            tps: dict[str, list[float | None]] = {}
            for round_no in range(1, args.rounds + 1):
                if args.rounds > 1:
                    log(f"round {round_no} of {args.rounds}")
                for name in reads:
                    runs["routes"][name].append(load(wrk_bin, bases, name, work, context, args))
                    if ybases and name not in MIRRORS:
                        script = name if name != "timeline" else "timeline_by_id"
                        runs["yardstick"][name].append(
                            load(wrk_bin, ybases, script, work, context, args, who="yardstick")
                        )
                for sql, value in pgbench(url, work, counts, args.duration).items():
                    tps.setdefault(sql, []).append(value)
            # Writes once: each run adds rows, which the next rounds would read.
            for name in names:
                if name not in READS:
                    runs["routes"][name].append(load(wrk_bin, bases, name, work, context, args))
            if not args.no_stress and {"post", "login"} <= set(names):
                report["stress"] = stress(wrk_bin, bases, work, context, args)
            report["rss_mb"] = [mb for pid in pids for mb in rss_mb(pid)]
        report["rounds"] = args.rounds
        report["routes"] = {n: summarize(r) for n, r in runs["routes"].items()}
        if ybases:
            report["yardstick"] = {n: summarize(r) for n, r in runs["yardstick"].items()}
            report["fraction_of_yardstick"] = {
                n: median_ratio([r["rps"] for r in runs["routes"][n]], [y["rps"] for y in ys])
                for n, ys in runs["yardstick"].items()
            }
        report["fraction_of_native"] = {
            mirror: median_ratio(
                [r["rps"] for r in runs["routes"][mirror]],
                [r["rps"] for r in runs["routes"][native]],
            )
            for mirror, native in MIRRORS.items()
            if mirror in runs["routes"] and native in runs["routes"]
        }
        report["pgbench"] = {sql: rounded(median(values), 1) for sql, values in tps.items()}
        if "timeline" in runs["routes"] and "timeline" in tps:
            report["timeline_fraction_of_pgbench"] = median_ratio(
                [r["rps"] for r in runs["routes"]["timeline"]], tps["timeline"]
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if args.keep:
            log(f"kept database {url}")
        else:
            with psycopg.connect(args.server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            log(f"database {dbname} dropped")

    output: Path = args.output
    output.parent.mkdir(parents=True, exist_ok=True)
    json_path = output.parent / f"performance-{label}.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(output, markdown(report), label)
    print(markdown(report))
    log(f"wrote {json_path} and {output}")
    return report


if __name__ == "__main__":
    main()
