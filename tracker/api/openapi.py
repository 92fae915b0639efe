"""The OpenAPI 3.1 document: one table of operations, with schemas from tracker.api.openapi_schemas."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from tracker.api.openapi_schemas import component_schemas, ref

#: Query values refuse NUL (PostgreSQL text cannot hold one); everything else is the parameter's business.
NO_NUL = r"^[^\x00]*$"
API = "/api/v1"
#: What tracker.services.calendar.issue_token hands out: "cal_" and 32 random bytes in URL-safe base64.
CALENDAR_TOKEN = "^cal_[A-Za-z0-9_-]{43}$"
ERROR = ref("Error")
MEANING = {
    400: "a malformed query parameter or body; `fields` names it",
    401: "no valid API token",
    403: "not allowed for this role (auditors only read)",
    404: "no such case, alert or path visible to the caller",
    409: "expected_version is not the case's current version",
    413: "the request body (or the file) is larger than the server accepts",
    415: "the file's content is not of an accepted type, or not the type its name or part claims",
    500: "the stored file is missing or damaged (`tracker verify` names it)",
    422: "the body breaks a rule (schema, calendar or the case's history); `fields` names each bad field",
    429: "too many requests; retry after the number of seconds in Retry-After",
    503: "the event store is busy (an import or a restore holds it); nothing was stored; retry after "
    "the number of seconds in Retry-After",
}
#: Answers every /api/v1 operation may give besides its own.
COMMON = (400, 401, 429)


def _param(name: str, where: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": schema,
        "description": description,
    }


def _query_int(name: str, low: int, high: int, description: str, default: int | None = None) -> dict:
    schema: dict[str, Any] = {"type": "integer", "minimum": low, "maximum": high}
    if default is not None:
        schema["default"] = default
    return _param(name, "query", schema, description)


def _query_text(name: str, description: str) -> dict[str, Any]:
    return _param(name, "query", {"type": "string", "pattern": NO_NUL}, description)


def _query_bool(name: str, description: str) -> dict[str, Any]:
    return _param(name, "query", {"type": "boolean"}, description + " (`true` or `false`)")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answers(ok: str, description: str, schema: dict, *codes: int, links: dict | None = None) -> dict:
    answer: dict[str, Any] = {"description": description, "content": _json(schema)}
    if links:
        answer["links"] = links
    out = {ok: answer}
    out.update(
        {str(c): {"description": MEANING[c], "content": _json(ERROR)} for c in sorted({*COMMON, *codes})}
    )
    return out


def _file_answers(description: str, media_type: str, *codes: int) -> dict[str, Any]:
    answers = _answers("200", description, {"type": "string"}, *codes)
    answers["200"] = {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}
    return answers


def _link(operation_id: str, description: str, body: dict | None = None, **parameters: str) -> dict[str, Any]:
    link: dict[str, Any] = {"operationId": operation_id, "description": description, "parameters": parameters}
    if body is not None:
        link["requestBody"] = body
    return link


#: The next event names the version the answer reported, so that it follows without a 409.
NEXT_VERSION = {"expected_version": "$response.body#/version"}


CASE_ID = _param("id", "path", {"type": "string", "format": "uuid"}, "case id")
CREATED_CASE = "$response.body#/id"
#: Where a client goes from an answer: OpenAPI links, which stateful testing follows too.
CASE_LINKS = {
    "GetCase": _link("getCase", "the case just written", id=CREATED_CASE),
    "GetEvents": _link("getEvents", "its events", id=CREATED_CASE),
    "PostEvent": _link("postEvent", "record the next event on it", NEXT_VERSION, id=CREATED_CASE),
    "GetCaseDeadlines": _link("getCaseDeadlines", "its deadlines", id=CREATED_CASE),
}
EVENT_LINKS = {
    "GetCase": _link("getCase", "the case the event was added to", id="$request.path.id"),
    "GetEvents": _link("getEvents", "its events, the new one included", id="$request.path.id"),
    "PostEvent": _link("postEvent", "another event on the same case", NEXT_VERSION, id="$request.path.id"),
    "GetCaseDeadlines": _link("getCaseDeadlines", "the deadlines it may have set", id="$request.path.id"),
}


def _operations() -> dict[str, dict[str, Any]]:
    return {
        "/cases": {
            "post": {
                "operationId": "openCase",
                "summary": "Open a case: the case_opened fields, optional occurred_on and date_precision",
                "requestBody": {"required": True, "content": _json(ref("NewCase"))},
                "responses": _answers(
                    "201", "the case was opened", ref("Created"), 403, 413, 422, 503, links=CASE_LINKS
                ),
            },
            "get": {
                "operationId": "listCases",
                "summary": "List visible cases in pseudonym order, a page at a time",
                "parameters": [
                    _query_text(
                        "q",
                        "part of the pseudonym; or every word of a legal name, messenger, address or other "
                        "sensitive text field (whole, or the start of a word; Cyrillic and Latin alike), a "
                        "phone number (its last 7 digits or more) or a document or reference number, "
                        "through the blind index (auditors: the pseudonym only)",
                    ),
                    _param(
                        "status", "query", {"type": "string", "enum": ["open", "closed"]}, "both when absent"
                    ),
                    _query_text("country", "current country (ISO 3166-1 alpha-2)"),
                    _query_text("assigned", "`me` or a username"),
                    _query_int(
                        "deadline_within", 0, 3650, "only cases with an open deadline due within N days"
                    ),
                    _query_int("limit", 1, 500, "page size (the installation's PAGE_SIZE when absent)"),
                    _query_text("cursor", "next_cursor of the previous page (opaque; others are 400)"),
                ],
                "responses": _answers("200", "a page of case summaries", ref("CaseList")),
            },
        },
        "/cases/{id}": {
            "get": {
                "operationId": "getCase",
                "summary": "A case's status, now or as of a date",
                "parameters": [
                    CASE_ID,
                    _param("as_of", "query", {"type": "string", "format": "date"}, "as of"),
                ],
                "responses": _answers("200", "the case", ref("Case"), 404),
            }
        },
        "/cases/{id}/events": {
            "get": {
                "operationId": "getEvents",
                "summary": "A case's events in version order",
                "parameters": [CASE_ID, _query_int("after_version", 0, 2**31, "only later versions", 0)],
                "responses": _answers("200", "the events", ref("EventList"), 404),
            },
            "post": {
                "operationId": "postEvent",
                "summary": "Record an event; its type decides the shape of data",
                "parameters": [CASE_ID],
                "requestBody": {"required": True, "content": _json(ref("NewEvent"))},
                "responses": _answers(
                    "201", "recorded", ref("Created"), 403, 404, 409, 413, 422, 503, links=EVENT_LINKS
                ),
            },
        },
        "/cases/{id}/deadlines": {
            "get": {
                "operationId": "getCaseDeadlines",
                "summary": "A case's deadlines",
                "parameters": [CASE_ID, _query_bool("include_closed", "also resolved, superseded and met")],
                "responses": _answers("200", "the deadlines", ref("DeadlineList"), 404),
            }
        },
        "/cases/{id}/stay-plan": {
            "get": {
                "operationId": "getStayPlan",
                "summary": "Leaving on leave_on and returning on return_on: the days the person would have "
                "(records nothing)",
                "parameters": [
                    CASE_ID,
                    _param("leave_on", "query", {"type": "string", "format": "date"}, "the day of leaving"),
                    _param("return_on", "query", {"type": "string", "format": "date"}, "the day of return"),
                ],
                "responses": _answers("200", "the plan; null when no stay rule counts", ref("StayPlan"), 404),
            }
        },
        "/cases/{id}/attachments": {
            "post": {
                "operationId": "postAttachment",
                "summary": "Attach a file (multipart, part `file`), stored encrypted: attachment_added",
                "parameters": [CASE_ID],
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": ref("NewAttachment")}},
                },
                "responses": _answers("201", "attached", ref("AttachmentCreated"), 403, 404, 413, 415, 422),
            }
        },
        "/attachments/{id}": {
            "get": {
                "operationId": "getAttachment",
                "summary": "An attached file (or its thumbnail) for those who see its case; logged",
                "parameters": [
                    _param("id", "path", {"type": "string", "format": "uuid"}, "attachment id"),
                    _query_bool("thumbnail", "the image's thumbnail (JPEG) instead of the file"),
                ],
                "responses": _file_answers(
                    "the file, as stored (images without their metadata)",
                    "application/octet-stream",
                    403,
                    404,
                    500,
                ),
            }
        },
        "/cases/{id}/dossier.pdf": {
            "get": {
                "operationId": "getDossier",
                "summary": "The case's chronology as a PDF; the read is logged",
                "parameters": [
                    CASE_ID,
                    _param(
                        "lang", "query", {"type": "string", "enum": ["en", "ru"]}, "language, en when absent"
                    ),
                    _query_bool("legal_name", "print the legal name (not for auditors)"),
                    _query_bool("list_corrections", "list every correction and retraction"),
                ],
                "responses": _file_answers("the dossier", "application/pdf", 403, 404),
            }
        },
        "/deadlines": {
            "get": {
                "operationId": "listDeadlines",
                "summary": "Open deadlines across visible cases, soonest first",
                "parameters": [
                    _query_int("within_days", 0, 3650, "due within N days", 30),
                    _query_text("assigned", "`me` or a username"),
                    _query_bool("overdue", "only overdue ones"),
                ],
                "responses": _answers("200", "the deadlines", ref("DeadlineList")),
            }
        },
        "/alerts": {
            "get": {
                "operationId": "listAlerts",
                "summary": "The caller's alerts, newest first",
                "parameters": [
                    _query_bool("unacknowledged", "only unacknowledged"),
                    _query_int("limit", 1, 1000, "at most this many", 200),
                ],
                "responses": _answers("200", "the alerts", ref("AlertList")),
            }
        },
        "/alerts/{id}/ack": {
            "post": {
                "operationId": "acknowledgeAlert",
                "summary": "Acknowledge one of the caller's alerts (again: no change)",
                "parameters": [_param("id", "path", {"type": "integer", "minimum": 0}, "alert id")],
                "responses": _answers("200", "acknowledged", ref("Alert"), 404),
            }
        },
        "/event-types": {
            "get": {
                "operationId": "listEventTypes",
                "summary": "Every event type with the JSON Schema of its payload",
                "responses": _answers("200", "the catalogue", ref("EventTypeList")),
            }
        },
    }


def _calendar() -> dict[str, Any]:
    token = _param(
        "token", "path", {"type": "string", "pattern": CALENDAR_TOKEN}, "the user's calendar token"
    )
    text = {"schema": {"type": "string"}}
    return {
        # Outside /api/v1: calendar applications cannot send a bearer token, so the token is the path.
        "get": {
            "operationId": "calendarFeed",
            "summary": "The user's open deadlines as an iCalendar feed, titles by pseudonym only",
            "security": [],
            "parameters": [token],
            "responses": {
                "200": {"description": "the feed", "content": {"text/calendar": text}},
                "404": {
                    # A path that is no token at all (empty, or with a slash) is the site's page not found.
                    "description": "a wrong, rotated or revoked token (all answered alike)",
                    "content": {"text/plain": text, "text/html": text},
                },
                "429": {"description": MEANING[429], "content": {"text/plain": text}},
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The document; a copy each time, so that no caller can change what the next one gets."""
    return copy.deepcopy(_document())


@cache
def _document() -> dict[str, Any]:
    # Full paths, no `servers`: the calendar feed lives outside /api/v1.
    paths: dict[str, Any] = {f"{API}{path}": item for path, item in _operations().items()}
    paths["/calendar/{token}.ics"] = _calendar()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tracker",
            "version": "1",
            "description": (
                "Case tracker. Sensitive fields (x-sensitive) are absent for auditors. An event's "
                "occurred_on must not lie after the server's today, which no schema can say."
            ),
        },
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
