"""The built web app served by Pamps: pages for browsers, the API unchanged."""

import gzip
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pamps.app import create_app
from pamps.config import settings

PAGE = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
INDEX = "<!doctype html><title>Pamps</title><div id=root></div>"
SCRIPT = "console.log('pamps');" * 50


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A tiny build, shaped like Vite's output."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text(SCRIPT)
    (root / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(SCRIPT.encode()))
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_text("outside the build")
    return root


@pytest.fixture
def web_dir() -> Iterator[None]:
    before = settings.get("web.dist_dir", "")
    yield
    settings.set("web.dist_dir", before)


@pytest.fixture
def web(database_url: str, dist: Path, web_dir: None) -> Iterator[TestClient]:
    settings.set("web.dist_dir", str(dist))
    with TestClient(create_app(database_uri=database_url)) as test_client:
        yield test_client


def test_pages_fall_back_to_index_html(web: TestClient) -> None:
    for path in ("/", "/login", "/timeline", "/@alice", "/@alice/followers", "/p/12", "/nope/x"):
        answer = web.get(path, headers=PAGE)
        assert answer.status_code == 200, path
        assert answer.text == INDEX
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["cache-control"] == "no-cache"
    head = web.head("/settings", headers=PAGE)
    assert head.status_code == 200
    assert head.content == b""


def test_built_files_by_path(web: TestClient) -> None:
    asset = web.get("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert asset.status_code == 200
    assert asset.text == SCRIPT
    assert "javascript" in asset.headers["content-type"]
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "content-encoding" not in asset.headers
    icon = web.get("/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["cache-control"] == "no-cache"


def test_compressed_copy_for_clients_that_accept_it(web: TestClient) -> None:
    answer = web.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip, br"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert "javascript" in answer.headers["content-type"]
    assert answer.text == SCRIPT  # httpx decodes it
    # The .gz file itself is not a public path.
    assert web.get("/assets/index-abc123.js.gz").status_code == 404


def test_no_file_outside_the_build(web: TestClient) -> None:
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"):
        answer = web.get(path)
        assert answer.status_code == 404, path
        assert "outside the build" not in answer.text


def test_api_routes_win(web: TestClient) -> None:
    answer = web.get("/post/", headers=PAGE)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == []
    assert web.get("/health", headers=PAGE).json()["status"] == "ok"
    assert web.get("/openapi.json", headers=PAGE).json()["info"]["title"] == "Pamps"


def test_json_clients_see_no_change(web: TestClient) -> None:
    for headers in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        answer = web.get("/no/such/path", headers=headers)
        assert answer.status_code == 404
        assert answer.json() == {"detail": "Not Found"}
    # A page URL asked for by a JSON client is not a page either.
    assert web.get("/timeline", headers={"Accept": "application/json"}).status_code == 404
    # A wrong method on an API path is still the API's 405, HTML or not.
    wrong = web.put("/post/", headers=PAGE)
    assert wrong.status_code == 405
    assert wrong.json() == {"detail": "Method Not Allowed"}
    # Only GET and HEAD get pages.
    posted = web.post("/login", headers=PAGE)
    assert posted.status_code == 404
    assert posted.json() == {"detail": "Not Found"}
    # A missing API object is the API's 404, even for a browser.
    missing = web.get("/user/nobody_here/", headers=PAGE)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"


def test_starts_without_a_build(
    database_url: str, tmp_path: Path, web_dir: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings.set("web.dist_dir", str(tmp_path / "never-built"))
    logger = logging.getLogger("pamps.web")
    logger.addHandler(caplog.handler)  # "pamps" does not propagate to the root
    try:
        with caplog.at_level(logging.INFO, logger="pamps.web"):
            app = create_app(database_uri=database_url)
    finally:
        logger.removeHandler(caplog.handler)
    assert any("web app not built" in r.getMessage() for r in caplog.records)
    with TestClient(app) as api_only:
        assert api_only.get("/post/").status_code == 200
        page = api_only.get("/", headers=PAGE)
        assert page.status_code == 404
        assert page.json() == {"detail": "Not Found"}
