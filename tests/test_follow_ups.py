"""Follow-ups: set, snoozed, reassigned and done as events; "My follow-ups" read from their read model."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from browser.webkit import case_id, post_form, sign_in, text
from conftest import Json, add_event, open_case

from tracker.auth.users import Actor
from tracker.services import integrity
from tracker.services.follow_ups import case_follow_ups, my_follow_ups


def _day(today: date, days: int) -> str:
    return (today + timedelta(days=days)).isoformat()


def _case_of_anna(admin: Json, today: date, name: str = "Sparrow") -> str:
    case = open_case(admin, name, occurred_on=_day(today, -30))
    add_event(admin, case, "caseworker_assigned", _day(today, -30), {"username": "anna"})
    return case


def _set(api: Json, case: str, today: date, title: str, owner: str, due: int) -> str:
    data = {"title": title, "owner": owner, "due_on": _day(today, due)}
    return str(add_event(api, case, "follow_up_set", today.isoformat(), data)["id"])


def _mine(rt: Any, name: str, role: str = "caseworker") -> list[tuple[str, str, str]]:
    return [(f["title"], f["next_on"], f["state"]) for f in my_follow_ups(rt, Actor(name, role))]


def test_a_follow_up_is_set_snoozed_reassigned_and_done(rt, staff, today) -> None:
    admin, anna = staff["admin"], staff["anna"]
    case = _case_of_anna(admin, today)
    call = _set(anna, case, today, "Call the lawyer", "anna", 3)
    late = _set(anna, case, today, "Send the scan", "anna", -2)
    assert _mine(rt, "anna") == [
        ("Send the scan", _day(today, -2), "overdue"),
        ("Call the lawyer", _day(today, 3), "open"),
    ]
    add_event(
        anna, case, "follow_up_snoozed", today.isoformat(), {"follow_up": late, "until": _day(today, 5)}
    )
    assert _mine(rt, "anna") == [
        ("Call the lawyer", _day(today, 3), "open"),
        ("Send the scan", _day(today, 5), "open"),
    ]
    add_event(anna, case, "follow_up_reassigned", today.isoformat(), {"follow_up": call, "owner": "sam"})
    assert _mine(rt, "sam", "supervisor") == [("Call the lawyer", _day(today, 3), "open")]
    add_event(anna, case, "follow_up_done", today.isoformat(), {"follow_up": late})
    assert _mine(rt, "anna") == []
    # A retracted "done" opens the follow-up again.
    done = staff["sam"].get(f"/cases/{case}/events").get_json()["events"][-1]
    add_event(
        admin, case, "event_retracted", today.isoformat(), {"event_id": done["id"], "reason": "not sent"}
    )
    assert _mine(rt, "anna") == [("Send the scan", _day(today, 5), "open")]


def test_the_read_model_is_rebuilt_from_the_events(rt, staff, today) -> None:
    admin, anna = staff["admin"], staff["anna"]
    case = _case_of_anna(admin, today)
    first = _set(anna, case, today, "Ask about the hearing", "anna", 1)
    _set(anna, case, today, "Book the interpreter", "anna", 9)
    add_event(
        anna, case, "follow_up_snoozed", today.isoformat(), {"follow_up": first, "until": _day(today, 2)}
    )
    before = my_follow_ups(rt, Actor("anna", "caseworker"))
    assert len(before) == 2
    integrity.rebuild(rt)
    assert my_follow_ups(rt, Actor("anna", "caseworker")) == before


def test_bad_follow_ups_are_refused_naming_the_field(rt, staff, today) -> None:
    admin, anna = staff["admin"], staff["anna"]
    case = _case_of_anna(admin, today)
    other = _case_of_anna(admin, today, "Yevgeny")
    theirs = _set(anna, other, today, "Elsewhere", "anna", 1)

    def refused(type_: str, data: dict[str, Any]) -> dict[str, str]:
        r = anna.post(
            f"/cases/{case}/events", {"type": type_, "occurred_on": today.isoformat(), "data": data}
        )
        assert r.status_code == 422, r.get_json()
        return dict(r.get_json()["fields"])

    base = {"title": "Call", "due_on": _day(today, 1)}
    # boris is a caseworker who does not follow this case; nobody is no user at all.
    assert refused("follow_up_set", {**base, "owner": "boris"}) == {"owner": "boris may not see this case"}
    assert refused("follow_up_set", {**base, "owner": "nobody"}) == {"owner": "no such user: nobody"}
    assert refused(
        "follow_up_set", {**base, "owner": "anna", "deadline_key": "stay_expires:x:2030-01-01"}
    ) == {"deadline_key": "no deadline with this key in this case"}
    assert refused("follow_up_done", {"follow_up": theirs}) == {
        "follow_up": "no follow_up_set event with this id in this case"
    }
    assert refused("follow_up_snoozed", {"follow_up": theirs}) == {"until": "is required"}
    assert [f["title"] for f in my_follow_ups(rt, Actor("anna", "caseworker"))] == ["Elsewhere"]


def test_a_follow_up_may_serve_a_deadline_of_the_case(rt, staff, today) -> None:
    admin, anna = staff["admin"], staff["anna"]
    case = _case_of_anna(admin, today)
    add_event(
        admin, case, "stay_permitted", _day(today, -10),
        {"country": "KZ", "kind": "visa_free", "valid_until": _day(today, 20)},
    )  # fmt: skip
    key = admin.get(f"/cases/{case}/deadlines").get_json()["deadlines"][0]["key"]
    data = {
        "title": "Apply for the extension",
        "owner": "anna",
        "due_on": _day(today, 7),
        "deadline_key": key,
    }
    add_event(anna, case, "follow_up_set", today.isoformat(), data)
    (mine,) = my_follow_ups(rt, Actor("anna", "caseworker"))
    assert mine["deadline_key"] == key
    with rt.db.read() as session:
        (listed,) = case_follow_ups(session, case, today)
    assert (listed["title"], listed["deadline_title"]) == (
        "Apply for the extension",
        "Legal stay in KZ expires",
    )


def _row(page: str, title: str) -> str:
    match = re.search(
        r'<tr class="[a-z]+" id="follow-up-[^"]+">(?:(?!</tr>).)*' + re.escape(title), page, re.S
    )
    assert match, f"no follow-up row {title!r}"
    return match.group(0)


def test_my_follow_ups_on_the_dashboard_with_done_and_snooze(demo_app) -> None:
    rt = demo_app.extensions["tracker"]
    today = rt.today()
    farhad = case_id(demo_app, "Farhad")
    anna = demo_app.test_client()
    assert sign_in(anna, "anna").status_code == 302
    for title, due in (("Call Farhad's lawyer", 4), ("Check the registration", -1)):
        page = f"/cases/{farhad}/events/new?type=follow_up_set"
        data = {
            "occurred_on": today.isoformat(),
            "f-title": title,
            "f-owner": "anna",
            "f-due_on": _day(today, due),
        }
        r = post_form(anna, page, {**data, "type": "follow_up_set", "version": _version(anna, page)})
        assert r.status_code == 302, text(r)
    dashboard = text(anna.get("/"))
    section = dashboard[dashboard.index('id="my-follow-ups"') :]
    # Overdue first.
    assert section.index("Check the registration") < section.index("Call Farhad")
    assert "1 day overdue" in _row(section, "Check the registration")
    follow_up = re.search(r'id="follow-up-([^"]+)">', _row(section, "Check the registration")).group(1)
    snooze = f"/cases/{farhad}/follow-ups/{follow_up}/snooze"
    r = post_form(anna, snooze, {"until": _day(today, 10), "back": "dashboard"}, page="/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/#my-follow-ups")
    assert "in 10 days" in _row(text(anna.get("/")), "Check the registration")
    bad = post_form(anna, snooze, {"until": "soon"}, page="/")
    assert bad.status_code == 422 and 'id="follow-up-error"' in text(bad)
    done = f"/cases/{farhad}/follow-ups/{follow_up}/done"
    assert post_form(anna, done, {"back": "case"}, page="/").status_code == 302
    assert "Check the registration" not in text(anna.get("/"))
    case_page = text(anna.get(f"/cases/{farhad}"))
    assert "done " + today.isoformat() in _row(case_page, "Check the registration")
    # An auditor sees the case's follow-ups but no action; boris does not see the case at all.
    otto = demo_app.test_client()
    assert sign_in(otto, "otto").status_code == 302
    audited = text(otto.get(f"/cases/{farhad}"))
    assert "Call Farhad" in audited and "/follow-ups/" not in audited
    boris = demo_app.test_client()
    assert sign_in(boris, "boris").status_code == 302
    assert post_form(boris, done, {}, page="/").status_code == 404


def _version(client: Any, page: str) -> str:
    return re.search(r'name="version" value="([0-9]+)"', text(client.get(page))).group(1)
