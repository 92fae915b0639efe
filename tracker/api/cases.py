"""Cases and their events."""

from __future__ import annotations

import uuid

from flask import Response, jsonify, request

from tracker.api import ApiError, actor, bp, json_body, request_id, runtime
from tracker.api.params import bool_param, choice_param, date_param, int_param
from tracker.domain.commands import parse_case, parse_event, parse_expected_version
from tracker.events.catalogue import ValidationError
from tracker.services import reading, stay, writing
from tracker.services.runtime import Forbidden, NotFound


def _case_id(case_id: str) -> str:
    try:
        return str(uuid.UUID(case_id))
    except ValueError:
        raise NotFound(case_id) from None


def _may_record() -> None:
    # Who may write is answered before what they sent is checked: an auditor learns nothing from
    # the validation of a body that they may not send at all.
    if not actor().may_record:
        raise Forbidden("auditors have read-only access")


@bp.post("/cases")
def create_case() -> tuple[Response, int]:
    _may_record()
    rt = runtime()
    opened = parse_case(json_body(), rt.today())
    case_id, version = writing.open_case(rt, actor(), opened, source="api", request_id=request_id())
    return jsonify({"id": case_id, "version": version}), 201


@bp.get("/cases")
def list_cases() -> Response:
    rt = runtime()
    assigned = request.args.get("assigned") or None
    filters = reading.CaseFilter(
        q=(request.args.get("q") or None),
        status=choice_param("status", ("open", "closed")),
        country=(request.args.get("country") or None),
        assigned=assigned,
        deadline_within=int_param("deadline_within", None, 0, 3650),
        limit=int_param("limit", int(rt.settings.get("PAGE_SIZE", 50)), 1, 500) or 50,
        cursor=request.args.get("cursor") or None,
    )
    try:
        cases, cursor = reading.list_cases(rt, actor(), filters)
    except ValueError:
        raise ApiError(400, "cursor is not valid", {"cursor": "not a cursor of this list"}) from None
    return jsonify({"cases": cases, "next_cursor": cursor})


@bp.get("/cases/<case_id>")
def get_case(case_id: str) -> Response:
    return jsonify(reading.get_case(runtime(), actor(), _case_id(case_id), as_of=date_param("as_of")))


@bp.get("/cases/<case_id>/events")
def get_events(case_id: str) -> Response:
    after = int_param("after_version", 0, 0, 2**31) or 0
    return jsonify({"events": reading.case_events(runtime(), actor(), _case_id(case_id), after)})


@bp.post("/cases/<case_id>/events")
def post_event(case_id: str) -> tuple[Response, int]:
    rt = runtime()
    case_id = _case_id(case_id)
    _may_record()
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError({"body": "must be a JSON object"})
    expected = parse_expected_version(body.get("expected_version"))
    event = parse_event(body, rt.today())
    event_id, version = writing.record_event(
        rt, actor(), case_id, event, expected, source="api", request_id=request_id()
    )
    return jsonify({"id": event_id, "version": version}), 201


@bp.get("/cases/<case_id>/deadlines")
def get_case_deadlines(case_id: str) -> Response:
    items = reading.case_deadlines(runtime(), actor(), _case_id(case_id), bool_param("include_closed"))
    return jsonify({"deadlines": items})


@bp.get("/cases/<case_id>/stay-plan")
def get_stay_plan(case_id: str) -> Response:
    leave_on, return_on = date_param("leave_on"), date_param("return_on")
    try:
        answer = stay.stay_plan(runtime(), actor(), _case_id(case_id), leave_on, return_on)
    except stay.PlanError as exc:
        raise ApiError(400, str(exc), {exc.field: exc.message}) from None
    return jsonify(answer)
