"""The benchmark command runs end to end on a tiny network (no timing asserted)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROUTES = {"home", "post", "user_posts", "user", "timeline", "create_post", "like", "login"}
MASTODON = {"m_home": "timeline", "m_public": "home", "m_status": "post", "m_account": "user"}


@pytest.mark.postgres_only
def test_bench_smoke(backend: str, postgres_server: str, tmp_path: Path) -> None:
    bench_prerequisites()
    output = tmp_path / "performance.md"
    result = run_bench("--rounds", "2", "--server", postgres_server, "--output", str(output))
    report = json.loads((tmp_path / "performance-S0.json").read_text())
    assert set(report["routes"]) == ROUTES | set(MASTODON)
    for name, route in report["routes"].items():
        assert {"rps", "p50_ms", "p99_ms", "errors", "requests"} <= set(route), name
    # One-second runs on a busy machine may finish no slow request (a login):
    # only check that the load reached the server at all.
    assert sum(route["requests"] for route in report["routes"].values()) > 0
    assert report["counts"]["user"] == 50
    # Two rounds: each read route measured twice and summarized, writes once.
    assert report["rounds"] == 2
    for name in ("home", "post", "user_posts", "user", "timeline", *MASTODON):
        assert len(report["routes"][name]["runs"]) == 2, name
    # Each Mastodon read as a fraction of its native counterpart's req/s.
    assert set(report["fraction_of_native"]) == set(MASTODON)
    for name in MASTODON:
        assert report["routes"][name]["requests"] > 0, name
    assert "runs" not in report["routes"]["create_post"]
    assert set(report["pgbench"]) >= {"home", "timeline"}
    assert all(tps is not None for tps in report["pgbench"].values()), report["pgbench"]
    text = output.read_text()
    assert "<!-- bench:S0 start -->" in text and "`GET /user/timeline`" in text
    assert "| `GET /api/v1/timelines/home` | `GET /user/timeline` |" in text
    # The stress runs: a post alone, beside a login storm, and in a crowd.
    stress = report["stress"]
    for run in ("idle", "login_storm", "logins", "crowd"):
        assert {"rps", "p50_ms", "p99_ms", "errors"} <= set(stress[run]), run
        assert stress[run]["requests"] > 0, run
    # Rate limits are off in the benchmark: every login of the storm succeeds.
    assert stress["logins"]["errors"] == 0, stress["logins"]
    assert "Stress, `GET /post/{id}/`" in text and "256 connections, alone" in text
    # The benchmark database is gone.
    assert "dropped" in result.stdout


def bench_prerequisites() -> None:
    # The benchmark installs wrk itself where it can (root and apt-get), as a
    # newcomer's run would.
    if shutil.which("wrk") is None and not (os.geteuid() == 0 and shutil.which("apt-get")):
        pytest.skip("wrk is not installed (apt-get install wrk): the benchmark needs it")
    if shutil.which("pgbench") is None:
        pytest.skip("pgbench is not installed (Debian: postgresql-15): the benchmark needs it")


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.postgres_only
def test_bench_two_hosts(backend: str, postgres_server: str, tmp_path: Path) -> None:
    """Two Pamps processes behind one database, each loaded by its own wrk at
    the same time; their figures add up under a label of their own."""
    bench_prerequisites()
    output = tmp_path / "performance.md"
    routes = "home,timeline,create_post"
    run_bench(
        "--hosts", "2", "--routes", routes, "--server", postgres_server, "--output", str(output)
    )
    report = json.loads((tmp_path / "performance-S0-hosts2.json").read_text())
    assert report["hosts"] == 2 and report["label"] == "S0-hosts2"
    assert set(report["routes"]) == set(routes.split(","))
    for name, route in report["routes"].items():
        hosts = route["hosts"]
        assert len(hosts) == 2, name
        assert all(host["requests"] > 0 for host in hosts), name  # both hosts were loaded
        assert route["requests"] == sum(host["requests"] for host in hosts)
        assert route["rps"] == pytest.approx(sum(host["rps"] for host in hosts), abs=0.2)
        assert route["p99_ms"] == max(host["p99_ms"] for host in hosts)
    assert len(report["rss_mb"]) == 2  # one process per host
    text = output.read_text()
    assert "<!-- bench:S0-hosts2 start -->" in text and "2 hosts of 1 worker(s)" in text
    assert not (tmp_path / "performance-S0.json").exists()


def test_mastodon_reads_run_next_to_their_native_counterparts() -> None:
    from bench.run import read_order

    everything = list(ROUTES | set(MASTODON))
    order = read_order(sorted(everything, key=lambda n: n.startswith("m_")))
    for mirror, native in MASTODON.items():
        assert order.index(mirror) == order.index(native) + 1
    assert "login" not in order
    assert read_order(["m_status", "like"]) == ["m_status"]


def test_rounds_are_summarized_by_their_medians() -> None:
    from bench.run import median, median_ratio, summarize

    assert median([3.0, None, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0]) == 2.5
    assert median([0.4567, 0.6543]) == pytest.approx(0.5555)  # not rounded
    assert median([None]) is None
    # Ratios pair the runs of one round: a slow round slows both sides.
    assert median_ratio([100.0, 50.0, 90.0], [200.0, 100.0, 150.0]) == 0.5
    assert median_ratio([100.0], [None]) is None
    # Two rounds (or three with one failed run): the mean of the middle two.
    assert median_ratio([100.0, 130.0], [219.0, 200.0]) == 0.553  # (0.4566 + 0.65) / 2
    assert median_ratio([100.0, 130.0, 90.0], [219.0, 200.0, None]) == 0.553

    def run(rps: float, p99: float, errors: int) -> dict[str, object]:
        kinds = {"connect": 0, "read": 0, "write": 0, "status": errors, "timeout": 0}
        return {
            "rps": rps,
            "p50_ms": rps / 100,
            "p99_ms": p99,
            "max_ms": p99 * 2,
            "requests": int(rps * 10),
            "errors": errors,
            "error_kinds": kinds,
        }

    one = run(1000.0, 20.0, 0)
    assert summarize([one]) == one
    summary = summarize([run(1000.0, 20.0, 0), run(1200.0, 35.0, 1), run(900.0, 25.0, 2)])
    assert summary["rps"] == 1000.0 and summary["p50_ms"] == 10.0
    assert summary["p99_ms"] == 35.0 and summary["max_ms"] == 70.0
    assert summary["errors"] == 3 and summary["error_kinds"]["status"] == 3
    assert summary["requests"] == 31000 and len(summary["runs"]) == 3
