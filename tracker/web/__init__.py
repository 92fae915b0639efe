"""The server-rendered web UI."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from tracker.resources import STATIC
from tracker.services.runtime import Forbidden, NotFound
from tracker.store.events import StoreBusy

log = logging.getLogger(__name__)

# Static files only: served under /assets so they never clash with a page's path.
assets = Blueprint("web", __name__, static_folder=str(STATIC), static_url_path="/assets")


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _page(status: int, title: str, message: str) -> Any:
    if _wants_json():
        return jsonify({"error": message, "fields": {}}), status
    return render_template("errors/page.html", status=status, title=title, message=message), status


def _not_found(_exc: Exception) -> Any:
    return _page(404, _("Not found"), _("There is no such page, or you may not see it."))


def _forbidden(_exc: Exception) -> Any:
    return _page(403, _("Not allowed"), _("Your role may not do this."))


def _csrf(_exc: CSRFError) -> Any:
    return _page(
        400,
        _("The form has expired"),
        _("The form was too old or was sent from another site. Go back, reload the page and try again."),
    )


def _http(exc: HTTPException) -> Any:
    code = exc.code or 500
    if code == 404:
        return _not_found(exc)
    if code == 403:
        return _forbidden(exc)
    if code == 405:
        response = make_response(_page(405, _("Not allowed"), _("This page cannot be used this way.")))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response
    if code == 400:
        return _page(400, _("Bad request"), _("The request was not understood."))
    if code == 413:
        return _page(413, _("Too large"), _("What was sent is too large."))
    if code >= 500:
        return _server_error(exc)
    return _page(
        code,
        _("Error %(code)s", code=code),
        _("The request could not be answered (error %(code)s).", code=code),
    )


def _busy(exc: StoreBusy) -> Any:
    """The append lock stayed taken (a large import): a clear, retryable answer instead of a hang."""
    message = _(
        "Another large write (an import or a restore) is under way; nothing was recorded. "
        "Send it again in a moment."
    )
    response = make_response(_page(503, _("Busy, please try again"), message))
    response.headers["Retry-After"] = str(max(1, round(exc.seconds)))
    return response


def _server_error(exc: Exception) -> Any:
    log.exception("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return _page(500, _("Something went wrong"), _("The page could not be shown. Please try again later."))


def init_app(app: Flask) -> None:
    """Sessions and headers, languages, error pages and the blueprints of each area."""
    from tracker.web import i18n, security
    from tracker.web.admin.routes import bp as admin_bp
    from tracker.web.alerts.routes import bp as alerts_bp
    from tracker.web.audit.routes import bp as audit_bp
    from tracker.web.auth.routes import bp as auth_bp
    from tracker.web.cases.routes import bp as cases_bp
    from tracker.web.dashboard.routes import bp as dashboard_bp

    security.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(assets)
    for bp in (auth_bp, dashboard_bp, cases_bp, audit_bp, alerts_bp, admin_bp):
        app.register_blueprint(bp)
    app.register_error_handler(StoreBusy, _busy)
    app.register_error_handler(NotFound, _not_found)
    app.register_error_handler(Forbidden, _forbidden)
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _server_error)
