"""The per-user calendar feed: valid iCalendar, stable UIDs, pseudonyms only, rotatable secret tokens."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alertkit import staff, stay_case
from conftest import add_event
from icalendar import Calendar

from tracker.alerts.ics import CalendarEvent, calendar, escape, fold
from tracker.auth.tables import UserRow
from tracker.services import calendar as service

BASE_URL = "https://tracker.example.org"


@pytest.fixture
def people(app: Any, rt: Any) -> dict:
    rt.settings["BASE_URL"] = BASE_URL
    return staff(app)


def fetch(app: Any, token: str) -> Any:
    return app.test_client().get(f"/calendar/{token}.ics")


def events_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/calendar"
    cal = Calendar.from_ical(response.data)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_the_feed_lists_the_open_deadlines_of_the_users_cases(app, rt, people) -> None:
    today: date = rt.today()
    admin = people["admin"]
    mine = stay_case(admin, today, today + timedelta(days=20), legal_name="Ivan Secretov")
    add_event(
        admin,
        mine,
        "court_hearing_scheduled",
        today.isoformat(),
        {"hearing_on": (today + timedelta(days=9)).isoformat()},
    )
    theirs = stay_case(admin, today, today + timedelta(days=5), worker="boris", name="Falcon")
    closed = stay_case(admin, today, today + timedelta(days=6), name="Birch")
    add_event(admin, closed, "case_closed", today.isoformat(), {"outcome": "resettled"})
    token = service.issue_token(rt, "anna")
    response = fetch(app, token)
    events = events_of(response)
    expected = {d["key"]: d for d in admin.get(f"/cases/{mine}/deadlines").get_json()["deadlines"]}
    assert set(events) == {f"{key}@tracker" for key in expected}
    for uid, event in events.items():
        deadline = expected[uid.removesuffix("@tracker")]
        assert event.decoded("DTSTART") == date.fromisoformat(deadline["due_on"])
        assert event.decoded("DTEND") == date.fromisoformat(deadline["due_on"]) + timedelta(days=1)
        assert str(event["SUMMARY"]) == f"Sparrow: {deadline['title']}"
        assert str(event["URL"]) == f"{BASE_URL}/cases/{mine}"
    assert (
        b"Secretov" not in response.data and b"Falcon" not in response.data and b"Birch" not in response.data
    )
    assert theirs  # boris's case is not anna's
    assert events_of(fetch(app, token)).keys() == events.keys()  # UIDs are stable between fetches


def test_a_supervisor_sees_every_open_case_and_resolved_deadlines_leave(app, rt, people) -> None:
    today: date = rt.today()
    admin = people["admin"]
    stay_case(admin, today, today + timedelta(days=20))
    other = stay_case(admin, today, today + timedelta(days=5), worker="boris", name="Falcon")
    token = service.issue_token(rt, "sam")
    assert len(events_of(fetch(app, token))) == 2
    (deadline,) = admin.get(f"/cases/{other}/deadlines").get_json()["deadlines"]
    add_event(
        admin,
        other,
        "deadline_resolved",
        today.isoformat(),
        {"deadline_key": deadline["key"], "resolution": "met"},
    )
    assert [str(e["SUMMARY"]) for e in events_of(fetch(app, token)).values()] == [
        "Sparrow: Legal stay in KZ expires"
    ]


def test_a_new_token_replaces_the_old_and_a_revoked_one_stops_working(app, rt, people) -> None:
    first = service.issue_token(rt, "anna")
    assert fetch(app, first).status_code == 200
    second = service.issue_token(rt, "anna")
    assert second != first
    assert fetch(app, first).status_code == 404
    assert fetch(app, second).status_code == 200
    service.revoke_token(rt, "anna")
    assert fetch(app, second).status_code == 404
    for wrong in ("nope", "cal_" + "x" * 43, "x" * 300):
        assert fetch(app, wrong).status_code == 404


def test_only_a_hash_of_the_token_is_stored(app, rt, people) -> None:
    token = service.issue_token(rt, "anna")
    with rt.db.read() as session:
        stored = session.scalar(sa.select(UserRow.calendar_token_hash).where(UserRow.username == "anna"))
    assert stored and token not in stored and len(stored) == 64


def test_a_disabled_users_feed_stops(app, rt, people) -> None:
    token = service.issue_token(rt, "anna")
    with rt.db.write() as session:
        session.execute(sa.update(UserRow).where(UserRow.username == "anna").values(active=False))
    assert fetch(app, token).status_code == 404


def test_the_cli_prints_the_feed_url(app, rt, people) -> None:
    from tracker.cli import cli

    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["user", "calendar-token", "anna"])
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith(f"{BASE_URL}/calendar/") and url.endswith(".ics")
    assert fetch(app, url.removeprefix(f"{BASE_URL}/calendar/").removesuffix(".ics")).status_code == 200
    missing = runner.invoke(cli, ["user", "calendar-token", "nobody"])
    assert missing.exit_code == 1 and "no such user: nobody" in missing.output
    assert "Traceback" not in missing.output


def test_the_feed_needs_no_api_token_and_lives_outside_the_api(app, rt, people) -> None:
    token = service.issue_token(rt, "anna")
    assert app.test_client().get(f"/api/v1/calendar/{token}.ics").status_code in (401, 404)


# ------------------------------------------------------------------------------- iCalendar text


def test_text_values_are_escaped() -> None:
    assert escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
    assert escape("old\x0bvalue\x1b[31m") == "old value [31m"  # stored before such text was refused


def test_long_lines_fold_at_75_octets_without_splitting_characters() -> None:
    line = "SUMMARY:" + "Воробей " * 30
    folded = fold(line)
    pieces = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(pieces)) == line


def test_a_calendar_parses_and_keeps_non_ascii_pseudonyms() -> None:
    day = date(2025, 1, 31)
    text = calendar(
        "Tracker deadlines (anna)",
        [
            CalendarEvent(
                "k:1@tracker", day, "Воробей: Court hearing, 3; again", "d " * 80, "https://x/cases/1"
            )
        ],
        datetime(2025, 1, 1, 12, tzinfo=UTC),
    )
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    (event,) = Calendar.from_ical(text).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Воробей: Court hearing, 3; again"
    assert event.decoded("DTSTART") == day and event.decoded("DTEND") == date(2025, 2, 1)
    assert str(event["DESCRIPTION"]) == "d " * 80
