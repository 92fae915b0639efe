"""The JSON API's answers and error shapes: 201, 400, 401, 403, 404, 409, 422, and the OpenAPI document."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import add_event, open_case

from tracker.events.catalogue import CATALOGUE

TODAY = "2023-06-01"
TOMORROW = "2023-06-02"
CASE = {"pseudonym": "A", "citizenship": "RU", "category": "other"}
EVENT_KEYS = {
    "id", "case_id", "version", "position", "type", "schema_version", "occurred_on", "date_precision",
    "recorded_at", "recorded_by", "data", "metadata", "hash",
}  # fmt: skip
STATUS_KEYS = {
    "pseudonym", "category", "citizenship", "state", "closed_outcome", "opened_on", "caseworkers",
    "lawyer", "country", "city", "in_country_since", "legal_stay", "documents",
    "has_international_passport", "criminal_cases", "detained", "detained_since", "asylum",
    "travel_permits", "extradition_requested", "removal_ordered", "risk_level", "last_threat_on",
    "last_contact_on", "next_check_in_due", "next_deadline", "overdue_deadlines", "stay_count",
}  # fmt: skip


@pytest.fixture
def api_app(sqlite_app: Any) -> Any:
    sqlite_app.extensions["tracker"].clock = lambda: datetime(2023, 6, 1, 12, 0, tzinfo=UTC)
    return sqlite_app


@pytest.fixture
def admin(api_app: Any, api_for: Any) -> Any:
    return api_for(api_app, "admin")


def error_of(r: Any, status: int) -> dict[str, Any]:
    """The error body of an answer, checked against the contract's shape."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    body = r.get_json()
    assert isinstance(body, dict), r.get_data(as_text=True)[:500]
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("fields"), dict)
    return dict(body)


def names_field(body: dict[str, Any], field: str) -> bool:
    return any(key == field or key.endswith("." + field) for key in body["fields"])


def version_of(api: Any, case_id: str) -> int:
    return int(api.get(f"/cases/{case_id}").get_json()["version"])


def post_raw(api: Any, path: str, data: bytes | str, content_type: str = "application/json") -> Any:
    headers = {"Authorization": f"Bearer {api.token}", "Content-Type": content_type}
    return api.client.post("/api/v1" + path, data=data, headers=headers)


def test_open_a_case_record_events_and_read_them_back(admin: Any) -> None:
    r = admin.post("/cases", {"pseudonym": "Sparrow", "citizenship": "RU", "category": "conscript"})
    assert r.status_code == 201
    created = r.get_json()
    assert set(created) == {"id", "version"} and created["version"] == 1
    case_id = created["id"]
    assert uuid.UUID(case_id)

    added = add_event(
        admin, case_id, "fled_country", "2022-09-27", {"from_country": "RU", "to_country": "KZ"}
    )
    assert added["version"] == 2
    again = add_event(admin, case_id, "note_added", "2022-09-28", {"text": "hi"}, expected_version=2)
    assert again["version"] == 3

    case = admin.get(f"/cases/{case_id}").get_json()
    assert set(case) == {"id", "version", "status"} and case["version"] == 3
    assert set(case["status"]) == STATUS_KEYS
    assert case["status"]["opened_on"] == TODAY  # occurred_on defaults to today
    assert case["status"]["country"] == "KZ"

    events = admin.get(f"/cases/{case_id}/events").get_json()["events"]
    assert [e["version"] for e in events] == [1, 2, 3]
    assert all(set(e) == EVENT_KEYS for e in events)
    assert events[1]["id"] == added["id"] and events[1]["data"]["to_country"] == "KZ"
    assert events[1]["recorded_by"] == admin.username
    assert events[1]["metadata"]["source"] == "api"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", events[1]["recorded_at"])
    assert re.fullmatch(r"[0-9a-f]{64}", events[1]["hash"])
    later = admin.get(f"/cases/{case_id}/events", after_version=1).get_json()["events"]
    assert [e["version"] for e in later] == [2, 3]


def test_a_case_opened_by_a_caseworker_is_assigned_to_them(api_app: Any, api_for: Any) -> None:
    worker = api_for(api_app, "caseworker")
    case_id = open_case(worker)
    assert worker.get(f"/cases/{case_id}").get_json()["status"]["caseworkers"] == [worker.username]
    listed = worker.get("/cases", assigned="me").get_json()["cases"]
    assert [c["id"] for c in listed] == [case_id]
    add_event(worker, case_id, "note_added", "2023-01-01", {"text": "they can write to it"})


def test_deadlines_of_a_case_and_across_cases(admin: Any) -> None:
    case_id = open_case(admin)
    add_event(admin, case_id, "reminder_set", "2023-05-01", {"title": "call", "due_on": "2023-06-10"})
    add_event(admin, case_id, "reminder_set", "2023-05-01", {"title": "late", "due_on": "2023-05-20"})
    deadlines = admin.get(f"/cases/{case_id}/deadlines").get_json()["deadlines"]
    assert [(d["due_on"], d["state"], d["days_left"]) for d in deadlines] == [
        ("2023-05-20", "overdue", -12),
        ("2023-06-10", "open", 9),
    ]
    key = deadlines[1]["key"]
    add_event(admin, case_id, "deadline_resolved", "2023-05-30", {"deadline_key": key, "resolution": "moot"})
    assert len(admin.get(f"/cases/{case_id}/deadlines").get_json()["deadlines"]) == 1
    closed = admin.get(f"/cases/{case_id}/deadlines", include_closed="true").get_json()["deadlines"]
    assert {d["key"]: d["state"] for d in closed}[key] == "resolved"
    across = admin.get("/deadlines").get_json()["deadlines"]
    assert [d["due_on"] for d in across] == ["2023-05-20"]
    assert admin.get("/deadlines", overdue="true").get_json()["deadlines"] == across
    error_of(admin.get(f"/cases/{case_id}/deadlines", include_closed="yes"), 400)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"\xff\xfe", b'{"type": "note_added", "data": {"text": "x"}'],
    ids=["broken", "empty", "not-utf8", "truncated"],
)
def test_malformed_json_is_400(admin: Any, body: bytes) -> None:
    case_id = open_case(admin)
    error_of(post_raw(admin, f"/cases/{case_id}/events", body), 400)
    error_of(post_raw(admin, "/cases", body), 400)
    assert version_of(admin, case_id) == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic YWRhOnB3"}, {"Authorization": "Bearer "}],
    ids=["none", "unknown", "basic", "empty"],
)
def test_requests_without_a_valid_token_are_401(api_app: Any, admin: Any, headers: dict[str, str]) -> None:
    case_id = open_case(admin)
    client = api_app.test_client()
    for r in (
        client.get("/api/v1/cases", headers=headers),
        client.get(f"/api/v1/cases/{case_id}", headers=headers),
        client.post(f"/api/v1/cases/{case_id}/events", json={}, headers=headers),
    ):
        error_of(r, 401)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert version_of(admin, case_id) == 1


def test_auditors_cannot_write_403(api_app: Any, api_for: Any, admin: Any) -> None:
    auditor = api_for(api_app, "auditor")
    case_id = open_case(admin)
    error_of(auditor.post("/cases", {"pseudonym": "X", "citizenship": "RU", "category": "other"}), 403)
    body = {"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "x"}}
    error_of(auditor.post(f"/cases/{case_id}/events", body), 403)
    assert version_of(admin, case_id) == 1
    assert len(admin.get("/cases").get_json()["cases"]) == 1


def test_caseworkers_cannot_assign_403(api_app: Any, api_for: Any) -> None:
    worker = api_for(api_app, "caseworker")
    other = api_for(api_app, "caseworker")
    case_id = open_case(worker)
    body = {"type": "caseworker_assigned", "occurred_on": "2023-01-01", "data": {"username": other.username}}
    error_of(worker.post(f"/cases/{case_id}/events", body), 403)
    assert version_of(worker, case_id) == 2


def test_a_case_a_caseworker_may_not_see_answers_like_a_missing_one(
    api_app: Any, api_for: Any, admin: Any
) -> None:
    worker = api_for(api_app, "caseworker")
    hidden = open_case(admin)
    missing = str(uuid.uuid4())
    note = {"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "x"}}
    for path in ("", "/events", "/deadlines"):
        seen, absent = worker.get(f"/cases/{hidden}{path}"), worker.get(f"/cases/{missing}{path}")
        assert error_of(seen, 404) == error_of(absent, 404)
        error_of(worker.get(f"/cases/not-a-uuid{path}"), 404)
    assert error_of(worker.post(f"/cases/{hidden}/events", note), 404) == error_of(
        worker.post(f"/cases/{missing}/events", note), 404
    )
    assert error_of(worker.get(f"/cases/{hidden}", as_of="2023-01-01"), 404) == error_of(
        worker.get(f"/cases/{missing}", as_of="2023-01-01"), 404
    )
    assert worker.get("/cases").get_json()["cases"] == []
    assert version_of(admin, hidden) == 1


def test_a_stale_expected_version_is_409_and_stores_nothing(admin: Any) -> None:
    case_id = open_case(admin)
    add_event(admin, case_id, "note_added", "2023-01-01", {"text": "first"})
    body = {"type": "note_added", "occurred_on": "2023-01-02", "data": {"text": "x"}, "expected_version": 1}
    err = error_of(admin.post(f"/cases/{case_id}/events", body), 409)
    assert names_field(err, "expected_version")
    assert version_of(admin, case_id) == 2
    assert admin.post(f"/cases/{case_id}/events", {**body, "expected_version": 2}).status_code == 201


def _other_case_event(admin: Any) -> str:
    other = open_case(admin, "Elsewhere")
    return str(add_event(admin, other, "note_added", "2023-01-01", {"text": "x"})["id"])


INVALID = [
    ("missing-required", "fled_country", "2023-01-01", {"from_country": "RU"}, "to_country"),
    ("bad-enum", "left_service", "2023-01-01", {"how": "flew"}, "how"),
    ("bad-country", "fled_country", "2023-01-01", {"from_country": "RU", "to_country": "Kazakhstan"},
     "to_country"),
    ("bad-data-date", "reminder_set", "2023-01-01", {"title": "x", "due_on": "2023-02-30"}, "due_on"),
    ("bad-occurred-on", "note_added", "2023-13-01", {"text": "x"}, "occurred_on"),
    ("missing-occurred-on", "note_added", None, {"text": "x"}, "occurred_on"),
    ("unknown-type", "teleported", "2023-01-01", {}, "type"),
    ("unknown-field", "note_added", "2023-01-01", {"text": "x", "mood": "good"}, "mood"),
    ("future-fled", "fled_country", TOMORROW, {"from_country": "RU", "to_country": "KZ"}, "occurred_on"),
    ("future-detained", "detained", TOMORROW, {"country": "KZ"}, "occurred_on"),
    ("second-case-opened", "case_opened", "2023-01-01",
     {"pseudonym": "Again", "citizenship": "RU", "category": "other"}, "type"),
    ("internal-type", "personal_data_erased", "2023-01-01", {"reason": "x"}, "type"),
    ("unknown-user", "caseworker_assigned", "2023-01-01", {"username": "nobody"}, "username"),
    ("unknown-deadline", "deadline_resolved", "2023-01-01", {"deadline_key": "k", "resolution": "met"},
     "deadline_key"),
    ("retract-unknown", "event_retracted", "2023-01-01", {"event_id": str(uuid.uuid4()), "reason": "x"},
     "event_id"),
    ("correct-other-case", "event_corrected", "2023-01-01",
     {"event_id": "<other>", "reason": "x", "data": {"text": "y"}}, "event_id"),
    ("retract-other-case", "event_retracted", "2023-01-01", {"event_id": "<other>", "reason": "x"},
     "event_id"),
    ("charges-of-other-case", "charges_changed", "2023-01-01", {"criminal_case": "<other>", "article": "1"},
     "criminal_case"),
    ("text-too-long", "note_added", "2023-01-01", {"text": "x" * 5001}, "text"),
    ("not-an-object", "note_added", "2023-01-01", ["text"], "data"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("type_", "on", "data", "field"), [i[1:] for i in INVALID], ids=[i[0] for i in INVALID]
)
def test_an_invalid_event_is_422_naming_the_field_and_stores_nothing(
    api_app: Any, admin: Any, type_: str, on: str | None, data: Any, field: str
) -> None:
    case_id = open_case(admin)
    if isinstance(data, dict) and "<other>" in data.values():
        key = next(k for k, v in data.items() if v == "<other>")
        data = {**data, key: _other_case_event(admin)}
    before = admin.get(f"/cases/{case_id}/events").get_json()["events"]
    body = {"type": type_, "data": data, **({"occurred_on": on} if on else {})}
    err = error_of(admin.post(f"/cases/{case_id}/events", body), 422)
    assert names_field(err, field), err
    assert admin.get(f"/cases/{case_id}/events").get_json()["events"] == before


@pytest.mark.parametrize(
    ("envelope", "field"),
    [
        ({"date_precision": "week"}, "date_precision"),
        ({"expected_version": "1"}, "expected_version"),
        ({"expected_version": -1}, "expected_version"),
        ({"expected_version": True}, "expected_version"),
        ({"recorded_by": "mallory"}, "recorded_by"),
    ],
)
def test_a_bad_envelope_is_422_naming_the_key(admin: Any, envelope: dict, field: str) -> None:
    case_id = open_case(admin)
    body = {"type": "note_added", "occurred_on": "2023-01-01", "data": {"text": "x"}, **envelope}
    assert names_field(error_of(admin.post(f"/cases/{case_id}/events", body), 422), field)
    assert version_of(admin, case_id) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"citizenship": "RU", "category": "other"}, "pseudonym"),
        ({**CASE, "category": "pilot"}, "category"),
        ({**CASE, "occurred_on": TOMORROW}, "occurred_on"),
        ({**CASE, "occurred_on": "01.02.2023"}, "occurred_on"),
        ({**CASE, "occurred_on": ""}, "occurred_on"),
        ({**CASE, "occurred_on": False}, "occurred_on"),
        ({**CASE, "hair": "red"}, "hair"),
        ({**CASE, "birth_year": "1990"}, "birth_year"),
        ({**CASE, "citizenship": "ru"}, "citizenship"),
    ],
)
def test_an_invalid_case_is_422_and_opens_nothing(admin: Any, body: dict, field: str) -> None:
    assert names_field(error_of(admin.post("/cases", body), 422), field)
    assert admin.get("/cases").get_json()["cases"] == []


def test_a_correction_with_invalid_data_names_the_nested_field(admin: Any) -> None:
    case_id = open_case(admin)
    fled = add_event(admin, case_id, "fled_country", "2022-09-27", {"from_country": "RU", "to_country": "KZ"})
    body = {
        "type": "event_corrected",
        "occurred_on": "2023-01-01",
        "data": {
            "event_id": fled["id"],
            "reason": "typo",
            "data": {"from_country": "RU", "to_country": "XX"},
        },
    }
    err = error_of(admin.post(f"/cases/{case_id}/events", body), 422)
    assert "data.to_country" in err["fields"]
    assert version_of(admin, case_id) == 2


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/cases", {"status": "gone"}, "status"),
        ("/cases", {"limit": "0"}, "limit"),
        ("/cases", {"limit": "many"}, "limit"),
        ("/cases", {"deadline_within": "-1"}, "deadline_within"),
        ("/cases", {"cursor": "!!!"}, "cursor"),
        ("/deadlines", {"within_days": "x"}, "within_days"),
        ("/deadlines", {"overdue": "1"}, "overdue"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(admin: Any, path: str, params: dict, field: str) -> None:
    assert names_field(error_of(admin.get(path, **params), 400), field)


def test_bad_case_query_parameters_are_400(admin: Any) -> None:
    case_id = open_case(admin)
    for params, field in (({"as_of": "2023-02-30"}, "as_of"), ({"as_of": "yesterday"}, "as_of")):
        assert names_field(error_of(admin.get(f"/cases/{case_id}", **params), 400), field)
    err = error_of(admin.get(f"/cases/{case_id}/events", after_version="-1"), 400)
    assert names_field(err, "after_version")


def test_event_types_describe_every_type_with_its_schema(admin: Any) -> None:
    types = admin.get("/event-types").get_json()["event_types"]
    assert [t["type"] for t in types] == list(CATALOGUE)
    for t in types:
        schema = t["schema"]
        assert schema["type"] == "object"
        assert set(schema["properties"]) == set(CATALOGUE[t["type"]].field_names)
        assert set(schema["required"]) == set(CATALOGUE[t["type"]].required_fields)


def test_the_openapi_document_lists_every_endpoint_and_event_type(api_app: Any) -> None:
    r = api_app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["openapi"].startswith("3.")
    served = set()
    for rule in api_app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            path = re.sub(r"<(?:\w+:)?\w+>", "{id}", rule.rule)
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert served, "no API routes found"
    assert served <= documented, f"undocumented endpoints: {sorted(served - documented)}"
    assert set(CATALOGUE) <= set(doc["components"]["schemas"])
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["responses"], op


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/cases", {"q": "a\x00b"}, "q"),
        ("/cases", {"country": "K\x00"}, "country"),
        ("/cases", {"assigned": "ada\x00"}, "assigned"),
        ("/cases", {"cursor": _cursor(["a\x00", "b"])}, "cursor"),
        ("/cases", {"cursor": _cursor(["a", 1])}, "cursor"),
        ("/cases", {"cursor": "W" * 20 + "1"}, "cursor"),
        ("/cases", {"cursor": base64.urlsafe_b64encode(b"[" * 2500).decode()}, "cursor"),
        ("/deadlines", {"assigned": "\x00"}, "assigned"),
    ],
    ids=["q", "country", "assigned", "cursor-nul", "cursor-type", "cursor-junk", "cursor-deep", "deadlines"],
)
def test_hostile_query_parameters_are_400_on_every_engine(
    app: Any, api_for: Any, path: str, params: dict, field: str
) -> None:
    admin = api_for(app, "admin")
    open_case(admin)
    assert names_field(error_of(admin.get(path, **params), 400), field)


def test_the_alert_endpoints_answer_the_caller_only(admin: Any) -> None:
    # The deadline scanner makes alerts (tested with it); here: the shapes a client relies on.
    body = admin.get("/alerts").get_json()
    assert body == {"alerts": []}
    assert admin.get("/alerts", unacknowledged="true").get_json() == {"alerts": []}
    error_of(admin.get("/alerts", unacknowledged="maybe"), 400)
    for alert_id in ("12345", "abc", "1" * 40):
        error_of(admin.post(f"/alerts/{alert_id}/ack"), 404)


def test_every_api_answer_says_no_store(api_app: Any, admin: Any) -> None:
    case = open_case(admin, legal_name="Ivan Example")
    client = api_app.test_client()
    bearer = {"Authorization": f"Bearer {admin.token}"}
    answers = [
        admin.get(f"/cases/{case}"),
        admin.get(f"/cases/{case}/events"),
        admin.get("/cases"),
        admin.get("/deadlines"),
        admin.post("/cases", {"pseudonym": "Owl"}),  # 422
        admin.get("/cases/00000000-0000-0000-0000-000000000000"),  # 404
        client.get("/api/v1/cases"),  # 401
        client.get("/api/v1/no-such-endpoint", headers=bearer),  # 404 outside every route
        client.get("/api/v1/openapi.json"),
    ]
    assert all(r.headers.get("Cache-Control") == "no-store" for r in answers), [
        (r.request.path, r.status_code, r.headers.get("Cache-Control")) for r in answers
    ]


def test_a_method_an_api_path_does_not_have_is_405_naming_the_ones_it_has(admin: Any) -> None:
    r = admin.client.open("/api/v1/cases", method="TRACE", headers={"Authorization": f"Bearer {admin.token}"})
    error_of(r, 405)
    assert {m.strip() for m in r.headers.get("Allow", "").split(",")} >= {"GET", "POST"}


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/alerts", "unacknowledged"),
        ("/alerts", "limit"),
        ("/deadlines", "overdue"),
        ("/deadlines", "within_days"),
        ("/cases", "status"),
        ("/cases", "limit"),
        ("/cases", "deadline_within"),
        ("/cases/{case}", "as_of"),
        ("/cases/{case}/events", "after_version"),
        ("/cases/{case}/deadlines", "include_closed"),
    ],
)
def test_an_empty_boolean_number_date_or_choice_parameter_is_refused(
    admin: Any, path: str, name: str
) -> None:
    # `?overdue=` is neither true nor false: a client that sends it has a bug the answer must show.
    case = open_case(admin)
    r = admin.client.get(
        f"/api/v1{path.format(case=case)}?{name}=", headers={"Authorization": f"Bearer {admin.token}"}
    )
    assert names_field(error_of(r, 400), name)


def test_a_whole_number_written_with_a_fraction_is_an_integer(admin: Any) -> None:
    # JSON Schema (and JSON) make no difference between 1941 and 1941.0; a generated client may send either.
    r = admin.client.post(
        "/api/v1/cases",
        data='{"pseudonym": "Wren", "citizenship": "RU", "category": "other", "birth_year": 1941.0}',
        headers={"Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.get_json()
    case = r.get_json()["id"]
    assert admin.get(f"/cases/{case}").get_json()["status"]["pseudonym"] == "Wren"
    events = admin.get(f"/cases/{case}/events").get_json()["events"]
    assert events[0]["data"]["birth_year"] == 1941
    assert names_field(error_of(admin.post("/cases", {**CASE, "birth_year": 1941.5}), 422), "birth_year")


def test_the_version_a_new_case_reports_is_the_one_the_next_event_follows(api_app: Any, api_for: Any) -> None:
    # A caseworker's new case also records their assignment: the answer must give the version after it.
    for role in ("caseworker", "supervisor"):
        api = api_for(api_app, role)
        created = api.post("/cases", CASE).get_json()
        assert created["version"] == version_of(api, created["id"]), role
        r = api.post(
            f"/cases/{created['id']}/events",
            {
                "type": "contact_made",
                "occurred_on": TODAY,
                "data": {},
                "expected_version": created["version"],
            },
        )
        assert r.status_code == 201, (role, r.get_json())
