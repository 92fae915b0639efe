"""The rules that accept an event see the same effective history as the status: one append at a time,
a batch (an import line) and an export brought back all agree."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import sqlalchemy as sa
from corekit import ADMIN, new_case, record
from hypothesis import HealthCheck, given, settings
from test_import_bulk import exported
from test_rebuild import ACTIONS

from tracker.auth.users import create_user
from tracker.events.catalogue import ValidationError
from tracker.services import integrity, reading, transfer
from tracker.services.erasure import erase_case


def _line(events: list[dict[str, Any]]) -> str:
    case = {"pseudonym": "Story", "citizenship": "RU", "category": "mobilization_evader",
            "occurred_on": "2022-09-01"}  # fmt: skip
    return json.dumps({"case": case, "events": events}) + "\n"


def _ids(rt: Any) -> set[str]:
    with rt.db.read() as session:
        return set(session.scalars(sa.text("SELECT case_id FROM case_status")))


def _imported(rt: Any, text: str) -> list[str]:
    before = _ids(rt)
    transfer.import_file(rt, io.StringIO(text))
    return sorted(_ids(rt) - before)


def test_closing_again_after_a_retracted_closing_is_accepted_and_exports(rt: Any) -> None:
    case = new_case(rt, "Sparrow", "2022-09-25")
    closed = record(rt, case, "case_closed", "2022-10-01", outcome="other")
    record(rt, case, "event_retracted", "2022-10-02", event_id=closed, reason="too early")
    record(rt, case, "case_closed", "2022-10-03", outcome="resettled")
    status = reading.get_case(rt, ADMIN, case)["status"]
    assert (status["state"], status["closed_outcome"]) == ("closed", "resettled")

    (copy,) = _imported(rt, exported(rt))
    assert reading.get_case(rt, ADMIN, copy)["status"] == status


def test_a_batch_sees_retractions_of_closings_and_reopenings(rt: Any) -> None:
    events = [
        {"type": "case_closed", "occurred_on": "2022-10-01", "data": {"outcome": "other"}},
        {"type": "event_retracted", "occurred_on": "2022-10-02", "data": {"event_id": "#2", "reason": "x"}},
        {"type": "case_closed", "occurred_on": "2022-10-03", "data": {"outcome": "other"}},
        {"type": "case_reopened", "occurred_on": "2022-10-04", "data": {}},
        {"type": "event_retracted", "occurred_on": "2022-10-05", "data": {"event_id": "#5", "reason": "x"}},
        # The reopening is retracted: the case is closed again, so it may be reopened.
        {"type": "case_reopened", "occurred_on": "2022-10-06", "data": {}},
    ]
    (case,) = _imported(rt, _line(events))
    assert reading.get_case(rt, ADMIN, case)["status"]["state"] == "open"
    # Closing it twice in a row is still refused, naming the event.
    twice = [events[2], events[2]]
    with pytest.raises(
        transfer.ImportFailed, match=r"^line 1: events\[1\]\.type: the case is already closed$"
    ):
        transfer.import_file(rt, io.StringIO(_line(twice)))


def test_import_refuses_a_second_erasure_of_one_case(rt: Any) -> None:
    erasure = {"type": "personal_data_erased", "occurred_on": "2022-10-01", "data": {"reason": "asked"}}
    before = _ids(rt)
    with pytest.raises(transfer.ImportFailed, match=r"^line 1: events\[1\]\.type: .*already erased"):
        transfer.import_file(rt, io.StringIO(_line([erasure, erasure])))
    assert _ids(rt) == before
    (case,) = _imported(rt, _line([erasure]))
    assert reading.get_case(rt, ADMIN, case)["status"]["pseudonym"] == "Story"


def test_an_erased_case_exports_and_imports_once_erased(rt: Any) -> None:
    case = new_case(rt, "Sparrow", "2022-09-25")
    erase_case(rt, ADMIN, case, "client asked")
    (copy,) = _imported(rt, exported(rt))
    assert reading.get_case(rt, ADMIN, copy)["status"]["pseudonym"] == "Sparrow"


def _deadlines(rt: Any, case: str) -> list[tuple[str, str, str, str]]:
    return sorted(
        (d["kind"], d["title"], d["due_on"], d["state"])
        for d in reading.case_deadlines(rt, ADMIN, case, True)
    )


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(actions=ACTIONS)
def test_any_story_accepted_one_by_one_comes_back_the_same_from_its_export(
    sqlite_app: Any, actions: list
) -> None:
    rt = sqlite_app.extensions["tracker"]
    with rt.db.write() as session:
        for name in ("anna", "boris"):
            if session.scalar(sa.text("SELECT count(*) FROM users WHERE username = :n"), {"n": name}) == 0:
                create_user(session, name, "caseworker", "correct-horse-battery-staple")
    case = new_case(rt, "Story", "2022-09-01")
    facts: list[tuple[str, str]] = []
    for kind, (type_, data), on, pick in actions:
        try:
            if kind == "fact" or not facts:
                facts.append((record(rt, case, type_, on, **data), type_))
            elif kind == "retract":
                record(rt, case, "event_retracted", on, event_id=facts[pick % len(facts)][0], reason="x")
            elif same := [event_id for event_id, t in facts if t == type_]:
                fix = {"occurred_on": on} if pick % 2 else {}
                record(rt, case, "event_corrected", "2023-03-02", event_id=same[pick % len(same)],
                       reason="x", data=data, **fix)  # fmt: skip
        except ValidationError:
            pass  # refused one at a time: not part of the story
    out = io.StringIO()
    transfer.export_cases(rt, ADMIN, [case], out)

    # The export is one batch: every event of it is checked against the case so far, as one by one.
    (copy,) = _imported(rt, out.getvalue())

    original, again = reading.get_case(rt, ADMIN, case), reading.get_case(rt, ADMIN, copy)
    assert again["version"] == original["version"]
    # Imported events get new ids: the status names a criminal case by its event's id.
    for status in (original["status"], again["status"]):
        for criminal in status["criminal_cases"]:
            criminal.pop("id")
    assert again["status"] == original["status"]
    assert _deadlines(rt, copy) == _deadlines(rt, case)
    assert integrity.verify(rt)[1] == []
