"""Deadlines across the cases a user may see."""

from __future__ import annotations

from flask import Response, jsonify, request

from tracker.api import actor, bp, runtime
from tracker.api.params import bool_param, int_param
from tracker.services import deadlines as service


@bp.get("/deadlines")
def list_deadlines() -> Response:
    items = service.open_deadlines(
        runtime(),
        actor(),
        within_days=int_param("within_days", 30, 0, 3650) or 0,
        assigned=request.args.get("assigned") or None,
        overdue_only=bool_param("overdue"),
    )
    return jsonify({"deadlines": items})
