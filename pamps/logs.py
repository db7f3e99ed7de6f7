"""Logging: one line per event, each with the request id.

``logging.format = "plain"`` (the default) writes text for a terminal;
``"json"`` writes one JSON object per line, Uvicorn's own lines included, and
one object per request (written by :class:`pamps.middleware.RequestContext`
in place of Uvicorn's access lines) with its method, route, status, duration
and user. The fields are listed in docs/operations.md.
"""

import copy
import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from pamps.config import settings
from pamps.middleware import RequestIdFilter, request_id_var

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# The request record's fields (pamps.middleware.log_request), copied as keys.
REQUEST_FIELDS = ("method", "path", "route", "status", "duration_ms", "user_id", "client")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def json_format() -> bool:
    return str(settings.logging.format) == "json"


def access_records() -> bool:
    """Whether RequestContext writes a record per request: JSON logs only
    (plain ones leave that to Uvicorn's access log)."""
    return json_format() and bool(settings.logging.access_log)


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC), level, logger, message,
    request id, the request's fields when it is a request's record, and the
    traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = request_id_var.get()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None if request_id == "-" else request_id,
        }
        for name in REQUEST_FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging() -> None:
    """The ``pamps`` loggers' handler, in the configured format; in JSON,
    Uvicorn's handlers too, and Uvicorn's access lines off (RequestContext
    writes the request records)."""
    logger = logging.getLogger("pamps")
    handler = next(
        (h for h in logger.handlers if any(isinstance(f, RequestIdFilter) for f in h.filters)),
        None,
    )
    if handler is None:
        handler = logging.StreamHandler()
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    json = json_format()
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(FORMAT))
    if json:
        for name in UVICORN_LOGGERS:
            for uvicorn_handler in logging.getLogger(name).handlers:
                uvicorn_handler.setFormatter(JsonFormatter())
    logging.getLogger("uvicorn.access").disabled = json


def uvicorn_log_config() -> dict[str, Any] | None:
    """Uvicorn's logging configuration for ``pamps serve``: its own in plain
    format (None), its handlers with JSON formatters in JSON, so that the
    lines written before the app is loaded are JSON too."""
    if not json_format():
        return None
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for name in config["formatters"]:
        config["formatters"][name] = {"()": f"{__name__}.JsonFormatter"}
    return config
