"""Limits on requests: the size of a body, the length of a URL, and the rate of each API token."""

from __future__ import annotations

import hashlib
import math
import threading
import time

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestURITooLarge

from tracker.config import ConfigError

#: Buckets kept at most; beyond that the full ones (tokens idle for a minute or more) are dropped.
MAX_BUCKETS = 10_000


class RateLimiter:
    """A token bucket per API token: `per_minute` requests at once, refilled evenly over a minute.

    It lives in one process: with several gunicorn workers, each keeps its own buckets (see
    docs/security.md, "Input limits").
    """

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait(self, token: str, per_minute: int, now: float | None = None) -> float:
        """0 when a request with `token` may go ahead now (and it is counted), else the seconds to wait."""
        if per_minute <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        key = hashlib.sha256(token.encode()).hexdigest()  # the token itself is not kept in memory
        rate = per_minute / 60
        with self._lock:
            tokens, last = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                self._prune(now, per_minute, rate)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / rate

    def _prune(self, now: float, per_minute: int, rate: float) -> None:
        if len(self._buckets) > MAX_BUCKETS:
            self._buckets = {
                k: (t, at) for k, (t, at) in self._buckets.items() if t + (now - at) * rate < per_minute
            }


def retry_after(token: str) -> int | None:
    """Seconds the client must wait before its next request with `token`, or None when it may go on."""
    limiter: RateLimiter = current_app.extensions["tracker.rate"]
    per_minute = int(current_app.extensions["tracker"].settings.get("API_RATE_LIMIT") or 0)
    seconds = limiter.wait(token, per_minute)
    return max(1, math.ceil(seconds)) if seconds > 0 else None


def _refuse_long_urls() -> None:
    limit = int(current_app.config["MAX_URL_LENGTH"])
    if len(request.path.encode()) + len(request.query_string) > limit:
        raise RequestURITooLarge(f"the URL is longer than {limit} characters")


#: Endpoints that take a file: their body may be as large as ATTACHMENT_MAX_BYTES, and some room for the form.
UPLOADS = frozenset({"api.post_attachment", "web_cases.add_document", "web_cases.new_event"})
FORM_ROOM = 1024 * 1024


def _allow_uploads() -> None:
    # Before the CSRF check reads the form: the limit must be raised before anything reads the body.
    if request.endpoint in UPLOADS:
        limit = int(current_app.config["ATTACHMENT_MAX_BYTES"]) + FORM_ROOM
        request.max_content_length = max(limit, int(current_app.config["MAX_CONTENT_LENGTH"]))


def init_app(app: Flask) -> None:
    settings = app.extensions["tracker"].settings
    for key in ("MAX_REQUEST_BYTES", "MAX_URL_LENGTH", "ATTACHMENT_MAX_BYTES"):
        value = settings.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{key} must be a positive whole number")
    rate = settings.get("API_RATE_LIMIT")
    if not isinstance(rate, int) or isinstance(rate, bool) or rate < 0:
        raise ConfigError("API_RATE_LIMIT must be a whole number of 0 (no limit) or more")
    # Werkzeug refuses a larger body from its Content-Length, before reading any of it.
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_REQUEST_BYTES"]
    app.config["MAX_URL_LENGTH"] = settings["MAX_URL_LENGTH"]
    app.extensions["tracker.rate"] = RateLimiter()
    app.before_request(_refuse_long_urls)
    app.before_request(_allow_uploads)
