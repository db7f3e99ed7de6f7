"""Mastodon's entities (Account, Status, Relationship, Instance, ...) from
Pamps' rows: ids as strings, dates with milliseconds and Z, text as HTML."""

import html
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Request

from pamps import __version__, pagination
from pamps.config import settings
from pamps.database import Row
from pamps.services.posts import AUTHOR_COLUMNS

MASTODON_VERSION = f"4.2.0 (compatible; Pamps {__version__})"
LINK_REL = "nofollow noopener noreferrer"
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")
DEFAULT_AVATAR = "/api/pamps/avatar.png"


BASE_URL = "pamps.base_url"  # scope key: the request's base URL, worked out once


def base_url(request: Request) -> str:
    """Starlette's base URL of the request, without its trailing slash."""
    scope = request.scope
    base: str | None = scope.get(BASE_URL)
    if base is None:
        base = scope[BASE_URL] = pagination.base_url(request)
    return base


def when(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and Z."""
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(UTC)
    # isoformat() is C; an f-string's format spec cost twice a status' other fields.
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _linked(line: str) -> str:
    out, last = [], 0
    for match in _URL.finditer(line):
        out.append(html.escape(line[last : match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}" rel="{LINK_REL}" target="_blank">{url}</a>')
        last = match.end()
    out.append(html.escape(line[last:]))
    return "".join(out)


def to_html(text: str | None) -> str:
    """Plain text as Mastodon's HTML: paragraphs (blank lines) in <p>, line
    breaks as <br>, everything escaped, URLs linked."""
    if not text:
        return ""
    if "\n" not in text and "http" not in text:  # most posts: one escaped paragraph
        return f"<p>{html.escape(text.strip())}</p>"
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    return "".join(
        "<p>" + "<br>".join(_linked(line) for line in para.split("\n")) + "</p>"
        for para in paragraphs
    )


def account(request: Request, row: Row) -> dict[str, Any]:
    """An Account from a profile row (users' public columns and counters)."""
    return account_at(base_url(request), row)


def account_at(base: str, row: Row) -> dict[str, Any]:
    """:func:`account` for a server at URL ``base``."""
    url = f"{base}/@{row['username']}"
    avatar = row.get("avatar") or f"{base}{DEFAULT_AVATAR}"
    return {
        "id": str(row["id"]),
        "username": row["username"],
        "acct": row["username"],
        "display_name": row["username"],
        "locked": False,
        "bot": False,
        "discoverable": True,
        "group": False,
        "created_at": when(row["created_at"]),
        "note": to_html(row.get("bio")),
        "url": url,
        "uri": url,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": f"{base}{DEFAULT_AVATAR}",
        "header_static": f"{base}{DEFAULT_AVATAR}",
        "followers_count": int(row["followers_count"]),
        "following_count": int(row["following_count"]),
        "statuses_count": int(row["posts_count"]),
        "last_status_at": None,
        "emojis": [],
        "fields": [],
    }


def joined_account(base: str, row: Row) -> dict[str, Any]:
    """The author's Account from a row of services.posts.with_authors."""
    profile = {"id": row["user_id"], "username": row["username"]}
    profile |= {name: row[f"author_{name}"] for name in AUTHOR_COLUMNS}
    return account_at(base, profile)


def joined_status(base: str, row: Row, author: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Status from a row of services.posts.with_authors; ``author``: its
    Account, when already rendered."""
    if author is None:
        author = joined_account(base, row)
    return status(row, author, row["parent_user_id"], bool(row["viewer_liked"]))


def credential_account(request: Request, row: Row) -> dict[str, Any]:
    """verify_credentials' Account: with ``source``, what the user wrote."""
    return account(request, row) | {
        "source": {
            "note": row.get("bio") or "",
            "fields": [],
            "privacy": "public",
            "sensitive": False,
            "language": None,
            "follow_requests_count": 0,
        }
    }


def status(
    row: Row,
    author: dict[str, Any],
    parent_author: int | None = None,
    favourited: bool = False,
) -> dict[str, Any]:
    """A Status from a post row (services.posts' columns) and its author's Account."""
    url = f"{author['url']}/{row['id']}"
    parent = row.get("parent_id")
    return {
        "id": str(row["id"]),
        "uri": url,
        "url": url,
        "created_at": when(row["date"]),
        "edited_at": when(row.get("edited_at")),
        "account": author,
        "content": to_html(row["text"]),
        "visibility": "public",
        "sensitive": False,
        "spoiler_text": "",
        "in_reply_to_id": str(parent) if parent is not None else None,
        "in_reply_to_account_id": str(parent_author) if parent_author is not None else None,
        "replies_count": int(row.get("replies_count", 0)),
        "reblogs_count": 0,
        "favourites_count": int(row.get("likes_count", 0)),
        "favourited": favourited,
        "reblogged": False,
        "muted": False,
        "bookmarked": False,
        "pinned": False,
        "reblog": None,
        "application": None,
        "language": None,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }


def status_edit(status: dict[str, Any]) -> dict[str, Any]:
    """A StatusEdit: one version of a rendered Status."""
    return {
        "content": status["content"],
        "spoiler_text": status["spoiler_text"],
        "sensitive": status["sensitive"],
        "created_at": status["edited_at"] or status["created_at"],
        "account": status["account"],
        "poll": None,
        "media_attachments": status["media_attachments"],
        "emojis": status["emojis"],
    }


def application(app: Row, secret: str | None = None) -> dict[str, Any]:
    uris = app["redirect_uris"].split("\n")
    answer: dict[str, Any] = {
        "id": str(app["id"]) if "id" in app else None,
        "name": app["name"],
        "website": app.get("website"),
        "scopes": app["scopes"].split(),
        "redirect_uri": uris[0] if len(uris) == 1 else "\n".join(uris),
        "redirect_uris": uris,
        "vapid_key": "",
    }
    if secret is not None:
        answer |= {"client_id": app["client_id"], "client_secret": secret}
    return answer


def instance_v1(request: Request, stats: Row) -> dict[str, Any]:
    base = base_url(request)
    host = request.url.netloc
    return {
        "uri": host,
        "title": "Pamps",
        "short_description": "A Twitter-style microblog.",
        "description": "A Twitter-style microblog.",
        "email": "",
        "version": MASTODON_VERSION,
        "urls": {"streaming_api": base.replace("http", "ws", 1)},
        "stats": stats,
        "thumbnail": f"{base}{DEFAULT_AVATAR}",
        "languages": ["en"],
        "registrations": True,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": _configuration(),
        "contact_account": None,
        "rules": [],
    }


def instance_v2(request: Request, users: int) -> dict[str, Any]:
    base = base_url(request)
    return {
        "domain": request.url.netloc,
        "title": "Pamps",
        "version": MASTODON_VERSION,
        "source_url": "",
        "description": "A Twitter-style microblog.",
        "usage": {"users": {"active_month": users}},
        "thumbnail": {"url": f"{base}{DEFAULT_AVATAR}"},
        "languages": ["en"],
        "configuration": _configuration()
        | {"urls": {"streaming": base.replace("http", "ws", 1)}, "vapid": {"public_key": ""}},
        "registrations": {"enabled": True, "approval_required": False, "message": None},
        "api_versions": {"mastodon": 0},
        "contact": {"email": "", "account": None},
        "rules": [],
    }


def _configuration() -> dict[str, Any]:
    return {
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
        "statuses": {
            "max_characters": int(settings.posts.max_length),
            "max_media_attachments": 0,
            "characters_reserved_per_url": 23,
        },
        "media_attachments": {
            "supported_mime_types": [],
            "image_size_limit": 0,
            "image_matrix_limit": 0,
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
        },
        "polls": {
            "max_options": 0,
            "max_characters_per_option": 0,
            "min_expiration": 0,
            "max_expiration": 0,
        },
    }
