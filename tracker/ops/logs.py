"""Logs on stderr: one JSON object per line (LOG_FORMAT = "json") or one line of text ("text")."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from tracker.config import ConfigError

FORMATS = ("json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
#: The request's fields a log record may carry (set by the request log line, or taken from the request).
REQUEST_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "user")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


def _current_request_id() -> str | None:
    from flask import g, has_request_context

    if not has_request_context():
        return None
    rid = g.get("request_id")
    return str(rid) if rid else None


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request being served (or none), so each line names it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, and the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is None and name == "request_id":
                value = _current_request_id()
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with the request id in brackets ("-" outside a request)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the moment, so a replaced stderr never gets a stale stream."""

    tracker_ops: bool  # set on the handler `configure` installs, which the next call replaces

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def formatter(fmt: str) -> logging.Formatter:
    """The formatter of a LOG_FORMAT value."""
    return JsonFormatter() if fmt == "json" else TextFormatter()


def resolve_format(settings: dict[str, Any], default: str | None = None) -> str | None:
    """LOG_FORMAT when set, else `default`; an unknown value is a configuration error."""
    fmt = str(settings.get("LOG_FORMAT") or "").strip().lower() or default
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


def configure(settings: dict[str, Any], default: str | None = None) -> str | None:
    """Send the root logger's records to stderr in the configured format; returns the format used.

    Without LOG_FORMAT and without `default`, logging is left as it is (commands set up their own).
    Calling it again replaces the handler it installed before.
    """
    fmt = resolve_format(settings, default)
    level = str(settings.get("LOG_LEVEL") or "INFO").strip().upper()
    if level not in LEVELS:
        raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    if fmt is None:
        return None
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "tracker_ops", False)]:
        root.removeHandler(old)
    handler = StderrHandler()
    handler.tracker_ops = True
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    return fmt
