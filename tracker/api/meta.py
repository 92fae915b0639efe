"""Self-description: the event types with their JSON Schemas, and the OpenAPI document."""

from __future__ import annotations

from flask import Response, jsonify

from tracker.api import bp
from tracker.api.openapi import openapi_document
from tracker.events.catalogue import CATALOGUE, event_type_schema


@bp.get("/event-types")
def event_types() -> Response:
    return jsonify({"event_types": [event_type_schema(name) for name in CATALOGUE]})


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
