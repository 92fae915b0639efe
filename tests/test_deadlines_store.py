"""Deadlines as a read model, through the API on both engines: every rule, what ends a deadline, as_of."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from alertkit import staff
from conftest import Json, _make_app, add_event, open_case

from tracker.services import integrity


@pytest.fixture
def people(app: Any) -> dict[str, Json]:
    return staff(app)


def iso(day: date) -> str:
    return day.isoformat()


def deadlines(api: Json, case: str, include_closed: bool = False) -> list[dict]:
    params = {"include_closed": "true"} if include_closed else {}
    r = api.get(f"/cases/{case}/deadlines", **params)
    assert r.status_code == 200, r.get_json()
    return list(r.get_json()["deadlines"])


def by_kind(items: list[dict]) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for d in items:
        found.setdefault(d["kind"], []).append((d["due_on"], d["state"]))
    return found


def weekday_on_or_before(day: date, weekday: int) -> date:
    """The last day on or before `day` that falls on `weekday` (Monday 0 ... Sunday 6)."""
    return day - timedelta(days=(day.weekday() - weekday) % 7)


def year_after(day: date) -> date:
    """The same day a year later, or 28 February for a 29 February: one calendar year."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def new_case(
    people: dict[str, Json],
    today: date,
    worker: str = "anna",
    name: str = "Sparrow",
    opened: date | None = None,
) -> str:
    admin = people["admin"]
    opened = opened or today - timedelta(days=400)
    case = open_case(admin, name, occurred_on=iso(opened))
    add_event(admin, case, "caseworker_assigned", iso(opened), {"username": worker})
    return case


def decided(admin: Json, case: str, country: str, notified: str, on: str | None = None, **data: str) -> None:
    """A rejection in `country` notified on `notified` (recorded on `on`, else that same day)."""
    body = {"country": country, "outcome": "rejected", "notified_on": notified, **data}
    add_event(admin, case, "asylum_decided", on or notified, body)


def appeals(admin: Json, case: str) -> dict[str, tuple[str, str]]:
    """(due_on, state) of each appeal deadline of the case, by the country in its title."""
    return {
        d["title"].split(" asylum")[0].split()[-1]: (d["due_on"], d["state"])
        for d in deadlines(admin, case, include_closed=True)
        if d["kind"] == "asylum_appeal"
    }


def stay(admin: Json, case: str, on: date, until: date) -> None:
    data = {"country": "KZ", "kind": "visa_free", "valid_until": iso(until)}
    add_event(admin, case, "stay_permitted", iso(on), data)


def test_every_rule_makes_its_deadline(people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today)
    past = iso(today - timedelta(days=3))

    def add(type_: str, data: dict, on: str = past) -> None:
        add_event(admin, case, type_, on, data)

    add(
        "stay_permitted",
        {"country": "KZ", "kind": "visa_free", "valid_until": iso(today + timedelta(days=20))},
    )
    add("removal_ordered", {"country": "KZ", "leave_by": iso(today + timedelta(days=10))})
    add(
        "document_recorded",
        {"kind": "international_passport", "status": "held", "valid_until": iso(today + timedelta(days=60))},
    )
    add("document_recorded", {"kind": "military_id", "status": "confiscated", "valid_until": iso(today)})
    add("court_hearing_scheduled", {"court": "Garrison court", "hearing_on": iso(today + timedelta(days=9))})
    add("asylum_interview_scheduled", {"country": "FR", "interview_on": iso(today + timedelta(days=12))})
    # Every date below is derived from today, inside the case's life and in the past, so that the
    # appeal periods have run out (overdue) and the filing window has not (open), whatever today is.
    fr_year = today.year if today.month >= 3 else today.year - 1
    saturday = weekday_on_or_before(today - timedelta(days=10), 5)
    friday = weekday_on_or_before(today - timedelta(days=40), 4)
    decisions = [
        # one calendar month from 31 January: the last day of February
        ("FR", "rejected", "normal", date(fr_year, 1, 31), date(fr_year, 3, 1) - timedelta(days=1)),
        # one week from a Saturday ends on a Saturday -> Monday
        ("DE", "rejected", "manifestly_unfounded", saturday, saturday + timedelta(days=9)),
        # 30 days from a Friday end on a Sunday -> Monday
        ("US", "rejected", "normal", friday, friday + timedelta(days=31)),
        # any other country: 30 plain days
        ("CA", "inadmissible", "normal", today - timedelta(days=60), today - timedelta(days=30)),
    ]
    for country, outcome, procedure, notified, _due in decisions:
        data = {"country": country, "outcome": outcome, "procedure": procedure, "notified_on": iso(notified)}
        add("asylum_decided", data, on=iso(notified))
    add("asylum_decided", {"country": "GE", "outcome": "granted"})  # no appeal for a grant
    add("contact_made", {"channel": "phone"}, on=iso(today - timedelta(days=2)))
    add("check_in_plan_set", {"every_days": 14})
    add("reminder_set", {"title": "Call the lawyer", "due_on": iso(today + timedelta(days=7))})
    arrival = today - timedelta(days=100)
    add("fled_country", {"from_country": "RU", "to_country": "US"}, on=iso(arrival))
    found = by_kind(deadlines(admin, case))
    soon = {n: iso(today + timedelta(days=n)) for n in (7, 9, 10, 12, 20, 60)}
    assert found == {
        "stay_expires": [(soon[20], "open")],
        "leave_by": [(soon[10], "open")],
        "document_expires": [(soon[60], "open")],
        "court_hearing": [(soon[9], "open")],
        "asylum_interview": [(soon[12], "open")],
        "asylum_appeal": sorted((iso(due), "overdue") for *_, due in decisions),
        "check_in": [(iso(today + timedelta(days=12)), "open")],
        "reminder": [(soon[7], "open")],
        "asylum_filing_window": [(iso(year_after(arrival)), "open")],
        # Arrived in the US with no stay known there: five days to establish it.
        "stay_unknown": [(iso(arrival + timedelta(days=5)), "overdue")],
    }
    everything = deadlines(admin, case)
    assert [d["due_on"] for d in everything] == sorted(d["due_on"] for d in everything)
    reminder = next(d for d in everything if d["kind"] == "reminder")
    assert (reminder["title"], reminder["days_left"]) == ("Call the lawyer", 7)
    assert set(reminder) == {
        "key",
        "case_id",
        "kind",
        "title",
        "due_on",
        "days_left",
        "state",
        "source_event_id",
    }


def test_a_stay_extension_supersedes_the_stay(people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today)
    stay(admin, case, today - timedelta(days=30), today + timedelta(days=3))
    (old,) = deadlines(admin, case)
    extension = add_event(
        admin,
        case,
        "stay_extended",
        iso(today),
        {"country": "KZ", "valid_until": iso(today + timedelta(days=33))},
    )
    (new,) = deadlines(admin, case)
    assert new["key"] != old["key"] and new["due_on"] == iso(today + timedelta(days=33))
    assert new["source_event_id"] == extension["id"]
    states = {d["key"]: d["state"] for d in deadlines(admin, case, include_closed=True)}
    assert states == {old["key"]: "superseded", new["key"]: "open"}
    # A stay in another country moves nothing.
    add_event(
        admin,
        case,
        "stay_extended",
        iso(today),
        {"country": "AM", "valid_until": iso(today + timedelta(days=5))},
    )
    keys = {d["key"]: d["title"] for d in deadlines(admin, case)}
    assert new["key"] in keys and sorted(keys.values()) == [
        "Legal stay in AM expires",
        "Legal stay in KZ expires",
    ]
    listed = [d["key"] for d in people["anna"].get("/deadlines", within_days=60).get_json()["deadlines"]]
    assert old["key"] not in listed and new["key"] in listed


def test_an_appeal_filed_meets_the_appeal_deadline_of_its_country_only(people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today)
    notified = iso(today - timedelta(days=5))
    for country in ("FR", "DE"):
        add_event(
            admin,
            case,
            "asylum_decided",
            notified,
            {"country": country, "outcome": "rejected", "notified_on": notified},
        )
    add_event(admin, case, "appeal_filed", iso(today), {"country": "FR", "body": "CNDA"})
    states = {
        d["title"].split(" asylum")[0].split()[-1]: d["state"]
        for d in deadlines(admin, case, include_closed=True)
    }
    assert states == {"FR": "met", "DE": "open"}


def test_deadline_resolved_ends_one_deadline(people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today)
    for title in ("Call the lawyer", "Send the papers"):
        add_event(
            admin,
            case,
            "reminder_set",
            iso(today),
            {"title": title, "due_on": iso(today + timedelta(days=2))},
        )
    first, second = deadlines(admin, case)
    add_event(
        admin, case, "deadline_resolved", iso(today), {"deadline_key": first["key"], "resolution": "met"}
    )
    add_event(
        admin, case, "deadline_resolved", iso(today), {"deadline_key": second["key"], "resolution": "moot"}
    )
    assert deadlines(admin, case) == []
    states = {d["key"]: d["state"] for d in deadlines(admin, case, include_closed=True)}
    assert states == {first["key"]: "met", second["key"]: "resolved"}
    unknown = {"deadline_key": "reminder:nope:2030-01-01", "resolution": "met"}
    r = admin.post(
        f"/cases/{case}/events", {"type": "deadline_resolved", "occurred_on": iso(today), "data": unknown}
    )
    assert r.status_code == 422 and any("deadline_key" in f for f in r.get_json()["fields"])


def test_closing_a_case_ends_its_deadlines_and_reopening_brings_them_back(people, today) -> None:
    admin, anna = people["admin"], people["anna"]
    case = new_case(people, today)
    add_event(
        admin, case, "reminder_set", iso(today), {"title": "Call", "due_on": iso(today + timedelta(days=2))}
    )
    (open_,) = deadlines(admin, case)
    add_event(admin, case, "case_closed", iso(today), {"outcome": "resettled"})
    assert deadlines(admin, case) == []
    assert [(d["key"], d["state"]) for d in deadlines(admin, case, include_closed=True)] == [
        (open_["key"], "resolved")
    ]
    assert anna.get("/deadlines").get_json()["deadlines"] == []
    assert anna.get("/cases", deadline_within="30").get_json()["cases"] == []
    add_event(admin, case, "case_reopened", iso(today), {"reason": "back in touch"})
    assert [d["key"] for d in deadlines(admin, case)] == [open_["key"]]
    assert [c["id"] for c in anna.get("/cases", deadline_within="30").get_json()["cases"]] == [case]


def test_a_corrected_date_is_a_new_deadline_and_a_retracted_source_ends_it(people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today)
    hearing = add_event(
        admin, case, "court_hearing_scheduled", iso(today), {"hearing_on": iso(today + timedelta(days=5))}
    )
    (before,) = deadlines(admin, case)
    moved = {"hearing_on": iso(today + timedelta(days=6))}
    add_event(
        admin,
        case,
        "event_corrected",
        iso(today),
        {"event_id": hearing["id"], "data": moved, "reason": "typo"},
    )
    (after,) = deadlines(admin, case)
    assert after["key"] != before["key"] and after["due_on"] == iso(today + timedelta(days=6))
    add_event(
        admin, case, "event_retracted", iso(today), {"event_id": hearing["id"], "reason": "entered twice"}
    )
    assert deadlines(admin, case) == []
    states = sorted(d["state"] for d in deadlines(admin, case, include_closed=True))
    assert states == ["superseded", "superseded"]


def test_status_as_of_a_past_date_shows_the_deadlines_of_that_date(people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today)
    stay(admin, case, today - timedelta(days=30), today - timedelta(days=2))
    extended = {"country": "KZ", "valid_until": iso(today + timedelta(days=40))}
    add_event(admin, case, "stay_extended", iso(today - timedelta(days=5)), extended)
    now = admin.get(f"/cases/{case}").get_json()["status"]
    assert now["next_deadline"]["due_on"] == iso(today + timedelta(days=40))
    assert now["overdue_deadlines"] == 0
    then = admin.get(f"/cases/{case}", as_of=iso(today - timedelta(days=10))).get_json()["status"]
    assert then["next_deadline"]["due_on"] == iso(today - timedelta(days=2))
    assert then["next_deadline"]["days_left"] == 8 and then["next_deadline"]["state"] == "open"
    before = admin.get(f"/cases/{case}", as_of=iso(today - timedelta(days=31))).get_json()["status"]
    assert before["next_deadline"] is None and before["overdue_deadlines"] == 0


def test_open_deadlines_across_cases(people, today) -> None:
    admin, anna, boris, sam = people["admin"], people["anna"], people["boris"], people["sam"]
    mine = new_case(people, today)
    theirs = new_case(people, today, worker="boris", name="Falcon")
    for case, days in ((mine, 30), (mine, 31), (mine, -1), (theirs, 0)):
        add_event(
            admin,
            case,
            "reminder_set",
            iso(today),
            {"title": f"In {days}", "due_on": iso(today + timedelta(days=days))},
        )

    def titles(api: Json, **params: Any) -> list[str]:
        r = api.get("/deadlines", **params)
        assert r.status_code == 200, r.get_json()
        return [d["title"] for d in r.get_json()["deadlines"]]

    assert titles(anna) == ["In -1", "In 30"]  # soonest first; 31 days is outside the default window
    assert titles(anna, within_days="31") == ["In -1", "In 30", "In 31"]
    assert titles(anna, within_days="0") == ["In -1"]
    assert titles(anna, overdue="true") == ["In -1"]
    assert titles(sam) == ["In -1", "In 0", "In 30"]
    assert titles(sam, assigned="boris") == ["In 0"]
    assert titles(sam, assigned="me") == []
    assert titles(boris) == ["In 0"]
    overdue = anna.get("/deadlines").get_json()["deadlines"][0]
    assert (overdue["state"], overdue["days_left"]) == ("overdue", -1)
    for bad in ({"within_days": "soon"}, {"within_days": "-1"}, {"overdue": "yes"}):
        assert anna.get("/deadlines", **bad).status_code == 400


def test_deadline_reads_need_a_token_and_a_visible_case(app, people, today) -> None:
    case = new_case(people, today, worker="boris")
    anon = Json(app.test_client(), None)
    for path in ("/deadlines", f"/cases/{case}/deadlines"):
        assert anon.get(path).status_code == 401
    assert people["anna"].get(f"/cases/{case}/deadlines").status_code == 404
    assert people["boris"].get(f"/cases/{case}/deadlines").status_code == 200


def test_rebuild_reproduces_the_deadlines(rt, people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today)
    stay(admin, case, today - timedelta(days=30), today + timedelta(days=3))
    add_event(
        admin,
        case,
        "stay_extended",
        iso(today),
        {"country": "KZ", "valid_until": iso(today + timedelta(days=9))},
    )
    add_event(
        admin, case, "reminder_set", iso(today), {"title": "Call", "due_on": iso(today + timedelta(days=2))}
    )
    before = deadlines(admin, case, include_closed=True)
    integrity.rebuild(rt)
    assert deadlines(admin, case, include_closed=True) == before


# ------------------------------------------------------------------ rule edges, through the store


def test_fr_one_calendar_month_from_31_january_ends_on_29_february_in_a_leap_year(people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today, opened=date(2024, 1, 2))
    # Recorded the day after the notification: the period runs from notified_on.
    decided(admin, case, "FR", "2024-01-31", on="2024-02-01")
    assert appeals(admin, case) == {"FR": ("2024-02-29", "overdue")}
    other = new_case(people, today, name="Falcon", opened=date(2023, 1, 2))
    decided(admin, other, "FR", "2023-01-31")
    assert appeals(admin, other) == {"FR": ("2023-02-28", "overdue")}


def test_de_two_weeks_in_the_normal_procedure(people, today) -> None:
    admin = people["admin"]
    wednesday = new_case(people, today, opened=date(2023, 5, 1))
    decided(admin, wednesday, "DE", "2023-06-07", procedure="normal")  # a Wednesday
    assert appeals(admin, wednesday) == {"DE": ("2023-06-21", "overdue")}
    saturday = new_case(people, today, name="Falcon", opened=date(2023, 5, 1))
    decided(admin, saturday, "DE", "2023-06-03", procedure="normal")  # two weeks end on a Saturday
    assert appeals(admin, saturday) == {"DE": ("2023-06-19", "overdue")}
    # Notified on the latest Wednesday: two weeks later, a Wednesday still ahead.
    running = new_case(people, today, name="Heron")
    notified = weekday_on_or_before(today, 2)
    decided(admin, running, "DE", iso(notified), procedure="normal")
    assert appeals(admin, running) == {"DE": (iso(notified + timedelta(weeks=2)), "open")}


ORG_RULES = """
[holidays]
dates = [2023-06-21, 2023-07-07]
DE = [2023-06-23]
"""


@pytest.fixture
def org_app(db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The application on the engine under test, with an organization's holidays in DEADLINE_RULES."""
    rules = tmp_path / "org-rules.toml"
    rules.write_text(ORG_RULES, encoding="utf-8")
    application = _make_app(db_url, tmp_path, monkeypatch, DEADLINE_RULES=str(rules))
    yield application
    application.extensions["tracker"].db.dispose()


def test_an_organizations_own_holiday_moves_a_due_date(org_app) -> None:
    people = staff(org_app)
    today = org_app.extensions["tracker"].today()
    admin = people["admin"]

    def due(country: str, notified: str) -> str:
        case = new_case(people, today, name=f"P{country}{notified}", opened=date(2023, 1, 2))
        decided(admin, case, country, notified)
        ((due_on, _state),) = appeals(admin, case).values()
        return str(due_on)

    # DE, two weeks: a holiday of every country (Wednesday) -> Thursday.
    assert due("DE", "2023-06-07") == "2023-06-22"
    # DE, two weeks: a DE holiday on a Friday -> the next working day, Monday.
    assert due("DE", "2023-06-09") == "2023-06-26"
    # Any other country, 30 plain days: the DE holiday does not count there ...
    assert due("CA", "2023-05-24") == "2023-06-23"
    # ... a holiday of every country does (Wednesday -> Thursday) ...
    assert due("CA", "2023-05-22") == "2023-06-22"
    # ... and a Friday holiday ends on Monday, not on the Saturday after it.
    assert due("CA", "2023-06-07") == "2023-07-10"
    # Without a holiday, a period of plain days may end on a Saturday.
    assert due("CA", "2023-05-25") == "2023-06-24"


def test_the_us_filing_window_runs_a_year_from_arrival_and_is_met_by_asylum_applied(people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today)
    arrival = today - timedelta(days=30)
    add_event(admin, case, "fled_country", iso(arrival), {"from_country": "RU", "to_country": "US"})
    # A stay known in the US: this test follows the filing window alone.
    add_event(admin, case, "stay_permitted", iso(arrival), {"country": "US", "kind": "humanitarian"})
    (window,) = deadlines(admin, case)
    assert (window["kind"], window["due_on"], window["state"]) == (
        "asylum_filing_window",
        iso(year_after(arrival)),
        "open",
    )
    assert window["title"] == "Asylum filing window in US closes"
    # Applying in another country leaves the window open; applying in the US meets it.
    add_event(admin, case, "asylum_applied", iso(today - timedelta(days=2)), {"country": "CA"})
    assert [d["key"] for d in deadlines(admin, case)] == [window["key"]]
    add_event(admin, case, "asylum_applied", iso(today), {"country": "US", "route": "in_country"})
    assert deadlines(admin, case) == []
    met = {d["kind"]: (d["key"], d["state"]) for d in deadlines(admin, case, include_closed=True)}
    assert met["asylum_filing_window"] == (window["key"], "met")
    assert met["stay_unknown"][1] == "met"  # the stay, recorded on arrival
    assert people["anna"].get("/deadlines", within_days=400).get_json()["deadlines"] == []


def test_a_window_is_not_met_by_an_application_made_before_the_arrival(people, today) -> None:
    admin = people["admin"]
    case = new_case(people, today)
    add_event(admin, case, "asylum_applied", iso(today - timedelta(days=60)), {"country": "US"})
    arrival = today - timedelta(days=10)
    add_event(admin, case, "fled_country", iso(arrival), {"from_country": "MX", "to_country": "US"})
    assert by_kind(deadlines(admin, case)) == {
        "asylum_filing_window": [(iso(year_after(arrival)), "open")],
        "stay_unknown": [(iso(arrival + timedelta(days=5)), "overdue")],
    }
