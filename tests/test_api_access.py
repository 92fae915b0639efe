"""Who may see and do what through the API: roles, hidden (s) fields for auditors, the access log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import add_event, open_case

from tracker.events.catalogue import SENSITIVE

SECRETS = {
    "legal_name": "Ivan Petrovich Sidorov-Secret",
    "phone": "+7 700 555 0199",
    "messenger": "@sparrow_hidden",
    "address": "Kenesary street 40, flat 12",
    "unit": "military unit 01234",
    "number": "AB1234567",
    "reference": "UD-12345/2023",
    "description": "a man waited at the bus stop three evenings",
}


@pytest.fixture
def api_app(sqlite_app: Any) -> Any:
    sqlite_app.extensions["tracker"].clock = lambda: datetime(2023, 6, 1, 12, 0, tzinfo=UTC)
    return sqlite_app


@pytest.fixture
def admin(api_app: Any, api_for: Any) -> Any:
    return api_for(api_app, "admin")


def case_with_every_secret(api: Any) -> tuple[str, str]:
    """A case holding every kind of (s) field, one corrected; returns (case id, corrected event id)."""
    case_id = open_case(api, legal_name=SECRETS["legal_name"])
    s = SECRETS
    add_event(api, case_id, "service_recorded", "2022-01-01", {"status": "mobilized", "unit": s["unit"]})
    contact = add_event(
        api, case_id, "contact_details_changed", "2022-10-01",
        {"phone": "+7 000", "messenger": s["messenger"], "address": s["address"]},
    )  # fmt: skip
    add_event(
        api, case_id, "relocated", "2022-10-02", {"country": "KZ", "city": "Astana", "address": s["address"]}
    )
    add_event(
        api, case_id, "document_recorded", "2022-10-03",
        {"kind": "internal_passport", "status": "held", "number": s["number"]},
    )  # fmt: skip
    add_event(
        api, case_id, "criminal_case_opened", "2022-10-04",
        {"country": "RU", "article": "337", "reference": s["reference"]},
    )  # fmt: skip
    add_event(api, case_id, "asylum_applied", "2022-10-05", {"country": "FR", "reference": s["reference"]})
    add_event(
        api,
        case_id,
        "threat_reported",
        "2022-10-06",
        {"kind": "surveillance", "description": s["description"]},
    )
    add_event(
        api, case_id, "event_corrected", "2022-10-07",
        {"event_id": contact["id"], "reason": "typo", "data": {"phone": s["phone"], "reason": "sim_changed"}},
    )  # fmt: skip
    return case_id, contact["id"]


def test_auditors_never_receive_sensitive_fields(api_app: Any, api_for: Any, admin: Any) -> None:
    case_id, _ = case_with_every_secret(admin)
    auditor = api_for(api_app, "auditor")
    for path in (f"/cases/{case_id}", f"/cases/{case_id}/events", f"/cases/{case_id}/deadlines", "/cases"):
        r = auditor.get(path)
        assert r.status_code == 200
        text = r.get_data(as_text=True)
        leaked = [name for name, value in SECRETS.items() if value in text or json.dumps(value)[1:-1] in text]
        assert not leaked, f"{path} shows {leaked} to an auditor"
    for event in auditor.get(f"/cases/{case_id}/events").get_json()["events"]:
        assert not SENSITIVE[event["type"]] & set(event["data"]), event
        if event["type"] == "event_corrected":
            assert "phone" not in event["data"]["data"] and event["data"]["data"]["reason"] == "sim_changed"
    # The non-sensitive facts are all there.
    opened = auditor.get(f"/cases/{case_id}/events").get_json()["events"][0]
    assert opened["data"]["pseudonym"] == "Sparrow"


@pytest.mark.parametrize("role", ["admin", "supervisor", "caseworker"])
def test_those_who_may_see_sensitive_fields_get_them_back(api_app: Any, api_for: Any, role: str) -> None:
    writer = api_for(api_app, role)
    case_id, contact_id = case_with_every_secret(writer)
    events = writer.get(f"/cases/{case_id}/events").get_json()["events"]
    text = json.dumps(events, ensure_ascii=False)
    assert all(value in text for value in SECRETS.values())
    assert events[0]["data"]["legal_name"] == SECRETS["legal_name"]
    fix = next(e for e in events if e["type"] == "event_corrected")
    assert fix["data"]["event_id"] == contact_id and fix["data"]["data"]["phone"] == SECRETS["phone"]


def test_a_caseworker_sees_only_assigned_cases_and_loses_them_when_unassigned(
    api_app: Any, api_for: Any, admin: Any
) -> None:
    worker = api_for(api_app, "caseworker")
    supervisor = api_for(api_app, "supervisor")
    case_id = open_case(admin)
    assert worker.get(f"/cases/{case_id}").status_code == 404
    add_event(supervisor, case_id, "caseworker_assigned", "2023-01-01", {"username": worker.username})
    assert worker.get(f"/cases/{case_id}").status_code == 200
    assert [c["id"] for c in worker.get("/cases").get_json()["cases"]] == [case_id]
    add_event(worker, case_id, "note_added", "2023-01-02", {"text": "met them"})
    add_event(supervisor, case_id, "caseworker_unassigned", "2023-01-03", {"username": worker.username})
    assert worker.get(f"/cases/{case_id}").status_code == 404
    assert worker.get("/cases").get_json()["cases"] == []
    r = worker.post(f"/cases/{case_id}/events", {"type": "note_added", "occurred_on": "2023-01-04",
                                                   "data": {"text": "x"}})  # fmt: skip
    assert r.status_code == 404


def test_supervisors_and_auditors_see_every_case(api_app: Any, api_for: Any) -> None:
    anna = api_for(api_app, "caseworker")
    boris = api_for(api_app, "caseworker")
    cases = {open_case(anna, "A"), open_case(boris, "B")}
    for role in ("supervisor", "auditor", "admin"):
        viewer = api_for(api_app, role)
        assert {c["id"] for c in viewer.get("/cases").get_json()["cases"]} == cases
        assert all(viewer.get(f"/cases/{c}").status_code == 200 for c in cases)
    assert {c["id"] for c in anna.get("/cases").get_json()["cases"]} != cases


@pytest.mark.parametrize("type_", ["event_corrected", "event_retracted"])
def test_a_caseworker_cannot_reassign_a_case_through_a_correction(
    api_app: Any, api_for: Any, type_: str
) -> None:
    worker = api_for(api_app, "caseworker")
    other = api_for(api_app, "caseworker")
    case_id = open_case(worker)
    assignment = worker.get(f"/cases/{case_id}/events").get_json()["events"][1]
    assert assignment["type"] == "caseworker_assigned"
    data: dict[str, Any] = {"event_id": assignment["id"], "reason": "swap"}
    if type_ == "event_corrected":
        data["data"] = {"username": other.username}
    r = worker.post(f"/cases/{case_id}/events", {"type": type_, "occurred_on": "2023-01-01", "data": data})
    assert r.status_code == 403, r.get_json()
    assert worker.get(f"/cases/{case_id}").get_json()["status"]["caseworkers"] == [worker.username]


def test_every_read_of_a_case_is_written_to_the_access_log(api_app: Any, api_for: Any, admin: Any) -> None:
    case_id = open_case(admin)
    auditor = api_for(api_app, "auditor")
    rt = api_app.extensions["tracker"]

    def log() -> list[tuple[str, str, str]]:
        with rt.db.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT username, case_id, action, at FROM access_log ORDER BY id"))
            return [(r.username, r.case_id, r.action) for r in rows]

    assert log() == []
    auditor.get(f"/cases/{case_id}")
    auditor.get(f"/cases/{case_id}", as_of="2023-01-01")
    auditor.get(f"/cases/{case_id}/events")
    auditor.get(f"/cases/{case_id}/deadlines")
    entries = log()
    assert len(entries) == 4
    assert {(user, case) for user, case, _ in entries} == {(auditor.username, case_id)}
    assert entries[2][2] == "events"
    assert "2023-01-01" in entries[1][2]
    # A refused read of a case the caller may not see leaves that case's log alone.
    worker = api_for(api_app, "caseworker")
    worker.get(f"/cases/{case_id}/events")
    assert len(log()) == 4
