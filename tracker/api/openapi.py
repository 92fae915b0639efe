"""The OpenAPI 3 document, built from the event catalogue and one table of endpoints."""

from __future__ import annotations

from functools import cache
from typing import Any

from tracker.events.catalogue import CATALOGUE, data_schema

DATE = {"type": "string", "format": "date"}
ERROR = {"$ref": "#/components/schemas/Error"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, dict]:
    meaning = {
        400: "malformed request",
        401: "no valid token",
        403: "not allowed for this role",
        404: "no such case visible to the caller",
        409: "expected_version is not the current version",
        422: "invalid event; `fields` names each bad field",
    }
    return {str(c): _answer(meaning[c], ERROR) for c in codes}


CASE_ID = _param("id", "path", {"type": "string", "format": "uuid"}, "case id")

ENDPOINTS: list[tuple[str, str, str, list[dict], dict | None, dict[str, dict]]] = [
    (
        "/cases",
        "post",
        "Open a case (the case_opened fields, plus optional occurred_on)",
        [],
        {
            "allOf": [
                _ref("case_opened"),
                {"properties": {"occurred_on": DATE, "date_precision": {"enum": ["day", "month", "year"]}}},
            ]
        },
        {"201": _answer("the case was opened", _ref("Created")), **_errors(400, 401, 403, 422)},
    ),
    (
        "/cases",
        "get",
        "List visible cases",
        [
            _param("q", "query", {"type": "string"}, "part of the pseudonym"),
            _param("status", "query", {"enum": ["open", "closed"]}, "open or closed; both when absent"),
            _param("country", "query", {"type": "string"}, "current country (ISO 3166-1 alpha-2)"),
            _param("assigned", "query", {"type": "string"}, "`me` or a username"),
            _param("deadline_within", "query", {"type": "integer"}, "an open deadline due within N days"),
            _param("limit", "query", {"type": "integer"}, "page size"),
            _param("cursor", "query", {"type": "string"}, "next_cursor of the previous page"),
        ],
        None,
        {"200": _answer("a page of case summaries", _ref("CaseList")), **_errors(400, 401)},
    ),
    (
        "/cases/{id}",
        "get",
        "A case's status, now or as of a date",
        [CASE_ID, _param("as_of", "query", DATE, "status as of this date")],
        None,
        {"200": _answer("the case", _ref("Case")), **_errors(400, 401, 404)},
    ),
    (
        "/cases/{id}/events",
        "get",
        "A case's events in version order",
        [CASE_ID, _param("after_version", "query", {"type": "integer"}, "only later versions")],
        None,
        {
            "200": _answer(
                "the events",
                {"type": "object", "properties": {"events": {"type": "array", "items": _ref("Event")}}},
            ),
            **_errors(400, 401, 404),
        },
    ),
    (
        "/cases/{id}/events",
        "post",
        "Record an event",
        [CASE_ID],
        _ref("NewEvent"),
        {"201": _answer("recorded", _ref("Created")), **_errors(400, 401, 403, 404, 409, 422)},
    ),
    (
        "/cases/{id}/deadlines",
        "get",
        "A case's deadlines",
        [
            CASE_ID,
            _param("include_closed", "query", {"type": "boolean"}, "also resolved, superseded and met"),
        ],
        None,
        {"200": _answer("the deadlines", _ref("DeadlineList")), **_errors(400, 401, 404)},
    ),
    (
        "/cases/{id}/stay-plan",
        "get",
        "Leaving on leave_on and returning on return_on: the days the person would have (records nothing)",
        [
            CASE_ID,
            _param("leave_on", "query", DATE, "the day of leaving (required while in the country)"),
            _param("return_on", "query", DATE, "the day of coming back"),
        ],
        None,
        {
            "200": _answer("the plan; plan is null when no stay rule counts the stay", _ref("StayPlan")),
            **_errors(400, 401, 404),
        },
    ),
    (
        "/deadlines",
        "get",
        "Open deadlines across visible cases, soonest first",
        [
            _param("within_days", "query", {"type": "integer", "default": 30}, "due within N days"),
            _param("assigned", "query", {"type": "string"}, "`me` or a username"),
            _param("overdue", "query", {"type": "boolean"}, "only overdue ones"),
        ],
        None,
        {"200": _answer("the deadlines", _ref("DeadlineList")), **_errors(400, 401)},
    ),
    (
        "/alerts",
        "get",
        "The caller's alerts",
        [_param("unacknowledged", "query", {"type": "boolean"}, "only unacknowledged")],
        None,
        {
            "200": _answer(
                "the alerts",
                {"type": "object", "properties": {"alerts": {"type": "array", "items": _ref("Alert")}}},
            ),
            **_errors(400, 401),
        },
    ),
    (
        "/alerts/{id}/ack",
        "post",
        "Acknowledge one of the caller's alerts",
        [_param("id", "path", {"type": "integer"}, "alert id")],
        None,
        {"200": _answer("acknowledged", _ref("Alert")), **_errors(401, 404)},
    ),
    (
        "/event-types",
        "get",
        "Every event type with the JSON Schema of its payload",
        [],
        None,
        {"200": _answer("the catalogue"), **_errors(401)},
    ),
]

DEADLINE_PROPS = {
    "key": {"type": "string"},
    "case_id": {"type": "string"},
    "kind": {"type": "string"},
    "title": {"type": "string"},
    "due_on": DATE,
    "days_left": {"type": "integer"},
    "state": {"enum": ["open", "overdue", "resolved", "superseded", "met"]},
    "source_event_id": {"type": "string"},
}


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {name: data_schema(name) for name in CATALOGUE}
    writable = [name for name, et in CATALOGUE.items() if et.api_writable]
    schemas.update(
        {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "Created": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "version": {"type": "integer"}},
            },
            "NewEvent": {
                "type": "object",
                "required": ["type", "occurred_on", "data"],
                "properties": {
                    "type": {"enum": writable},
                    "occurred_on": DATE,
                    "date_precision": {"enum": ["day", "month", "year"]},
                    "expected_version": {"type": "integer"},
                    "data": {"oneOf": [_ref(name) for name in writable]},
                },
                "discriminator": {"propertyName": "type"},
            },
            "Event": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "case_id": {"type": "string"},
                    "version": {"type": "integer"},
                    "position": {"type": "integer"},
                    "type": {"enum": list(CATALOGUE)},
                    "schema_version": {"type": "integer"},
                    "occurred_on": DATE,
                    "date_precision": {"type": "string"},
                    "recorded_at": {"type": "string"},
                    "recorded_by": {"type": "string"},
                    "data": {"type": "object"},
                    "metadata": {"type": "object"},
                    "hash": {"type": "string"},
                },
            },
            "Case": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "version": {"type": "integer"},
                    "status": {"type": "object"},
                },
            },
            "CaseList": {
                "type": "object",
                "properties": {
                    "cases": {"type": "array", "items": {"type": "object"}},
                    "next_cursor": {"type": ["string", "null"]},
                },
            },
            "StayPlan": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "plan": {
                        "type": ["object", "null"],
                        "properties": {
                            "country": {"type": "string"},
                            "rule": {"type": "object"},
                            "as_of": DATE,
                            "present": {"type": "boolean"},
                            "leave_on": DATE,
                            "last_lawful_day": {"type": ["string", "null"], "format": "date"},
                            "lawful_until_leave": {"type": "boolean"},
                            "used_on_leave": {"type": "object"},
                            "earliest_return": {"type": ["string", "null"], "format": "date"},
                            "return_on": DATE,
                            "return_lawful": {"type": "boolean"},
                            "may_stay_until": {"type": ["string", "null"], "format": "date"},
                            "days_on_return": {"type": ["integer", "null"]},
                        },
                    },
                },
            },
            "Deadline": {"type": "object", "properties": DEADLINE_PROPS},
            "DeadlineList": {
                "type": "object",
                "properties": {"deadlines": {"type": "array", "items": _ref("Deadline")}},
            },
            "Alert": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "deadline_key": {"type": "string"},
                    "case_id": {"type": "string"},
                    "pseudonym": {"type": "string"},
                    "kind": {"type": "string"},
                    "due_on": DATE,
                    "threshold_days": {"type": ["integer", "null"]},
                    "created_at": {"type": "string"},
                    "acknowledged_at": {"type": ["string", "null"]},
                },
            },
        }
    )
    return {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}


@cache
def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict] = {}
    for path, method, summary, params, body, answers in ENDPOINTS:
        op: dict[str, Any] = {"summary": summary, "parameters": params, "responses": answers}
        if body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tracker",
            "version": "1",
            "description": "Case tracker; sensitive fields (x-sensitive) are absent for auditors.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": _components(),
    }
