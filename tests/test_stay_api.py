"""The stay count in the status, the stay_limit deadline and the planner, through the API and import."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import add_event, open_case
from corekit import ADMIN

from tracker.services import transfer
from tracker.services.runtime import Runtime


@pytest.fixture
def kz_app(sqlite_app: Any) -> Any:
    sqlite_app.extensions["tracker"].clock = lambda: datetime(2023, 3, 1, 12, 0, tzinfo=UTC)
    return sqlite_app


@pytest.fixture
def admin(kz_app: Any, api_for: Any) -> Any:
    return api_for(kz_app, "admin")


def stay_of(api: Any, case_id: str, **params: Any) -> dict[str, Any] | None:
    r = api.get(f"/cases/{case_id}", **params)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["status"]["stay_count"]


def stay_deadlines(api: Any, case_id: str) -> list[tuple[str, str]]:
    r = api.get(f"/cases/{case_id}/deadlines", include_closed="true")
    return sorted((d["due_on"], d["state"]) for d in r.get_json()["deadlines"] if d["kind"] == "stay_limit")


def entered_kz(api: Any, case_id: str, on: str = "2023-02-01") -> str:
    data = {"country": "KZ", "direction": "entered", "crossing_point": "Kairak road crossing"}
    return str(add_event(api, case_id, "border_crossed", on, data)["id"])


def test_the_status_counts_the_days_of_the_current_country(admin: Any) -> None:
    case_id = open_case(admin, "Sparrow", "2023-01-20")
    assert stay_of(admin, case_id) is None  # no crossing known: nothing to count
    entered_kz(admin, case_id)
    stay = stay_of(admin, case_id)
    assert stay is not None
    assert (stay["country"], stay["rule"]["citizens"]) == ("KZ", "EAEU")
    assert (stay["present"], stay["entered_on"], stay["days_used"]) == (True, "2023-02-01", 29)
    assert (stay["last_lawful_day"], stay["days_left"]) == ("2023-05-01", 61)
    assert stay["warnings"] == []
    before = stay_of(admin, case_id, as_of="2023-02-10")
    assert before is not None and before["days_used"] == 10 and before["as_of"] == "2023-02-10"
    assert stay_deadlines(admin, case_id) == [("2023-05-01", "open")]
    r = admin.get(f"/cases/{case_id}/deadlines")
    (limit,) = [d for d in r.get_json()["deadlines"] if d["kind"] == "stay_limit"]
    assert limit["title"] == "Days of stay in KZ run out"


def test_a_permit_pauses_the_count_and_moves_the_deadline(admin: Any) -> None:
    case_id = open_case(admin, "Sparrow", "2023-01-20")
    entered_kz(admin, case_id)
    permit = {"country": "KZ", "kind": "temporary_residence", "valid_from": "2023-03-01"}
    add_event(admin, case_id, "stay_permitted", "2023-03-01", {**permit, "valid_until": "2023-09-01"})
    stay = stay_of(admin, case_id)
    assert stay is not None and stay["paused"] is True and stay["last_lawful_day"] == "2023-11-30"
    assert stay_deadlines(admin, case_id) == [("2023-05-01", "superseded"), ("2023-11-30", "open")]


def test_corrections_and_retractions_of_crossings_move_the_count(admin: Any) -> None:
    case_id = open_case(admin, "Sparrow", "2023-01-20")
    crossing = entered_kz(admin, case_id)
    fix = {"country": "KZ", "direction": "entered"}
    add_event(
        admin, case_id, "event_corrected", "2023-03-01",
        {"event_id": crossing, "data": fix, "occurred_on": "2023-02-11", "reason": "stamp read again"},
    )  # fmt: skip
    stay = stay_of(admin, case_id)
    assert stay is not None and stay["last_lawful_day"] == "2023-05-11" and stay["days_used"] == 19
    assert ("2023-05-11", "open") in stay_deadlines(admin, case_id)
    add_event(admin, case_id, "event_retracted", "2023-03-01", {"event_id": crossing, "reason": "wrong case"})
    assert stay_of(admin, case_id) is None
    assert [state for _, state in stay_deadlines(admin, case_id) if state == "open"] == []


def test_leaving_meets_the_deadline_and_names_the_earliest_re_entry(admin: Any, kz_app: Any) -> None:
    kz_app.extensions["tracker"].clock = lambda: datetime(2023, 5, 2, 12, 0, tzinfo=UTC)
    case_id = open_case(admin, "Sparrow", "2023-01-20")
    entered_kz(admin, case_id)
    add_event(admin, case_id, "border_crossed", "2023-05-01", {"country": "KZ", "direction": "left"})
    stay = stay_of(admin, case_id)
    assert stay is not None and stay["present"] is False and stay["earliest_reentry"] == "2023-07-31"
    assert stay_deadlines(admin, case_id) == [("2023-05-01", "met")]
    assert admin.get(f"/cases/{case_id}").get_json()["status"]["country"] is None


def test_fled_country_counts_as_an_entry_and_a_second_entry_is_a_warning(admin: Any) -> None:
    case_id = open_case(admin, "Sparrow", "2023-01-20")
    add_event(admin, case_id, "fled_country", "2023-02-01", {"from_country": "RU", "to_country": "KZ"})
    entered_kz(admin, case_id, "2023-02-05")
    stay = stay_of(admin, case_id)
    assert stay is not None and stay["entered_on"] == "2023-02-01" and stay["days_used"] == 29
    assert stay["warnings"] == ["entered KZ on 2023-02-05 with no exit recorded since entering on 2023-02-01"]


def test_the_planner_answers_without_recording_and_is_logged(admin: Any, kz_app: Any, api_for: Any) -> None:
    case_id = open_case(admin, "Sparrow", "2023-01-20")
    entered_kz(admin, case_id)
    version = admin.get(f"/cases/{case_id}").get_json()["version"]
    r = admin.get(f"/cases/{case_id}/stay-plan", leave_on="2023-05-01", return_on="2023-07-30")
    assert r.status_code == 200, r.get_json()
    plan = r.get_json()["plan"]
    assert plan["lawful_until_leave"] is True and plan["earliest_return"] == "2023-07-31"
    assert plan["return_lawful"] is False and plan["may_stay_until"] is None
    ok = admin.get(f"/cases/{case_id}/stay-plan", leave_on="2023-05-01", return_on="2023-07-31").get_json()
    assert ok["plan"]["return_lawful"] is True and ok["plan"]["days_on_return"] >= 1
    assert admin.get(f"/cases/{case_id}").get_json()["version"] == version
    rt: Runtime = kz_app.extensions["tracker"]
    with rt.db.read() as session:
        actions = session.scalars(
            sa.text("SELECT action FROM access_log WHERE case_id = :c"), {"c": case_id}
        ).all()
    assert actions.count("stay plan") == 2

    bad = admin.get(f"/cases/{case_id}/stay-plan", leave_on="2023-02-15")
    assert bad.status_code == 400
    assert bad.get_json()["fields"] == {"leave_on": "must not be before 2023-03-01"}
    assert admin.get(f"/cases/{case_id}/stay-plan", leave_on="1 May").status_code == 400
    stranger = api_for(kz_app, "caseworker")
    assert stranger.get(f"/cases/{case_id}/stay-plan", leave_on="2023-05-01").status_code == 404
    document = admin.get("/openapi.json").get_json()
    assert "/api/v1/cases/{id}/stay-plan" in document["paths"]
    assert document["components"]["schemas"]["border_crossed"]["required"] == ["country", "direction"]


def test_import_and_export_carry_border_crossings(kz_app: Any, admin: Any) -> None:
    rt: Runtime = kz_app.extensions["tracker"]
    line = {
        "case": {
            "pseudonym": "Imported",
            "citizenship": "RU",
            "category": "other",
            "occurred_on": "2023-01-20",
        },
        "events": [
            {
                "type": "border_crossed",
                "occurred_on": "2023-02-01",
                "data": {"country": "KZ", "direction": "entered"},
            }
        ],
    }
    transfer.import_file(rt, io.StringIO(json.dumps(line) + "\n"))
    (case,) = admin.get("/cases", q="Imported").get_json()["cases"]
    stay = stay_of(admin, case["id"])
    assert stay is not None and stay["last_lawful_day"] == "2023-05-01"
    assert stay_deadlines(admin, case["id"]) == [("2023-05-01", "open")]
    out = io.StringIO()
    transfer.export_cases(rt, ADMIN, None, out)
    assert '"type": "border_crossed"' in out.getvalue() or '"type":"border_crossed"' in out.getvalue()
    bad = {
        **line,
        "events": [{"type": "border_crossed", "occurred_on": "2023-02-01", "data": {"country": "KZ"}}],
    }
    with pytest.raises(transfer.ImportFailed, match=r"line 1: events\[0\]\.direction: is required"):
        transfer.import_file(rt, io.StringIO(json.dumps(bad) + "\n"))


def test_a_case_opened_after_the_crossing_is_counted_by_the_citizenship_rule(admin: Any) -> None:
    # The caseworker hears of the person after the entry: the EAEU rule applies from the entry on,
    # not the 30 days of other foreigners.
    case_id = open_case(admin, "Sparrow", "2023-02-20")
    entered_kz(admin, case_id)
    assert stay_deadlines(admin, case_id) == [("2023-05-01", "open")]
    stay = stay_of(admin, case_id, as_of="2023-02-05")
    assert stay is not None and stay["rule"]["citizens"] == "EAEU" and stay["last_lawful_day"] == "2023-05-01"


@pytest.mark.parametrize(
    ("moved", "after"),
    [
        # to a country without a counted stay: the Kazakh limit is met, not forgotten
        ("fled_country", {"from_country": "KZ", "to_country": "US"}),
        # to a country with its own rule: the Kazakh limit is met, and Georgia's begins
        ("relocated", {"country": "GE", "city": "Tbilisi"}),
    ],
)
def test_moving_on_meets_the_limit_of_the_country_left(
    admin: Any, kz_app: Any, moved: str, after: dict[str, str]
) -> None:
    kz_app.extensions["tracker"].clock = lambda: datetime(2023, 3, 10, 12, 0, tzinfo=UTC)
    case_id = open_case(admin, "Sparrow", "2023-01-20")
    entered_kz(admin, case_id)
    assert stay_deadlines(admin, case_id) == [("2023-05-01", "open")]
    add_event(admin, case_id, moved, "2023-03-01", after)
    limits = stay_deadlines(admin, case_id)
    assert ("2023-05-01", "met") in limits, limits
    assert ("2023-05-01", "open") not in limits
