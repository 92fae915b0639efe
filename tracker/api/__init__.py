"""The JSON API under /api/v1."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from tracker.api import limits
from tracker.auth.users import Actor, actor_for_token
from tracker.clock import set_user_zone, zone_or_none
from tracker.events.catalogue import ValidationError
from tracker.services.runtime import Forbidden, NotFound, Runtime
from tracker.store.events import ConcurrencyError

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.openapi"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields or {}


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["tracker"]
    return rt


def actor() -> Actor:
    who: Actor = g.actor
    return who


def request_id() -> str:
    rid: str = g.get("request_id") or str(uuid.uuid4())
    return rid


def _number(text: str) -> int | float:
    # JSON and JSON Schema make no difference between 1941 and 1941.0; Python's parser does.
    value = float(text)
    return int(value) if value.is_integer() else value


def json_body() -> Any:
    try:
        body = json.loads(request.get_data(), parse_float=_number) if request.content_length else None
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested deeper than the parser follows
        body = None
    if body is None:
        raise ApiError(400, "the request body must be JSON", {"body": "malformed or missing JSON"})
    return body


def error(status: int, message: str, fields: dict[str, str] | None = None) -> tuple[Response, int]:
    return jsonify({"error": message, "fields": fields or {}}), status


@bp.before_request
def authenticate() -> tuple[Response, int] | None:
    g.request_id = request.headers.get("X-Request-Id", "")[:64] or str(uuid.uuid4())
    if request.endpoint in PUBLIC:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("an API token is required (Authorization: Bearer <token>)")
    with runtime().db.read() as session:
        who = actor_for_token(session, token.strip())
    if who is None:
        return _unauthorized("the API token is not valid")
    wait = limits.retry_after(token.strip())
    if wait is not None:
        response, status = error(429, f"too many requests with this token: retry in {wait} s")
        response.headers["Retry-After"] = str(wait)
        return response, status
    g.actor = who
    set_user_zone(zone_or_none(who.time_zone))
    return None


@bp.before_request
def refuse_nul_characters() -> tuple[Response, int] | None:
    # PostgreSQL text cannot hold NUL: a filter with one would fail in the database with a 500.
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            label = name.replace("\x00", "?")[:60]
            return error(400, f"{label} must not contain NUL characters", {label: "contains a NUL character"})
    return None


def _unauthorized(message: str) -> tuple[Response, int]:
    response, status = error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="tracker"'
    return response, status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> tuple[Response, int]:
    return error(exc.status, exc.message, exc.fields)


@bp.errorhandler(ValidationError)
def _invalid(exc: ValidationError) -> tuple[Response, int]:
    return error(422, str(exc), exc.fields)


@bp.errorhandler(NotFound)
def _not_found(_exc: NotFound) -> tuple[Response, int]:
    return error(404, "not found")


@bp.errorhandler(Forbidden)
def _forbidden(exc: Forbidden) -> tuple[Response, int]:
    return error(403, str(exc) or "forbidden")


@bp.errorhandler(ConcurrencyError)
def _conflict(exc: ConcurrencyError) -> tuple[Response, int]:
    fields = {"expected_version": f"the case is at version {exc.actual}"} if exc.actual is not None else {}
    return error(409, "version conflict: the case was changed by someone else; reload and retry", fields)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> tuple[Response, int]:
    return http_error(exc)


def http_error(exc: HTTPException) -> tuple[Response, int]:
    """An HTTP error as the API answers it, with the headers it needs (Allow on 405)."""
    message = exc.description or exc.name
    if isinstance(exc, RequestEntityTooLarge):
        message = f"the request body is larger than {request.max_content_length} bytes"
    response, status = error(exc.code or 500, message)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response, status


def _no_store(response: Response) -> Response:
    # Answers carry personal data: no browser, proxy or client library may keep a copy. On the
    # application, not the blueprint, so that answers to unknown /api/v1 paths carry it too.
    if request.path == bp.url_prefix or request.path.startswith(f"{bp.url_prefix}/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _allow(response: Response) -> Response:
    # A 405 must say which methods the path has (RFC 9110). Routing refuses the method before any
    # blueprint is chosen, so this is on the application.
    if response.status_code == 405 and "Allow" not in response.headers:
        methods = current_app.url_map.bind_to_environ(request.environ).allowed_methods()
        response.headers["Allow"] = ", ".join(sorted(methods))
    return response


def init_app(app: Flask) -> None:
    from tracker.api import alerts, attachments, calendar, cases, deadlines, meta  # noqa: F401

    limits.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(calendar.bp)
    app.after_request(_no_store)
    app.after_request(_allow)
