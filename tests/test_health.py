import re

from fastapi.testclient import TestClient


def test_health_reports_database_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "database": "ok"}
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]


def test_request_id_is_generated_kept_or_replaced(client: TestClient) -> None:
    generated = {client.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(generated) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in generated), generated
    kept = client.get("/health", headers={"X-Request-ID": "proxy-42.a_b"})
    assert kept.headers["x-request-id"] == "proxy-42.a_b"
    for unsafe in (b"two words", b"x" * 65, "id\u00e9".encode(), b""):
        replaced = client.get("/health", headers={"X-Request-ID": unsafe})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["x-request-id"]), unsafe
    # Exactly one of each added header, whatever the route answered.
    missing = client.get("/post/999999/")
    assert missing.status_code == 404
    assert len(missing.headers.get_list("x-request-id")) == 1
    assert missing.headers.get_list("x-content-type-options") == ["nosniff"]
