"""Discovery: what the server is, for clients that ask before logging in."""

import struct
import zlib
from functools import cache
from typing import Any

from fastapi import Request, Response

from pamps.database import Row
from pamps.deps import DatabaseDep
from pamps.render import JSONBytes, json_response
from pamps.routes.mastodon import entities
from pamps.routes.mastodon.common import RateLimited, Scoped
from pamps.routing import SectionRouter
from pamps.services import users

router = SectionRouter(tags=["mastodon"], dependencies=[RateLimited])


@router.get("/api/v1/instance", summary="Instance (v1)")
@router.get("/api/v1/instance/", include_in_schema=False)
async def instance_v1(db: DatabaseDep, request: Request) -> JSONBytes:
    """The server, as Mastodon's v1 instance entity."""
    counts = await users.counts(db)
    stats = counts | {"domain_count": 1}
    return json_response(entities.instance_v1(request, stats))


@router.get("/api/v2/instance", summary="Instance (v2)")
@router.get("/api/v2/instance/", include_in_schema=False)
async def instance_v2(db: DatabaseDep, request: Request) -> JSONBytes:
    """The server, as Mastodon's v2 instance entity."""
    counts = await users.counts(db)
    return json_response(entities.instance_v2(request, counts["user_count"]))


@router.get("/.well-known/nodeinfo", summary="NodeInfo discovery")
async def nodeinfo_links(request: Request) -> JSONBytes:
    """Where the NodeInfo document is."""
    href = f"{entities.base_url(request)}/nodeinfo/2.0"
    schema = "http://nodeinfo.diaspora.software/ns/schema/2.0"
    return json_response({"links": [{"rel": schema, "href": href}]})


@router.get("/nodeinfo/2.0", summary="NodeInfo 2.0")
async def nodeinfo(db: DatabaseDep) -> JSONBytes:
    """Software, protocols and usage, as NodeInfo 2.0."""
    counts = await users.counts(db)
    return json_response(
        {
            "version": "2.0",
            "software": {"name": "pamps", "version": entities.__version__},
            "protocols": [],
            "services": {"inbound": [], "outbound": []},
            "usage": {
                "users": {"total": counts["user_count"]},
                "localPosts": counts["status_count"],
            },
            "openRegistrations": True,
            "metadata": {},
        }
    )


@router.get("/api/v1/custom_emojis", summary="Custom emojis")
@router.get("/api/v1/custom_emojis/", include_in_schema=False)
async def custom_emojis() -> JSONBytes:
    """Pamps has no custom emojis: always an empty list."""
    return json_response([])


@router.get("/api/v1/preferences", summary="Preferences")
@router.get("/api/v1/preferences/", include_in_schema=False)
async def preferences(token: Row = Scoped("read:accounts")) -> JSONBytes:
    """Posting and reading defaults: Pamps has one of each."""
    answer: dict[str, Any] = {
        "posting:default:visibility": "public",
        "posting:default:sensitive": False,
        "posting:default:language": None,
        "reading:expand:media": "default",
        "reading:expand:spoilers": False,
    }
    return json_response(answer)


@cache
def default_avatar() -> bytes:
    """A plain 48x48 PNG, built once: every account's avatar and header
    until it sets its own."""
    size = 48
    raw = b"".join(b"\x00" + bytes((0x9A, 0xA5, 0xB1)) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@router.get(entities.DEFAULT_AVATAR, summary="Default avatar", include_in_schema=False)
async def avatar() -> Response:
    """The image of an account without one of its own."""
    headers = {"Cache-Control": "public, max-age=86400"}
    return Response(default_avatar(), media_type="image/png", headers=headers)
