"""Smaller fixes of the web pages and the demo script: each test names what a user saw before."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from browser.webkit import PASSWORD, case_id, post_form, sign_in, text

from tracker.services.demo import DEMO_USERS

ROOT = Path(__file__).resolve().parents[1]


def client_of(app, name):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def test_the_demo_hint_names_every_demo_user() -> None:
    hint = next(line for line in (ROOT / "scripts/demo").read_text().splitlines() if line.startswith("echo"))
    for name, role in DEMO_USERS.items():
        assert f"{name} ({role})" in hint, name


def test_a_day_before_the_opening_titles_the_page_with_the_pseudonym_not_none(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    now = text(anna.get(f"/cases/{cid}"))
    opened = re.search(r'data-type="case_opened"[^>]*>\s*<div class="when">(\d{4}-\d\d-\d\d)', now).group(1)
    day = (date.fromisoformat(opened) - timedelta(days=1)).isoformat()
    for lang in ("en", "ru"):
        page = text(anna.get(f"/cases/{cid}?as_of={day}&lang={lang}"))
        assert 'id="as-of-note"' in page  # the story before the opening is still shown
        assert "None" not in page, lang
        assert "<title>Farhad" in page and "<h1>Farhad " in page, lang


RU_MONTHS = [
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
]


def test_the_status_card_names_the_month_of_a_month_precision_date(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Yevgeny")
    page = text(anna.get(f"/cases/{cid}"))
    month = re.search(r'data-type="case_opened"[^>]*>\s*<div class="when">(\d{4}-\d\d)[ <]', page).group(1)
    day = date.fromisoformat(month + "-01")
    card = page.split('id="status"')[1].split("</section>")[0]
    assert f"<dt>Opened on</dt><dd>{day:%B} {day.year}</dd>" in card
    assert f"{month}-01" not in card  # not a made-up first of the month
    russian = text(anna.get(f"/cases/{cid}?lang=ru")).split('id="status"')[1].split("</section>")[0]
    assert f"<dd>{RU_MONTHS[day.month - 1]} {day.year}</dd>" in russian
    assert re.search(r"<dt>Where</dt><dd>Kazakhstan since \d{4}-\d\d-\d\d</dd>", card)  # known to the day


def test_the_language_chosen_on_the_sign_in_page_wins_over_the_saved_one_and_is_saved(demo_app) -> None:
    ru = demo_app.test_client()
    assert sign_in(ru, "anna").status_code == 302
    assert '<html lang="ru">' in text(ru.get("/?lang=ru"))  # anna saves Russian
    browser = demo_app.test_client()
    chosen = text(browser.get("/login?lang=en"))
    assert '<html lang="en">' in chosen
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', chosen).group(1)
    done = browser.post("/login", data={"username": "anna", "password": PASSWORD, "csrf_token": token})
    assert done.status_code == 302
    assert '<html lang="en">' in text(browser.get(done.headers["Location"]))
    elsewhere = demo_app.test_client()  # a new browser: the saved language is English now
    assert sign_in(elsewhere, "anna", headers={"Accept-Language": "ru"}).status_code == 302
    assert '<html lang="en">' in text(elsewhere.get("/"))


def test_a_language_left_by_the_previous_user_is_not_saved_for_the_next(demo_app) -> None:
    shared = demo_app.test_client()
    shared.get("/login?lang=ru")
    assert sign_in(shared, "sam").status_code == 302
    post_form(shared, "/logout", {}, page="/")
    assert sign_in(shared, "anna").status_code == 302  # anna chose nothing on the sign-in page
    elsewhere = demo_app.test_client()
    assert sign_in(elsewhere, "anna").status_code == 302
    assert '<html lang="en">' in text(elsewhere.get("/"))


def test_correcting_a_retracted_event_says_it_cannot_be_corrected(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    contact = re.findall(r'id="event-([^"]+)" data-type="contact_made"', text(anna.get(f"/cases/{cid}")))[0]
    path = f"/cases/{cid}/events/new"
    form = {"type": "event_retracted", "event_id": contact, "f-reason": "wrong person"}
    assert post_form(anna, path, form, page=path).status_code == 302
    for kind in ("event_corrected", "event_retracted"):
        response = anna.get(f"{path}?type={kind}&event_id={contact}")
        assert response.status_code == 422
        assert "This event was retracted: a retracted event cannot be corrected or retracted." in text(
            response
        )
    posted = post_form(
        anna, path, {"type": "event_corrected", "event_id": contact, "f-reason": "x"}, page=path
    )
    assert posted.status_code == 422 and "a retracted event cannot be corrected" in text(posted)
    unknown = anna.get(f"{path}?type=event_corrected&event_id=nonsense")
    assert unknown.status_code == 404 and "This case has no such event." in text(unknown)
    russian = text(anna.get(f"{path}?type=event_corrected&event_id={contact}&lang=ru"))
    assert "отозванное событие нельзя исправить" in russian
    plain = anna.get(f"{path}?type=event_corrected")
    assert plain.status_code == 200 and 'class="error"' not in text(plain)


def test_the_audit_view_shows_readable_json(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    path = f"/cases/{cid}/events/new"
    said = "He's safe in Астана & calls <Friday>"
    form = {"type": "note_added", "occurred_on": "2024-01-10", "date_precision": "day", "f-text": said}
    assert post_form(anna, path, form, page=f"{path}?type=note_added").status_code == 302
    page = text(client_of(demo_app, "sam").get(f"/cases/{cid}/audit"))
    assert "\\u00" not in page and "\\u04" not in page
    assert "He&#39;s safe in Астана &amp; calls &lt;Friday&gt;" in page  # escaped once, as HTML


def test_the_event_type_picker_groups_types_and_picks_none_by_default(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    for page in (text(anna.get(f"/cases/{cid}")), text(anna.get(f"/cases/{cid}/events/new"))):
        select = re.search(r'<select id="type" name="type"[^>]*>(.*?)</select>', page, re.S)
        assert select and "required" in select.group(0)
        options = re.findall(r"<option[^>]*>", select.group(1))
        assert options[0] == '<option value="" selected disabled>'  # "choose", not "Contact details changed"
        assert not any("selected" in o for o in options[1:])
        groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select.group(1), re.S)
        assert len(groups) >= 8 and {"Movement", "Prosecution at home", "Safety and contact"} <= {
            g for g, _ in groups
        }
        assert sum(g.count("<option") for _, g in groups) == len(options) - 1  # every type in a group
        assert "Choose what happened" in select.group(1)


USUAL = ["RU", "KZ", "GE", "AM", "RS", "TR", "KG", "UZ"]


def _country_groups(page: str, select_name: str) -> tuple[list[str], list[str]]:
    select = re.search(rf'<select[^>]*name="{select_name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    groups = dict(re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S))
    usual, every = list(groups.values())
    return re.findall(r'<option value="([A-Z]{2})"', usual), re.findall(r'<option value="([A-Z]{2})"', every)


def test_country_selects_offer_the_usual_countries_first(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    form = text(anna.get(f"/cases/{cid}/events/new?type=relocated&f-country=KZ"))
    assert '<optgroup label="Usual countries">' in form
    usual, every = _country_groups(form, "f-country")
    assert usual == USUAL and not set(usual) & set(every) and len(every) > 150
    assert form.count('<option value="KZ" selected>') == 1
    listing = text(anna.get("/cases"))
    assert _country_groups(listing, "country")[0] == USUAL
    demo_app.extensions["tracker"].settings["USUAL_COUNTRIES"] = "de, FR, nowhere"
    usual, every = _country_groups(text(anna.get(f"/cases/{cid}/events/new?type=relocated")), "f-country")
    assert usual == ["DE", "FR"] and "RU" in every
    russian = text(anna.get(f"/cases/{cid}/events/new?type=relocated&lang=ru"))
    assert '<optgroup label="Частые страны">' in russian


def test_resolving_a_deadline_asks_for_no_date_precision(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    case_page = text(anna.get(f"/cases/{cid}"))
    resolve = (
        re.search(r'href="([^"]*type=deadline_resolved[^"]*)"', case_page).group(1).replace("&amp;", "&")
    )
    form = text(anna.get(resolve))
    assert 'name="f-deadline_key"' in form and 'name="occurred_on"' in form
    assert 'name="date_precision"' not in form and "approximate date" not in form
    key = re.search(r'<option value="([^"]+)" selected>', form).group(1)
    path = f"/cases/{cid}/events/new"
    data = {"type": "deadline_resolved", "occurred_on": "2024-01-10", "date_precision": "year"}
    done = post_form(anna, path, {**data, "f-deadline_key": key, "f-resolution": "met"}, page=resolve)
    assert done.status_code == 302
    page = text(anna.get(f"/cases/{cid}"))
    assert re.search(r'data-type="deadline_resolved"[^>]*>\s*<div class="when">2024-01-10</div>', page)
    assert not re.search(r'<div class="when">2024-01-10 <span', page)  # exact to the day, not "approx."
    assert 'name="date_precision"' in text(anna.get(f"{path}?type=relocated"))  # other events still ask


def test_charges_changed_names_the_criminal_case_by_its_date_and_article(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Sparrow")
    page = text(anna.get(f"/cases/{cid}"))
    opened_id, opened_on = re.search(
        r'id="event-([^"]+)" data-type="criminal_case_opened"[^>]*>\s*<div class="when">([\d-]+)', page
    ).groups()
    changed = page.split('data-type="charges_changed"')[1].split("</li>")[0]
    assert f"<dt>Criminal case</dt><dd>{opened_on}, article 337</dd>" in changed
    assert opened_id[:8] not in changed
    russian = (
        text(anna.get(f"/cases/{cid}?lang=ru")).split('data-type="charges_changed"')[1].split("</li>")[0]
    )
    assert f"{opened_on}, статья 337</dd>" in russian


def test_the_chronology_legend_names_what_red_event_marks_are(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    page = text(anna.get(f"/cases/{case_id(demo_app, 'Sparrow')}"))
    legend = page.split('id="chronology"')[1].split('<p class="legend">')[1].split("</p>")[0]
    keys = dict(re.findall(r'<span class="key (key-[a-z]+)"></span>([^<]+)', legend))
    keys.update(re.findall(r'<g class="event-mark (ev-[a-z]+)"><rect[^>]*/></g></svg>([^<]+)', legend))
    assert keys["key-detention"].strip() == "time in detention"
    assert keys["ev-prosecution"].strip() == "prosecution, detention or threat"
    assert keys["ev-protection"].strip() == "protection abroad"
    assert keys["ev-movement"].strip() == "movement or legal stay"
    assert keys["ev-other"].strip() == "other event"
    drawn = set(re.findall(r'class="event-mark (ev-[a-z]+)"><title>', page))
    assert "ev-prosecution" in drawn or "ev-safety" in drawn  # Sparrow's story has red marks to explain
