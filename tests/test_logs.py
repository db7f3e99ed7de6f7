"""Logs in both formats: plain lines for a terminal (the default), and JSON
lines with one record per request (``logging.format = "json"``)."""

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from pamps.app import create_app
from pamps.config import settings
from pamps.logs import configure_logging
from pamps.middleware import RequestIdFilter

PASSWORD = "correct horse battery"


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the ``pamps`` loggers write, while the test runs."""
    configure_logging()
    logger = logging.getLogger("pamps")
    (handler,) = [
        h for h in logger.handlers if any(isinstance(f, RequestIdFilter) for f in h.filters)
    ]
    assert isinstance(handler, logging.StreamHandler)
    output = io.StringIO()
    previous = handler.setStream(output)
    try:
        yield output
    finally:
        handler.setStream(previous)


@pytest.fixture
def json_logs() -> Iterator[None]:
    saved = settings.logging.format
    settings.set("logging.format", "json")
    try:
        yield
    finally:
        settings.set("logging.format", saved)
        configure_logging()


def register_and_login(client: TestClient, username: str) -> tuple[int, dict[str, str]]:
    user = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    created = client.post("/user/", json=user)
    assert created.status_code == 201, created.text
    token = client.post("/token", data={"username": username, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return created.json()["id"], {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_plain_lines_by_default_and_no_request_records(
    database_url: str, log_output: io.StringIO
) -> None:
    assert settings.logging.format == "plain"
    with TestClient(create_app(database_uri=database_url)) as client:
        answer = client.get("/health")
        assert answer.status_code == 200
        logging.getLogger("pamps").warning("a plain line")
    lines = log_output.getvalue().splitlines()
    assert "pamps.access" not in log_output.getvalue()  # Uvicorn's access log does that
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING pamps \[-\] a plain line"
    assert any(re.fullmatch(pattern, line) for line in lines), lines


def test_json_lines_one_record_per_request(
    database_url: str, json_logs: None, log_output: io.StringIO
) -> None:
    with TestClient(create_app(database_uri=database_url)) as client:
        user_id, headers = register_and_login(client, "jsonlogs")
        me = client.get("/user/me/", headers=headers)
        assert me.status_code == 200
        missing = client.get("/no/such/page", headers={"X-Request-ID": "trace-42"})
        assert missing.status_code == 404
        try:
            raise ZeroDivisionError("for the log")
        except ZeroDivisionError:
            logging.getLogger("pamps").exception("an error, logged")
    records = [json.loads(line) for line in log_output.getvalue().splitlines()]
    requests = [r for r in records if r["logger"] == "pamps.access"]
    by_id = {r["request_id"]: r for r in requests}

    mine = by_id[me.headers["X-Request-ID"]]
    assert mine["level"] == "INFO"
    assert mine["message"] == "GET /user/me/ 200"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", mine["time"])
    assert {k: mine[k] for k in ("method", "path", "route", "status", "user_id", "client")} == {
        "method": "GET",
        "path": "/user/me/",
        "route": "/user/me/",
        "status": 200,
        "user_id": user_id,
        "client": "testclient",
    }
    assert isinstance(mine["duration_ms"], float) and mine["duration_ms"] > 0

    unknown = by_id["trace-42"]  # the request id a proxy sent
    assert (unknown["route"], unknown["status"], unknown["user_id"]) == (None, 404, None)
    # Registration and login: no user known to the request (no token).
    assert [(r["route"], r["status"], r["user_id"]) for r in requests[:2]] == [
        ("/user/", 201, None),
        ("/token", 200, None),
    ]

    (error,) = [r for r in records if r["message"] == "an error, logged"]
    assert error["level"] == "ERROR" and error["request_id"] is None
    assert "ZeroDivisionError: for the log" in error["error"]
    assert all(r["time"] and r["level"] and r["logger"] for r in records)


def test_json_settings_are_validated(json_logs: None) -> None:
    from pamps.config import ConfigError, check_settings

    settings.set("logging.format", "xml")
    with pytest.raises(ConfigError, match=r"logging\.format"):
        check_settings()
