"""The caller's deadline alerts: the inbox and acknowledging."""

from __future__ import annotations

from flask import Response, jsonify

from tracker.api import actor, bp, runtime
from tracker.api.params import bool_param, int_param
from tracker.services import alerts as service
from tracker.services.runtime import NotFound


@bp.get("/alerts")
def list_alerts() -> Response:
    items = service.list_alerts(
        runtime(),
        actor(),
        unacknowledged=bool_param("unacknowledged"),
        limit=int_param("limit", 200, 1, 1000) or 200,
    )
    return jsonify({"alerts": items})


@bp.post("/alerts/<alert_id>/ack")
def acknowledge(alert_id: str) -> Response:
    if not alert_id.isascii() or not alert_id.isdigit() or len(alert_id) > 18:
        raise NotFound(alert_id)
    return jsonify(service.acknowledge(runtime(), actor(), int(alert_id)))
