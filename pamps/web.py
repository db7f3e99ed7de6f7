"""Serving the built web app (frontend/) from the API's own process.

The UI is hooked into the router's no-match handler rather than added as a
catch-all route: every API route, its 405 for a wrong method and its
trailing-slash redirect keep winning, and a request that matches nothing
still gets the API's JSON 404 unless it is a browser asking for a page.
"""

import logging
import mimetypes
import os
from pathlib import Path

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import FileResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pamps.config import settings

log = logging.getLogger("pamps.web")

# Vite puts content-hashed files here: their URL changes with their content.
HASHED_DIR = "assets"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Files written beside each text asset by the build (frontend/scripts/compress.mjs).
COMPRESSED_SUFFIX = ".gz"


def dist_dir() -> Path:
    """The directory of the built UI: ``web.dist_dir``, else frontend/dist
    beside the package."""
    configured = str(settings.get("web.dist_dir", "") or "")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(__file__).resolve().parent.parent / "frontend" / "dist"


class WebApp:
    """The router's default handler: built files by path, ``index.html`` for
    page requests, the API's own 404 for everything else."""

    def __init__(self, root: Path, fallback: ASGIApp) -> None:
        self.root = root
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            headers = Headers(scope=scope)
            path = self.file_for(scope["path"])
            if path is None and "text/html" in headers.get("accept", ""):
                path = self.root / "index.html"
            if path is not None:
                await self.respond(path, headers, scope, receive, send)
                return
        await self.fallback(scope, receive, send)

    def file_for(self, url_path: str) -> Path | None:
        """The built file at ``url_path``, never one outside the root."""
        relative = url_path.lstrip("/")
        if not relative or relative.endswith("/"):
            return None
        parts = relative.split("/")
        if any(part in ("", ".", "..") or "\\" in part or "\0" in part for part in parts):
            return None
        candidate = self.root.joinpath(*parts)
        if candidate.suffix == COMPRESSED_SUFFIX or not candidate.is_file():
            return None
        # A symlink in the build could point elsewhere: stay under the root.
        if os.path.commonpath([candidate.resolve(), self.root]) != str(self.root):
            return None
        return candidate

    async def respond(
        self, path: Path, headers: Headers, scope: Scope, receive: Receive, send: Send
    ) -> None:
        hashed = path.parent == self.root / HASHED_DIR
        extra = {"Cache-Control": IMMUTABLE if hashed else REVALIDATE, "Vary": "Accept-Encoding"}
        if path.name == "index.html":
            extra["X-Content-Type-Options"] = "nosniff"
        compressed = path.with_name(path.name + COMPRESSED_SUFFIX)
        if "gzip" in headers.get("accept-encoding", "") and compressed.is_file():
            extra["Content-Encoding"] = "gzip"
            # The media type is the original file's, not gzip's.
            response = FileResponse(compressed, headers=extra, media_type=media_type(path))
        else:
            response = FileResponse(path, headers=extra)
        await response(scope, receive, send)


def media_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if guessed.startswith("text/") or guessed == "application/javascript":
        guessed += "; charset=utf-8"
    return guessed


def mount_web_app(app: FastAPI) -> None:
    """Serve the built UI at ``/`` when it exists; the API alone otherwise."""
    root = dist_dir()
    if not (root / "index.html").is_file():
        log.info(
            "web app not built (no %s): serving the API only; "
            "build it with `npm ci && npm run build` in frontend/",
            root / "index.html",
        )
        return
    app.router.default = WebApp(root, app.router.default)
    log.info("web app served from %s", root)
