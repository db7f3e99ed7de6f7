"""/metrics: the series and their labels after real requests, the separate
port, the off switch, and a server of two workers whose counters a scrape
sums (multiprocess mode).

The metrics live in one registry per process, shared by every app a test
builds, so in-process tests compare values before and after their requests.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from pamps import __version__
from pamps.app import create_app
from pamps.config import settings
from pamps.database import local_pool_size, pool_capacity, usable_cores
from tests.live import live_process
from tests.pgserver import free_port
from tests.test_ratelimit import rate_limits

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, method: str, route: str, status: str) -> float:
    return value(samples, "pamps_http_requests_total", method=method, route=route, status=status)


def scrape(client: TestClient | httpx.Client, url: str = "/metrics") -> Samples:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


@contextmanager
def metrics_settings(**values: Any) -> Iterator[None]:
    saved = {key: settings.metrics[key] for key in values}
    for key, new in values.items():
        settings.set(f"metrics.{key}", new)
    try:
        yield
    finally:
        for key, old in saved.items():
            settings.set(f"metrics.{key}", old)


class TestScrape:
    def test_requests_are_counted_by_route_template_and_status(
        self, client: TestClient, make_user: Callable[..., Any], backend: str
    ) -> None:
        before = scrape(client)
        alice = make_user()
        post = client.post("/post/", json={"text": "counted"}, headers=alice.headers).json()
        for _ in range(3):
            assert client.get(f"/post/{post['id']}/").status_code == 200
        assert client.get("/post/999999/").status_code == 404
        assert client.get("/no/such/path/12345").status_code == 404
        assert client.request("BREW", "/health").status_code == 405
        after = scrape(client)

        def delta(method: str, route: str, status: str) -> float:
            return requests(after, method, route, status) - requests(before, method, route, status)

        assert delta("POST", "/user/", "201") == 1
        assert delta("POST", "/token", "200") == 1
        assert delta("POST", "/post/", "201") == 1
        assert delta("GET", "/post/{id}/", "200") == 3
        assert delta("GET", "/post/{id}/", "404") == 1
        assert delta("GET", "unrouted", "404") == 1
        assert delta("OTHER", "/health", "405") == 1
        assert delta("GET", "/metrics", "200") == 1  # the first scrape
        # Templates only: no label holds an id or a path nobody routes.
        routes = {dict(labels).get("route") for _, labels in after} - {None}
        templates = {str(c.path) for c in iter_route_contexts(client.app.routes)}  # type: ignore[attr-defined]
        assert "/post/{id}/" in routes
        assert routes <= templates | {"unrouted"}, routes - templates

        count = "pamps_http_request_duration_seconds_count"
        timed = value(after, count, method="GET", route="/post/{id}/") - value(
            before, count, method="GET", route="/post/{id}/"
        )
        assert timed == 4
        total = "pamps_http_request_duration_seconds_sum"
        assert value(after, total, method="GET", route="/post/{id}/") > value(
            before, total, method="GET", route="/post/{id}/"
        )

    def test_logins_rate_limit_refusals_pool_and_build(
        self, client: TestClient, make_user: Callable[..., Any], backend: str
    ) -> None:
        alice = make_user()
        before = scrape(client)
        assert alice.headers  # a successful login
        wrong = {"username": alice.username, "password": "not the password"}
        assert client.post("/token", data=wrong).status_code == 401
        with rate_limits({"register": "1/hour", "login": "100/hour"}):
            user = {"username": "limited1", "email": "l1@example.com", "password": "p" * 12}
            assert client.post("/user/", json=user).status_code == 201
            user = {"username": "limited2", "email": "l2@example.com", "password": "p" * 12}
            assert client.post("/user/", json=user).status_code == 429
        after = scrape(client)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta("pamps_logins_total", result="success") == 1
        assert delta("pamps_logins_total", result="failure") == 1
        assert delta("pamps_ratelimit_refusals_total", limit="register") == 1
        assert value(after, "pamps_build_info", version=__version__, python=_python()) == 1

        pool = {
            name.removeprefix("pamps_db_pool_"): number
            for (name, labels), number in after.items()
            if name.startswith("pamps_db_pool_") and dict(labels) == {"database": backend}
        }
        assert pool["max_connections"] == pool_capacity()
        assert 1 <= pool["open_connections"] <= pool["max_connections"]
        assert 0 <= pool["idle_connections"] <= pool["open_connections"]
        if backend == "postgresql":
            assert pool["waiting_requests"] == 0
        else:  # SQLAlchemy's pool does not count waiters: no such series
            assert "waiting_requests" not in pool


def _python() -> str:
    import platform

    return platform.python_version()


class TestSettings:
    def test_off_switch_removes_the_route_and_the_counting(self, database_url: str) -> None:
        with metrics_settings(enabled=False):
            app = create_app(database_uri=database_url)
        with TestClient(create_app(database_uri=database_url)) as on:
            before = scrape(on)
            with TestClient(app) as off:
                assert off.get("/metrics").status_code == 404
                assert off.get("/health").status_code == 200
            after = scrape(on)
        # The 404 and the health check went uncounted; the scrape counted.
        assert requests(after, "GET", "/health", "200") == requests(before, "GET", "/health", "200")
        assert requests(after, "GET", "unrouted", "404") == requests(
            before, "GET", "unrouted", "404"
        )
        assert requests(after, "GET", "/metrics", "200") == (
            requests(before, "GET", "/metrics", "200") + 1
        )

    def test_a_separate_port_serves_them_while_the_app_runs(self, database_url: str) -> None:
        port = free_port()
        with metrics_settings(port=port):
            app = create_app(database_uri=database_url)
            with TestClient(app) as client:
                assert client.get("/health").status_code == 200
                assert client.get("/metrics").status_code == 404  # not on the API's port
                with httpx.Client() as http:
                    samples = scrape(http, f"http://127.0.0.1:{port}/metrics")
                assert requests(samples, "GET", "/health", "200") >= 1
                assert requests(samples, "GET", "unrouted", "404") >= 1
        with pytest.raises(httpx.ConnectError):  # closed with the app
            httpx.get(f"http://127.0.0.1:{port}/metrics")


class TestWorkers:
    """``pamps serve --workers 2``: each worker writes its metrics to files of a
    directory made for this start; a scrape, by any worker or on the separate
    port by the parent, sums them; the directory is gone once the server is."""

    def test_a_scrape_sums_both_workers(
        self, database_url: str, tmp_path: Any, backend: str
    ) -> None:
        # One way of serving per backend: each start costs two workers' imports.
        separate_port = backend == "postgresql"
        env = {"TMPDIR": str(tmp_path)}
        metrics_url = None
        if separate_port:
            port = free_port()
            env["PAMPS_METRICS__PORT"] = str(port)
            metrics_url = f"http://127.0.0.1:{port}/metrics"
        with live_process(database_url, workers=2, env=env, cli=True) as live:
            metrics_url = metrics_url or f"{live.url}/metrics"
            (directory,) = tmp_path.iterdir()
            assert directory.name.startswith("pamps-metrics-")
            # New connections each time: either worker may answer each, and
            # the scrapes too.
            for _ in range(20):
                assert httpx.get(f"{live.url}/health").status_code == 200
            answers = [httpx.get(metrics_url) for _ in range(3)]
            if separate_port:
                assert httpx.get(f"{live.url}/metrics").status_code == 404
            samples = parse(answers[-1].text)
            assert requests(samples, "GET", "/health", "200") == 20
            # Each worker samples its own pool: a sum of both proves the
            # scrape read both workers' files, whichever answered it.
            capacity = value(samples, "pamps_db_pool_max_connections", database=backend)
            # Each of the 2 workers sizes its pool ("auto") for a database on
            # this machine shared by 2 workers, without overflow.
            assert capacity == 2 * local_pool_size(usable_cores(), workers=2)
            assert value(samples, "pamps_build_info", version=__version__, python=_python()) == 1
        assert list(tmp_path.iterdir()) == []  # removed when the server stopped
        assert os.environ.get("PROMETHEUS_MULTIPROC_DIR") is None
