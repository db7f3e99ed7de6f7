"""What a JSON request body may hold: the values RFC 8259 defines, nothing more.

Python's ``json`` also accepts ``NaN``, ``Infinity``, numbers too large for a
float (``1e400`` becomes ``inf``) and lone UTF-16 surrogates (``"\\ud800"``,
or the raw bytes ``ED A0 80``, which it decodes leniently). None of them can
be stored or sent back as JSON, so they are refused before any route sees
them.
"""

import json
import math
import re
from typing import Any

# An escaped UTF-16 surrogate; only bodies holding one need a closer look.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class NotJSONValue(Exception):
    """A value JSON cannot carry; the message says which."""


def _constant(name: str) -> Any:
    raise NotJSONValue(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotJSONValue(f"{text[:20]} is too large a number")
    return value


def _has_lone_surrogate(value: Any) -> bool:
    # A loop, not recursion: JSON nested as deep as json.loads allows must
    # not overflow the stack here.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
    return False


_STRICT = json.JSONDecoder(parse_constant=_constant, parse_float=_float)
# Where BodySizeLimit leaves a body's value once checked, so that a LeanRoute
# does not parse it again; the value json.loads would give.
PARSED_BODY = "pamps.parsed_body"
NOT_PARSED: Any = object()


def json_body_problem(body: bytes) -> tuple[tuple[int, str] | None, Any]:
    """((status, reason) for a body that is not strict UTF-8 JSON, or None;
    the body's value, or NOT_PARSED).

    Bytes that are not UTF-8 are a 400 (the body cannot be parsed); values
    JSON cannot carry are a 422. A body that is simply malformed is left to
    FastAPI, which answers it as it always does."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return (400, "The request body is not valid UTF-8"), NOT_PARSED
    # As json.loads reads bytes (a BOM, UTF-16), with one decoder for every body.
    encoding = json.detect_encoding(body)
    if encoding != "utf-8":
        text = body.decode(encoding, "surrogatepass")
    try:
        value = _STRICT.decode(text)
    except NotJSONValue as error:
        return (422, str(error)), NOT_PARSED
    except (ValueError, RecursionError):
        return None, NOT_PARSED
    if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(value):
        return (422, "a string holds a lone UTF-16 surrogate"), NOT_PARSED
    return None, value


def is_json(content_type: bytes | None) -> bool:
    """Whether FastAPI parses a body of this type as JSON: no type at all,
    ``application/json`` or ``application/*+json`` (parameters aside)."""
    if content_type is None:
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )
