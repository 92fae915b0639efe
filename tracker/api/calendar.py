"""GET /calendar/<token>.ics: a user's deadline feed for calendar applications (outside /api/v1)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from tracker.services import calendar as service
from tracker.services.runtime import NotFound

bp = Blueprint("calendar", __name__, url_prefix="/calendar")


@bp.get("/<token>.ics")
def feed(token: str) -> Response:
    try:
        text = service.feed(current_app.extensions["tracker"], token)
    except NotFound:
        # The same answer for a wrong, rotated or revoked token: nothing to tell them apart.
        return Response("calendar not found\n", status=404, mimetype="text/plain")
    response = Response(text, mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Content-Disposition"] = 'inline; filename="deadlines.ics"'
    return response
