"""Operations: proxy headers, request ids, the request log line, /healthz and /metrics."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from tracker.config import ConfigError
from tracker.ops import health, logs, metrics

request_log = logging.getLogger("tracker.request")
#: Paths polled by monitors: their request lines are logged at DEBUG, not INFO.
QUIET_ENDPOINTS = frozenset({"ops_healthz", "ops_metrics"})
#: URL parts that are secrets (the calendar feed's token): logged as a placeholder.
SECRET_ARGS = frozenset({"token"})


def init_app(app: Flask) -> None:
    """Proxy headers (TRUSTED_PROXIES), logging (LOG_FORMAT), request hooks, /healthz and /metrics."""
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if not isinstance(hops, int) or isinstance(hops, bool) or hops < 0:
        raise ConfigError("TRUSTED_PROXIES must be a whole number of proxies, 0 or more")
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]  # Flask's way to add middleware
    logs.configure(app.config)
    app.before_request(_start)
    app.after_request(_finish)
    app.add_url_rule("/healthz", "ops_healthz", health.view, methods=["GET"])
    app.add_url_rule("/metrics", "ops_metrics", metrics.view, methods=["GET"])


def _start() -> None:
    g.ops_started = time.perf_counter()
    # The API sets the same from the same header; pages get one here, so their events carry it too.
    g.request_id = request.headers.get("X-Request-Id", "")[:64] or str(uuid.uuid4())


def _username() -> str | None:
    who = g.get("actor")
    if who is not None:
        return str(who.username)
    user = g.get("_login_user")  # only when the request already loaded it: never a query just to log
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.username)
    return None


def _logged_path() -> str:
    path = request.path
    for name, value in (request.view_args or {}).items():
        if name in SECRET_ARGS and isinstance(value, str) and value:
            path = path.replace(value, f"<{name}>")
    return path


def _finish(response: Response) -> Response:
    started = g.get("ops_started")
    seconds = time.perf_counter() - started if started is not None else 0.0
    endpoint = request.endpoint or "unmatched"
    metrics.observe_request(endpoint, request.method, response.status_code, seconds)
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-Id"] = request_id
    fields: dict[str, Any] = {
        "request_id": request_id,
        "method": request.method,
        "path": _logged_path(),
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1),
        "user": _username(),
    }
    level = logging.DEBUG if endpoint in QUIET_ENDPOINTS else logging.INFO
    request_log.log(level, "%s %s %s", fields["method"], fields["path"], fields["status"], extra=fields)
    return response
