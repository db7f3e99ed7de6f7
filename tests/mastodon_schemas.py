"""JSON schemas of the Mastodon entities Pamps answers, after Mastodon's
API documentation: every field present with its type."""

from typing import Any

from jsonschema import Draft202012Validator

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
ID = {"type": "string", "pattern": "^[0-9]+$"}
DATE = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"}
URL = {"type": "string", "pattern": "^https?://"}
COUNT = {"type": "integer", "minimum": 0}
BOOL = {"type": "boolean"}
EMPTY = {"type": "array", "maxItems": 0}


def obj(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(properties)}


ACCOUNT = obj(
    {
        "id": ID,
        "username": STRING,
        "acct": STRING,
        "display_name": STRING,
        "locked": BOOL,
        "bot": BOOL,
        "discoverable": {"type": ["boolean", "null"]},
        "group": BOOL,
        "created_at": DATE,
        "note": STRING,
        "url": URL,
        "uri": URL,
        "avatar": URL,
        "avatar_static": URL,
        "header": URL,
        "header_static": URL,
        "followers_count": COUNT,
        "following_count": COUNT,
        "statuses_count": COUNT,
        "last_status_at": NULLABLE_STRING,
        "emojis": EMPTY,
        "fields": EMPTY,
    }
)
CREDENTIAL_ACCOUNT = {
    "allOf": [
        ACCOUNT,
        obj(
            {
                "source": obj(
                    {
                        "note": STRING,
                        "fields": EMPTY,
                        "privacy": {"enum": ["public", "unlisted", "private", "direct"]},
                        "sensitive": BOOL,
                        "language": NULLABLE_STRING,
                    }
                )
            }
        ),
    ]
}
STATUS = obj(
    {
        "id": ID,
        "uri": URL,
        "url": URL,
        "created_at": DATE,
        "edited_at": {"anyOf": [DATE, {"type": "null"}]},
        "account": ACCOUNT,
        "content": STRING,
        "visibility": {"enum": ["public", "unlisted", "private", "direct"]},
        "sensitive": BOOL,
        "spoiler_text": STRING,
        "in_reply_to_id": {"anyOf": [ID, {"type": "null"}]},
        "in_reply_to_account_id": {"anyOf": [ID, {"type": "null"}]},
        "replies_count": COUNT,
        "reblogs_count": COUNT,
        "favourites_count": COUNT,
        "favourited": BOOL,
        "reblogged": BOOL,
        "muted": BOOL,
        "bookmarked": BOOL,
        "pinned": BOOL,
        "reblog": {"type": "null"},
        "application": {"type": ["object", "null"]},
        "language": NULLABLE_STRING,
        "media_attachments": EMPTY,
        "mentions": EMPTY,
        "tags": EMPTY,
        "emojis": EMPTY,
        "card": {"type": "null"},
        "poll": {"type": "null"},
    }
)
STATUSES = {"type": "array", "items": STATUS}
ACCOUNTS = {"type": "array", "items": ACCOUNT}
SEARCH = obj({"accounts": ACCOUNTS, "statuses": STATUSES, "hashtags": EMPTY})
CONTEXT = obj({"ancestors": STATUSES, "descendants": STATUSES})
STATUS_SOURCE = obj({"id": ID, "text": STRING, "spoiler_text": STRING})
STATUS_EDITS = {
    "type": "array",
    "minItems": 1,
    "items": obj(
        {
            "content": STRING,
            "spoiler_text": STRING,
            "sensitive": BOOL,
            "created_at": DATE,
            "account": ACCOUNT,
            "poll": {"type": ["object", "null"]},
            "media_attachments": EMPTY,
            "emojis": EMPTY,
        }
    ),
}
RELATIONSHIP = obj(
    {
        "id": ID,
        **{
            name: BOOL
            for name in (
                "following",
                "followed_by",
                "showing_reblogs",
                "notifying",
                "requested",
                "requested_by",
                "blocking",
                "blocked_by",
                "muting",
                "muting_notifications",
                "domain_blocking",
                "endorsed",
            )
        },
        "languages": {"type": ["array", "null"]},
        "note": STRING,
    }
)
RELATIONSHIPS = {"type": "array", "items": RELATIONSHIP}
APPLICATION = obj(
    {
        "name": STRING,
        "website": NULLABLE_STRING,
        "scopes": {"type": "array", "items": STRING},
        "redirect_uri": STRING,
        "redirect_uris": {"type": "array", "items": STRING, "minItems": 1},
    }
)
CREDENTIAL_APPLICATION = {
    "allOf": [APPLICATION, obj({"id": ID, "client_id": STRING, "client_secret": STRING})]
}
TOKEN = obj(
    {
        "access_token": STRING,
        "token_type": {"const": "Bearer"},
        "scope": STRING,
        "created_at": COUNT,
    }
)
EMPTY_OBJECT = {"type": "object", "maxProperties": 0}
PREFERENCES = obj(
    {
        "posting:default:visibility": {"enum": ["public", "unlisted", "private", "direct"]},
        "posting:default:sensitive": BOOL,
        "posting:default:language": NULLABLE_STRING,
        "reading:expand:media": STRING,
        "reading:expand:spoilers": BOOL,
    }
)
ERROR = obj({"error": STRING})
OAUTH_ERROR = obj({"error": STRING, "error_description": STRING})
CONFIGURATION = obj(
    {
        "statuses": obj({"max_characters": COUNT, "max_media_attachments": COUNT}),
        "accounts": obj({"max_featured_tags": COUNT}),
    }
)
INSTANCE_V1 = obj(
    {
        "uri": STRING,
        "title": STRING,
        "description": STRING,
        "version": {"type": "string", "pattern": r"^4\.2\.0 \(compatible; Pamps "},
        "urls": obj({"streaming_api": STRING}),
        "stats": obj({"user_count": COUNT, "status_count": COUNT, "domain_count": COUNT}),
        "configuration": CONFIGURATION,
        "registrations": BOOL,
        "languages": {"type": "array"},
    }
)
INSTANCE_V2 = obj(
    {
        "domain": STRING,
        "title": STRING,
        "version": STRING,
        "description": STRING,
        "configuration": {"allOf": [CONFIGURATION, obj({"urls": obj({"streaming": STRING})})]},
        "registrations": obj({"enabled": BOOL}),
        "api_versions": obj({"mastodon": COUNT}),
        "contact": obj({"email": STRING}),
        "usage": obj({"users": obj({"active_month": COUNT})}),
    }
)


def check(schema: dict[str, Any], value: Any) -> None:
    """Fail with every difference between ``value`` and ``schema``."""
    errors = sorted(Draft202012Validator(schema).iter_errors(value), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def check_list(schema: dict[str, Any], values: Any) -> None:
    check({"type": "array", "items": schema}, values)
