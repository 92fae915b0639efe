"""Reading a long case: corrections at their corrected date showing only what changed, the filter by
kind, quiet stretches folded, and the event picker's usual types."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from browser.webkit import case_id, make_user, post_form, sign_in, text


def client_of(app, name, **kw):
    client = app.test_client()
    assert sign_in(client, name, **kw).status_code == 302
    return client


def order(page: str) -> list[tuple[str, str, str]]:
    """(id, type, day it counts on) of each event of the timeline, top to bottom."""
    return re.findall(
        r'<li class="event [^"]*" id="event-([^"]+)" data-type="([a-z_]+)"[^>]*data-on="([^"]+)"', page
    )


def entry(page: str, event_id: str) -> str:
    """The HTML of one event of the timeline."""
    start = page.index(f'id="event-{event_id}"')
    return page[start : page.index("</li>", start)]


def form_values(page: str) -> dict[str, str]:
    """What the form's inputs and selects hold, as a browser would send them."""
    values = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input[^>]*name="([df]-[a-z_]+)"[^>]*value="([^"]*)"', page)
    }
    for name, body in re.findall(r'<select[^>]*name="([df]-[a-z_]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        values[name] = chosen.group(1) if chosen else ""
    return values


def correct(client, cid: str, event_id: str, **changes: str) -> None:
    path = f"/cases/{cid}/events/new"
    form = f"{path}?type=event_corrected&event_id={event_id}"
    values = form_values(text(client.get(form)))
    response = post_form(
        client,
        path,
        {**values, **changes, "type": "event_corrected", "event_id": event_id, "f-reason": "checked again"},
        page=form,
    )
    assert response.status_code == 302, text(response)[:3000]


def record(client, cid: str, type_name: str, on: str, **fields: str) -> str:
    path = f"/cases/{cid}/events/new"
    data = {"type": type_name, "occurred_on": on, "date_precision": "day", **fields}
    response = post_form(client, path, data, page=f"{path}?type={type_name}")
    assert response.status_code == 302, text(response)[:3000]
    return response.headers["Location"].rsplit("#event-", 1)[1]


def test_a_corrected_date_moves_the_event_in_the_timeline(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    before = order(text(anna.get(f"/cases/{cid}")))
    contact = next(e for e in before if e[1] == "contact_made")  # the newest event
    assert before[0][0] == contact[0]
    fled = next(e for e in before if e[1] == "fled_country")
    correct(anna, cid, contact[0], **{"f-occurred_on": fled[2]})
    page = text(anna.get(f"/cases/{cid}"))
    after = order(page)
    moved = next(e for e in after if e[0] == contact[0])
    assert moved[2] == fled[2]
    days = [e[2] for e in after]
    assert days == sorted(days, reverse=True)  # the moved event sits among the events of its new day
    assert after.index(moved) > after.index(next(e for e in after if e[1] == "relocated"))
    shown = entry(page, contact[0])
    when = re.search(r'<div class="when">(.*?)</div>', shown, re.S).group(1)
    assert f"<del>{contact[2]}</del>" in when and fled[2] in when  # old date struck through, new one given
    assert "<del>" not in re.sub(
        r'<div class="when">.*?</div>', "", shown, flags=re.S
    )  # nothing else changed
    # The same day in the chronology: its mark is drawn among the events of the new day.
    assert contact[0] in order_in_chart(page, fled[2])


def order_in_chart(page: str, day: str) -> list[str]:
    """The ids of the chronology's event marks of one day."""
    return re.findall(rf'<a href="#event-([^"]+)" class="event-mark[^"]*"><title>{day}:', page)


def test_only_the_changed_field_is_shown_as_changed(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    moved = next(e for e in order(text(anna.get(f"/cases/{cid}"))) if e[1] == "relocated")
    old_city = re.search(r"<dt>City</dt><dd>([^<]+)</dd>", entry(text(anna.get(f"/cases/{cid}")), moved[0]))
    assert old_city
    correct(anna, cid, moved[0], **{"d-city": "Shymkent"})
    page = text(anna.get(f"/cases/{cid}"))
    shown = entry(page, moved[0])
    assert 'data-state="corrected"' in shown and "struck" not in shown
    assert re.search(
        rf"<dd class=\"changed\"><del>{re.escape(old_city.group(1))}</del> → <ins>Shymkent</ins></dd>", shown
    )
    assert shown.count("<del>") == 1 and shown.count("<ins>") == 1  # only the city
    assert re.search(r"<dt>Country</dt><dd>Kazakhstan \(KZ\)</dd>", shown)  # unchanged: plainly, once
    assert shown.count("Kazakhstan") == 1
    # The correction itself says what it changed and nothing else.
    fix = next(e for e in order(page) if e[1] == "event_corrected")
    said = entry(page, fix[0])
    assert said.count("<del>") == 1 and "Shymkent" in said and "Kazakhstan" not in said


def test_the_timeline_filters_by_kind_without_javascript(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    everything = text(anna.get(f"/cases/{cid}"))
    for kind in ("legal", "movement", "safety", "support", "notes"):
        assert f'<input type="checkbox" name="kind" value="{kind}"' in everything
    movement = order(text(anna.get(f"/cases/{cid}?kind=movement")))
    assert {t for _, t, _ in movement} == {"fled_country", "relocated", "border_crossed"}
    two = order(text(anna.get(f"/cases/{cid}?kind=safety&kind=support")))
    assert {t for _, t, _ in two} == {"risk_assessed", "check_in_plan_set", "contact_made", "lawyer_assigned"}
    legal = {t for _, t, _ in order(text(anna.get(f"/cases/{cid}?kind=legal")))}
    assert {"criminal_case_opened", "detained", "stay_permitted", "travel_permit_decided"} <= legal
    assert not legal & {"note_added", "border_crossed", "contact_made"}
    notes = {t for _, t, _ in order(text(anna.get(f"/cases/{cid}?kind=notes")))}
    assert {"note_added", "contact_details_changed", "caseworker_assigned"} <= notes
    # A correction is shown with the kind of the event it corrects.
    relocated = next(e for e in order(everything) if e[1] == "relocated")
    correct(anna, cid, relocated[0], **{"d-city": "Shymkent"})
    assert "event_corrected" in {t for _, t, _ in order(text(anna.get(f"/cases/{cid}?kind=movement")))}
    assert "event_corrected" not in {t for _, t, _ in order(text(anna.get(f"/cases/{cid}?kind=notes")))}
    # The filter keeps the day the case is shown as of, and the other way round.
    day = relocated[2]
    as_of = text(anna.get(f"/cases/{cid}?kind=movement&as_of={day}"))
    assert all(
        t in ("fled_country", "relocated", "border_crossed") and on <= day for _, t, on in order(as_of)
    )
    assert re.search(rf'<input type="hidden" name="as_of" value="{day}">', as_of)
    assert '<input type="hidden" name="kind" value="movement">' in as_of


def test_an_unknown_kind_is_named_and_the_timeline_shown_whole(demo_app):
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    response = anna.get(f"/cases/{cid}?kind=movement&kind=gossip")
    assert response.status_code == 400
    page = text(response)
    assert re.search(r'<p class="error"[^>]*>[^<]*gossip[^<]*</p>', page)
    assert len(order(page)) == len(order(text(anna.get(f"/cases/{cid}"))))
    russian = text(anna.get(f"/cases/{cid}?kind=gossip&lang=ru"))
    assert "gossip" in russian and "Kind" not in russian


def new_case(client, pseudonym: str, on: str) -> str:
    data = {
        "occurred_on": on,
        "date_precision": "day",
        "f-pseudonym": pseudonym,
        "f-citizenship": "RU",
        "f-category": "mobilization_evader",
    }
    response = post_form(client, "/cases/new", data)
    assert response.status_code == 302, text(response)[:3000]
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def folded(page: str) -> dict[str, list[str]]:
    """Each fold of the timeline: its summary and the ids of the events behind it."""
    return {
        summary.strip(): re.findall(r'id="event-([^"]+)"', body)
        for summary, body in re.findall(
            r'<details class="quiet">\s*<summary>(.*?)</summary>(.*?)</details>', page, re.S
        )
    }


def test_runs_of_routine_events_fold_behind_a_summary(demo_app):
    anna = client_of(demo_app, "anna")
    year = demo_app.extensions["tracker"].today().year - 1
    cid = new_case(anna, "Quiet", demo_app.extensions["tracker"].today().isoformat())
    routine = [
        record(anna, cid, "contact_made", f"{year}-{m:02d}-10", **{"f-channel": "phone"}) for m in (3, 4)
    ]
    routine.append(record(anna, cid, "note_added", f"{year}-05-10", **{"f-text": "Fine."}))
    routine.append(record(anna, cid, "contact_made", f"{year}-06-10", **{"f-channel": "phone"}))
    page = text(anna.get(f"/cases/{cid}"))
    assert folded(page) == {f"4 routine events, March–June {year}": routine[::-1]}  # newest first, as around
    assert f"4 обычных события, март–июнь {year}" in folded(text(anna.get(f"/cases/{cid}?lang=ru")))
    # Something that matters breaks the run: two on each side are no run.
    record(anna, cid, "threat_reported", f"{year}-04-20", **{"f-kind": "calls"})
    assert folded(text(anna.get(f"/cases/{cid}"))) == {}


def test_the_last_thirty_days_are_never_folded(demo_app):
    anna = client_of(demo_app, "anna")
    today = demo_app.extensions["tracker"].today()
    cid = new_case(anna, "Recent", today.isoformat())
    days = [today - timedelta(days=n) for n in (60, 55, 50, 45, 30, 10)]
    ids = [record(anna, cid, "contact_made", d.isoformat(), **{"f-channel": "phone"}) for d in days]
    assert list(folded(text(anna.get(f"/cases/{cid}"))).values()) == [ids[3::-1]]  # not 30 and 10 days ago
    # As of an earlier day, the 30 days before that day stay open.
    then = (today - timedelta(days=15)).isoformat()
    assert list(folded(text(anna.get(f"/cases/{cid}?as_of={then}"))).values()) == [ids[2::-1]]


def test_a_corrected_event_is_never_folded(demo_app):
    anna = client_of(demo_app, "anna")
    year = demo_app.extensions["tracker"].today().year - 1
    cid = new_case(anna, "Calm", demo_app.extensions["tracker"].today().isoformat())
    routine = [
        record(anna, cid, "contact_made", f"{year}-{m:02d}-01", **{"f-channel": "phone"}) for m in (1, 2, 3)
    ]
    routine.append(record(anna, cid, "referral_made", f"{year}-11-30", **{"f-organization": "Legal aid"}))
    assert folded(text(anna.get(f"/cases/{cid}"))) == {
        f"4 routine events, January–November {year}": routine[::-1]
    }
    correct(anna, cid, routine[1], **{"d-channel": "video"})
    page = text(anna.get(f"/cases/{cid}"))
    assert folded(page) == {}  # what is left on either side is shorter than a run
    assert 'data-state="corrected"' in entry(page, routine[1])


def picker_groups(page: str) -> list[tuple[str, list[str]]]:
    select = re.search(r'<select id="type" name="type"[^>]*>(.*?)</select>', page, re.S).group(1)
    return [
        (label, re.findall(r'<option value="([a-z_]+)"', body))
        for label, body in re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S)
    ]


def test_the_picker_offers_the_types_a_user_records_most_first(demo_app, monkeypatch):
    make_user(demo_app, "carla", "supervisor")
    carla = client_of(demo_app, "carla")
    cid = case_id(demo_app, "Farhad")
    assert picker_groups(text(carla.get(f"/cases/{cid}")))[0][0] != "Your usual"  # nothing recorded yet
    today = demo_app.extensions["tracker"].today().isoformat()
    for _ in range(3):
        record(carla, cid, "contact_made", today)
    for _ in range(2):
        record(carla, cid, "referral_made", today, **{"f-organization": "Legal aid"})
    record(carla, cid, "note_added", today, **{"f-text": "Once only."})
    for page in (text(carla.get(f"/cases/{cid}")), text(carla.get(f"/cases/{cid}/events/new"))):
        groups = picker_groups(page)
        assert groups[0] == (
            "Your usual",
            ["contact_made", "referral_made"],
        )  # most often first; once is not usual
        assert "contact_made" in dict(groups[1:])["Safety and contact"]  # still in its own group too
    assert picker_groups(text(carla.get(f"/cases/{cid}?lang=ru")))[0][0] == "Ваши частые"
    # Each user has their own; anna recorded none of these.
    assert picker_groups(text(client_of(demo_app, "anna").get(f"/cases/{cid}")))[0][0] != "Your usual"
    # Recently: only the user's newest events count.
    from tracker.services import entry as entry_service

    monkeypatch.setattr(entry_service, "USUAL_WINDOW", 3)
    for _ in range(2):
        record(carla, cid, "lawyer_assigned", today, **{"f-name": "Ivanova"})
    groups = picker_groups(text(carla.get(f"/cases/{cid}?lang=en")))
    assert groups[0] == ("Your usual", ["lawyer_assigned"])
