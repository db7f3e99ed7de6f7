"""JSON answers rendered straight from rows.

Routes return rows (dicts) shaped like their ``response_model``; orjson
renders them, skipping FastAPI's validate-then-serialise pass through
pydantic ("orjson" row of docs/performance.md). The models
still describe the answers in OpenAPI, and the contract tests check that the
answers match them.
"""

from typing import Any

import orjson
from fastapi import Response


class JSONBytes(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def dumps(content: Any) -> bytes:
    """``content`` as JSON bytes, as answers render it."""
    # Aware UTC dates end in "Z", as pydantic writes them.
    return orjson.dumps(content, option=orjson.OPT_UTC_Z)


def json_response(content: Any, status_code: int = 200, link: str | None = None) -> JSONBytes:
    """``content`` as JSON; ``link`` is a next-page Link header value."""
    headers = {"Link": link} if link else None
    return JSONBytes(content, status_code=status_code, headers=headers)
