"""The case pages: list and filters, case page, add-event forms, corrections, as-of, access, auditors."""

from __future__ import annotations

import html
import json
import re
import uuid
from importlib import resources

import pytest
from browser.webkit import case_id, make_user, post_form, sign_in, signed_in, text

from tracker.events.catalogue import CATALOGUE, SENSITIVE
from tracker.services.demo import DEMO_FILES


def demo_secrets() -> list[str]:
    """Every value of a sensitive field in the demo data."""
    values = []
    for name in DEMO_FILES:
        for line in resources.files("tracker.demo").joinpath(name).read_text().splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            for event in [{"type": "case_opened", "data": item["case"]}, *item["events"]]:
                values += [str(event["data"][k]) for k in SENSITIVE[event["type"]] if k in event["data"]]
    assert len(values) > 5
    return values


def client_of(app, name):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def types_on_page(page: str) -> list[str]:
    return re.findall(r'<li class="event [^"]*" id="event-[^"]+" data-type="([a-z_]+)"', page)


def test_the_case_list_searches_and_filters(demo_app):
    anna = client_of(demo_app, "anna")
    everything = text(anna.get("/cases"))
    for name in ("Yevgeny", "Farhad", "Sparrow", "Sportsmaster"):
        assert f">{name}</a>" in everything
    only = text(anna.get("/cases?q=farh"))
    assert ">Farhad</a>" in only and ">Yevgeny</a>" not in only
    assert ">Farhad</a>" not in text(anna.get("/cases?country=FR"))
    assert ">Farhad</a>" in text(anna.get("/cases?status=open&assigned=me&country=KZ"))
    assert "No case matches." in text(anna.get("/cases?status=closed"))
    bad = anna.get("/cases?deadline_within=soon&status=maybe")
    assert bad.status_code == 200 and text(bad).count('class="error"') == 2
    boris = client_of(demo_app, "boris")
    assert "No case matches." in text(boris.get("/cases"))  # a caseworker sees only their cases
    demo_app.extensions["tracker"].settings["PAGE_SIZE"] = 3
    first = text(anna.get("/cases"))
    assert len(re.findall(r'<td><a href="/cases/', first)) == 3
    following = re.search(r'href="([^"]+)" rel="next"', first).group(1)
    second = text(anna.get(html.unescape(following)))
    assert len(re.findall(r'<td><a href="/cases/', second)) == 1
    assert anna.get("/cases?cursor=nonsense").status_code == 200


def test_the_case_page_shows_status_deadlines_chronology_and_timeline(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    page = text(anna.get(f"/cases/{cid}"))
    for part in ('id="status"', 'id="deadlines"', 'id="chronology"', 'id="timeline"', "<svg"):
        assert part in page
    assert "Kazakhstan" in page and "Legal stay in Kazakhstan expires" in page
    dates = re.findall(r'<div class="when">(\d{4}(?:-\d\d)?(?:-\d\d)?)', page)
    assert len(dates) == len(types_on_page(page)) > 10
    full = [d + "-01" * ((10 - len(d)) // 3) for d in dates]  # 2022-09 (month precision) is 2022-09-01
    assert full == sorted(full, reverse=True)  # newest first
    assert "Recorded by import on" in page
    assert "+7 700 000 0001" in page  # a caseworker of the case sees its personal fields


def test_every_event_type_has_a_form(demo_app):
    anna = client_of(demo_app, "anna")
    sam = client_of(demo_app, "sam")
    cid = case_id(demo_app, "Farhad")
    for name, event_type in CATALOGUE.items():
        response = sam.get(f"/cases/{cid}/events/new?type={name}")
        if name in ("case_opened", "personal_data_erased", "attachment_added"):
            assert response.status_code == 404, name
            continue
        assert response.status_code == 200, name
        page = text(response)
        if name in ("event_corrected", "event_retracted"):
            assert 'name="event_id"' in page  # first: which event
            continue
        for field in event_type.fields:
            assert f'name="f-{field.name}"' in page, (name, field.name)
        other = {f.name for t in CATALOGUE.values() for f in t.fields} - set(event_type.field_names)
        assert not any(f'name="f-{n}"' in page for n in other), name
    assert anna.get(f"/cases/{cid}/events/new?type=caseworker_assigned").status_code == 200
    assert "caseworker_assigned" not in text(anna.get(f"/cases/{cid}/events/new"))


def test_adding_an_event_keeps_the_typed_values_and_shows_errors_next_to_fields(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    path = f"/cases/{cid}/events/new"
    form = {
        "type": "relocated",
        "occurred_on": "2099-01-01",
        "date_precision": "day",
        "f-country": "KZ",
        "f-city": "",
        "f-address": "flat 5, Abay street",
        "f-registered_at_address": "no",
    }
    response = post_form(anna, path, form, page=f"{path}?type=relocated")
    assert response.status_code == 422
    page = text(response)
    assert re.search(r'data-field="city">is required<', page)
    assert re.search(r'data-field="occurred_on">must not be in the future', page)
    assert 'value="flat 5, Abay street"' in page and '<option value="KZ" selected>' in page
    assert '<option value="no" selected>' in page
    form.update({"occurred_on": "2024-01-10", "f-city": "Astana"})
    done = post_form(anna, path, form, page=f"{path}?type=relocated")
    assert done.status_code == 302
    event_id = done.headers["Location"].rsplit("#event-", 1)[1]
    page = text(anna.get(f"/cases/{cid}"))
    assert f'id="event-{event_id}" data-type="relocated"' in page and "flat 5, Abay street" in page


def test_numbers_and_yes_no_are_typed_and_bad_numbers_are_named(demo_app):
    sam = client_of(demo_app, "sam")
    cid = case_id(demo_app, "Farhad")
    path = f"/cases/{cid}/events/new"
    form = {"type": "check_in_plan_set", "occurred_on": "2024-01-10", "f-every_days": "often"}
    response = post_form(sam, path, form, page=f"{path}?type=check_in_plan_set")
    assert re.search(r'data-field="every_days">must be a whole number<', text(response))
    form["f-every_days"] = "500"
    assert "must be at least 1 and at most 90" in text(post_form(sam, path, form, page=path))
    form["f-every_days"] = "10"
    assert post_form(sam, path, form, page=path).status_code == 302


def test_correcting_and_retracting_events(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    page = text(anna.get(f"/cases/{cid}"))
    notes = re.findall(r'id="event-([^"]+)" data-type="note_added"', page)
    contact = re.findall(r'id="event-([^"]+)" data-type="contact_made"', page)[0]
    path = f"/cases/{cid}/events/new"
    form_page = text(anna.get(f"{path}?type=event_corrected&event_id={notes[0]}"))
    assert 'name="d-text"' in form_page and 'name="f-reason"' in form_page
    missing = post_form(
        anna,
        path,
        {"type": "event_corrected", "event_id": notes[0], "d-text": "Fixed text"},
        page=f"{path}?type=event_corrected&event_id={notes[0]}",
    )
    assert missing.status_code == 422 and re.search(r'data-field="reason">is required<', text(missing))
    fixed = post_form(
        anna,
        path,
        {"type": "event_corrected", "event_id": notes[0], "d-text": "Fixed text", "f-reason": "typo"},
        page=path,
    )
    assert fixed.status_code == 302
    gone = post_form(
        anna, path, {"type": "event_retracted", "event_id": contact, "f-reason": "wrong person"}, page=path
    )
    assert gone.status_code == 302
    page = text(anna.get(f"/cases/{cid}"))
    assert re.search(rf'id="event-{notes[0]}" data-type="note_added" data-state="corrected"', page)
    assert re.search(rf'id="event-{contact}" data-type="contact_made" data-state="retracted"', page)
    assert "Fixed text" in page and "wrong person" in page
    again = text(anna.get(f"{path}?type=event_retracted&event_id={contact}"))
    assert "Which event should no longer count?" in again  # a retracted event is no longer a target


def test_as_of_shows_the_older_status(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    now = text(anna.get(f"/cases/{cid}"))
    fled = re.search(
        r'<div class="when">(\d{4}-\d\d-\d\d)</div>\s*<div class="what">\s*<h3>Fled the country', now
    )
    day = fled.group(1)
    before = text(
        anna.get(
            f"/cases/{cid}?as_of={day[:8]}{int(day[8:]) - 1:02d}"
            if day[8:] != "01"
            else f"/cases/{cid}?as_of={day}"
        )
    )
    assert "Status as of" in before and 'id="as-of-note"' in before
    assert "Fled the country" not in re.sub(r"<option.*?</option>", "", before)
    assert "Kazakhstan, Astana" in now and "Kazakhstan, Astana" not in before
    bad = anna.get(f"/cases/{cid}?as_of=yesterday")
    assert bad.status_code == 200 and "must be a date (YYYY-MM-DD)" in text(bad)


@pytest.mark.parametrize("day", ["tomorrow", "9998-12-31", "9999-12-31"])
def test_an_as_of_date_after_today_is_refused_next_to_the_field(demo_app, day):
    from datetime import timedelta

    today = demo_app.extensions["tracker"].today()
    if day == "tomorrow":
        day = (today + timedelta(days=1)).isoformat()
    anna = client_of(demo_app, "anna")
    response = anna.get(f"/cases/{case_id(demo_app, 'Farhad')}?as_of={day}")
    assert response.status_code == 200
    page = text(response)
    form = page.split('class="as-of"')[1].split("</form>")[0]
    assert f"must not be after today ({today.isoformat()})" in form and f'value="{day}"' in form
    assert 'id="as-of-note"' not in page and "Status as of" not in page  # today's page instead
    russian = text(anna.get(f"/cases/{case_id(demo_app, 'Farhad')}?as_of={day}&lang=ru"))
    assert "не может быть позже сегодняшнего дня" in russian


def test_as_of_cuts_the_timeline_on_the_corrected_date(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    today = demo_app.extensions["tracker"].today().isoformat()
    page = text(anna.get(f"/cases/{cid}"))
    note, day = re.search(
        r'id="event-([^"]+)" data-type="note_added"[^>]*>\s*<div class="when">(\d{4}-\d\d-\d\d)<', page
    ).groups()
    assert day < today
    path = f"/cases/{cid}/events/new"
    moved = post_form(
        anna,
        path,
        {
            "type": "event_corrected",
            "event_id": note,
            "d-text": "Happened later than written",
            "f-occurred_on": today,
            "f-reason": "wrong date",
        },
        page=f"{path}?type=event_corrected&event_id={note}",
    )
    assert moved.status_code == 302, text(moved)[:2000]
    then = text(anna.get(f"/cases/{cid}?as_of={day}"))
    assert 'id="as-of-note"' in then
    assert f'id="event-{note}"' not in then  # it counts from today on, as the status says
    assert f'id="event-{note}"' in text(anna.get(f"/cases/{cid}?as_of={today}"))


def test_a_case_that_is_not_yours_is_simply_not_found(demo_app):
    boris = client_of(demo_app, "boris")
    cid = case_id(demo_app, "Farhad")
    other = str(uuid.uuid4())
    theirs = boris.get(f"/cases/{cid}")
    missing = boris.get(f"/cases/{other}")
    assert theirs.status_code == missing.status_code == 404

    def same(page: str, case: str) -> str:
        return re.sub(r'name="csrf_token" value="[^"]+"', "", page.replace(case, "ID"))

    assert same(text(theirs), cid) == same(text(missing), other)
    for path in (f"/cases/{cid}/audit", f"/cases/{cid}/events/new?type=note_added", "/cases/not-a-case"):
        assert boris.get(path).status_code == 404
    response = boris.post(f"/cases/{cid}/events/new", data={"type": "note_added"})
    assert response.status_code in (400, 404)


def test_auditors_never_see_personal_fields_and_cannot_record(demo_app):
    otto = client_of(demo_app, "otto")
    secrets_ = demo_secrets()
    pages = ["/", "/cases", "/alerts", "/audit"]
    for name in ("Farhad", "Yevgeny", "Sparrow", "Sportsmaster"):
        cid = case_id(demo_app, name)
        pages += [f"/cases/{cid}", f"/cases/{cid}/audit", f"/cases/{cid}?lang=ru"]
    for path in pages:
        response = otto.get(path)
        assert response.status_code == 200, path
        page = text(response)
        leaked = [s for s in secrets_ if html.escape(s) in page or s in page]
        assert not leaked, (path, leaked)
        assert "(personal)" not in page and "(личное)" not in page
    cid = case_id(demo_app, "Farhad")
    assert otto.get(f"/cases/{cid}/events/new?type=note_added").status_code == 403
    assert otto.get("/cases/new").status_code == 403
    assert 'id="add-event"' not in text(otto.get(f"/cases/{cid}"))


def test_opening_a_case_from_the_web(demo_app):
    make_user(demo_app, "cara", "caseworker")
    cara = client_of(demo_app, "cara")
    bad = post_form(cara, "/cases/new", {"occurred_on": "2024-02-01", "f-pseudonym": "Heron"})
    assert bad.status_code == 422 and re.search(r'data-field="citizenship">is required<', text(bad))
    done = post_form(
        cara,
        "/cases/new",
        {
            "occurred_on": "2024-02-01",
            "f-pseudonym": "Heron",
            "f-citizenship": "RU",
            "f-category": "conscript",
            "f-legal_name": "Ivan Example",
        },
    )
    assert done.status_code == 302
    page = text(cara.get(done.headers["Location"]))
    assert "Heron" in page and "cara" in page and "Ivan Example" in page


def test_admins_erase_personal_data_from_the_case_page(demo_app):
    ada = client_of(demo_app, "ada")
    cid = case_id(demo_app, "Farhad")
    assert "+7 700 000 0001" in text(ada.get(f"/cases/{cid}"))
    form = text(ada.get(f"/cases/{cid}")).split('id="erase"')[1]
    assert 'name="confirm"' in form and 'type="checkbox"' not in form and "Farhad" in form
    for typed in ("", "yes", "farhad", "Farha"):  # the pseudonym typed exactly, nothing else
        wrong = post_form(
            ada, f"/cases/{cid}/erase", {"reason": "request", "confirm": typed}, page=f"/cases/{cid}"
        )
        assert wrong.status_code == 422, typed
        field = text(wrong).split('id="erase-confirm"')[1]
        assert field.index("This is not the pseudonym of this case") < field.index("</div>")
        assert "+7 700 000 0001" in text(wrong)
    no_reason = post_form(ada, f"/cases/{cid}/erase", {"confirm": "Farhad"}, page=f"/cases/{cid}")
    assert no_reason.status_code == 422
    assert 'id="erase-reason-error">Give the reason for the erasure.<' in text(no_reason)
    russian_refusal = post_form(
        ada, f"/cases/{cid}/erase?lang=ru", {"reason": "r", "confirm": "x"}, page=f"/cases/{cid}"
    )
    assert "Это не псевдоним этого дела" in text(russian_refusal)
    ada.get("/?lang=en")
    assert "+7 700 000 0001" in text(ada.get(f"/cases/{cid}"))
    done = post_form(
        ada, f"/cases/{cid}/erase", {"reason": "request", "confirm": " Farhad "}, page=f"/cases/{cid}"
    )
    assert done.status_code == 302
    page = text(ada.get(f"/cases/{cid}"))
    assert "+7 700 000 0001" not in page and "[erased]" in page
    russian = text(ada.get(f"/cases/{cid}?lang=ru"))
    timeline = russian.split('id="timeline"')[1]
    assert "[стёрто]" in timeline and "[erased]" not in russian
    ada.get("/?lang=en")
    anna = client_of(demo_app, "anna")
    assert anna.post(f"/cases/{cid}/erase", data={"reason": "x", "confirm": "Farhad"}).status_code == 400
    forbidden = post_form(
        anna, f"/cases/{cid}/erase", {"reason": "x", "confirm": "Farhad"}, page=f"/cases/{cid}"
    )
    assert forbidden.status_code == 403


def test_the_audit_view_checks_the_chain_and_lists_who_read_the_case(demo_app):
    sam = client_of(demo_app, "sam")
    cid = case_id(demo_app, "Farhad")
    sam.get(f"/cases/{cid}")
    page = text(sam.get(f"/cases/{cid}/audit"))
    assert 'data-intact="true"' in page and "The hash chain is intact" in page
    assert re.search(r"<td>sam</td><td>case page</td>", page)
    hashes = re.findall(r'<code class="hash" title="([0-9a-f]{64})"', page)
    assert len(hashes) == len(set(hashes)) > 10
    engine = demo_app.extensions["tracker"].db.engine
    with engine.begin() as conn:
        triggers = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='events'"
        )
        for (name,) in triggers.fetchall():
            conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        conn.exec_driver_sql(
            "UPDATE events SET recorded_by = 'mallory' WHERE case_id = ? AND version = 3", (cid,)
        )
    broken = text(sam.get(f"/cases/{cid}/audit"))
    assert 'data-intact="false"' in broken and "version 3" in broken
    russian = text(sam.get(f"/cases/{cid}/audit?lang=ru"))
    assert "Цепочка хешей нарушена: хеш версии 3 не соответствует её содержимому и цепочке" in russian
    assert "does not match" not in russian


def test_the_audit_view_in_russian_names_each_read_and_date_precision(demo_app):
    sam = client_of(demo_app, "sam")
    cid = case_id(demo_app, "Farhad")
    sam.get(f"/cases/{cid}")
    sam.get(f"/cases/{cid}?as_of=2023-01-05")
    sam.get(f"/cases/{cid}/events/new?type=note_added")
    page = text(sam.get(f"/cases/{cid}/audit?lang=ru"))
    log = page.split('id="access-log"')[1]
    whats = re.findall(r"<td>sam</td><td>([^<]*)</td>", log)
    assert {"страница дела", "страница дела на 2023-01-05", "форма события", "аудит дела"} <= set(whats)
    raw = page.split('id="raw-history"')[1].split("</table>")[0]
    assert "(с точностью до месяца)" in raw and "(с точностью до года)" in raw
    assert "(месяца)" not in raw and "(года)" not in raw
    english = text(sam.get(f"/cases/{cid}/audit?lang=en"))
    assert "(month only)" in english and "<td>sam</td><td>case page as of 2023-01-05</td>" in english


def test_alerts_inbox_and_acknowledge(demo_app):
    from tracker.services import alerts

    alerts.run_pass(demo_app.extensions["tracker"])
    anna = client_of(demo_app, "anna")
    page = text(anna.get("/alerts"))
    ids = re.findall(r'action="/alerts/(\d+)/ack"', page)
    assert ids, "the demo owes anna alerts"
    assert post_form(anna, f"/alerts/{ids[0]}/ack", {}, page="/alerts").status_code == 302
    assert f"/alerts/{ids[0]}/ack" not in text(anna.get("/alerts"))
    assert "acknowledged" in text(anna.get("/alerts?show=all"))
    boris = client_of(demo_app, "boris")
    assert post_form(boris, f"/alerts/{ids[1]}/ack", {}, page="/alerts").status_code == 404
    assert f"/alerts/{ids[0]}/ack" not in text(anna.get("/"))


def test_the_dashboard_puts_overdue_first_and_shows_supervisors_everyones_overdue(demo_app):
    anna = client_of(demo_app, "anna")
    page = text(anna.get("/"))
    mine = page.split('id="my-deadlines"')[1].split("</section>")[0]
    states = re.findall(r'<tr class="(open|overdue)">', mine)
    assert states and states == sorted(states, key=lambda s: s != "overdue")
    assert 'id="overdue-everyone"' not in page and ">Farhad</a>" in page
    sam = client_of(demo_app, "sam")
    assert 'id="overdue-everyone"' in text(sam.get("/"))


def test_the_dashboard_lists_overdue_alerts_first_then_by_due_date(demo_app):
    from datetime import UTC, datetime, timedelta

    from tracker.alerts.tables import AlertRow

    rt = demo_app.extensions["tracker"]
    cid = case_id(demo_app, "Farhad")
    today = rt.today()
    made = datetime(2024, 1, 1, tzinfo=UTC)
    # (days from today, threshold, created): the overdue ones are the oldest alerts.
    rows = [(-9, None, 0), (-2, None, 1), (30, 30, 2), (7, 7, 3), (14, 14, 4)]
    with rt.db.write() as session:
        for offset, threshold, created in rows:
            session.add(
                AlertRow(
                    deadline_key=f"test:{offset}",
                    stage="overdue:x" if threshold is None else f"lead:{threshold}",
                    username="anna",
                    case_id=cid,
                    kind="check_in",
                    due_on=today + timedelta(days=offset),
                    threshold_days=threshold,
                    created_at=made + timedelta(hours=created),
                )
            )
    page = text(client_of(demo_app, "anna").get("/"))
    alerts = page.split('id="my-alerts"')[1].split("</section>")[0]
    rows_shown = re.findall(r'<tr class="(overdue|)">\s*<td>(\d{4}-\d\d-\d\d)</td>', alerts)
    expected = [
        ("overdue" if t is None else "", (today + timedelta(days=o)).isoformat()) for o, t, _c in rows
    ]
    assert rows_shown == sorted(expected, key=lambda r: (r[0] != "overdue", r[1]))


def test_unknown_event_type_and_bad_alert_ids(demo_app):
    sam = client_of(demo_app, "sam")
    cid = case_id(demo_app, "Farhad")
    assert sam.get(f"/cases/{cid}/events/new?type=nonsense").status_code == 404
    assert post_form(sam, f"/alerts/{10**30}/ack", {}, page="/alerts").status_code == 404
    assert sam.get("/admin/users").status_code == 403
    assert signed_in(demo_app, "newbie", "auditor").get("/audit").status_code == 200
