"""The days-of-stay card on the case page: the count, the strip, and the planner, in both languages."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from browser.webkit import case_id, copy_app, demo_template, post_form, signed_in, text
from conftest import add_event, open_case


@pytest.fixture
def web_app(sqlite_app: Any) -> Any:
    sqlite_app.extensions["tracker"].clock = lambda: datetime(2023, 3, 1, 12, 0, tzinfo=UTC)
    return sqlite_app


@pytest.fixture
def case(web_app: Any, api_for: Any) -> str:
    admin = api_for(web_app, "admin")
    case_id = open_case(admin, "Sparrow", "2023-01-20")
    add_event(admin, case_id, "fled_country", "2022-12-01", {"from_country": "RU", "to_country": "KZ"})
    add_event(admin, case_id, "border_crossed", "2023-01-10", {"country": "KZ", "direction": "left"})
    add_event(admin, case_id, "border_crossed", "2023-02-01", {"country": "KZ", "direction": "entered"})
    return case_id


def stay_card(page: str) -> str:
    match = re.search(r'<section class="card" id="stay">(.*?)</section>', page, re.S)
    assert match, "the case page has no days-of-stay card"
    return html.unescape(match.group(1))


def test_the_case_page_shows_the_count_and_the_strip(web_app: Any, case: str) -> None:
    client = signed_in(web_app, "ada", "admin")
    card = stay_card(text(client.get(f"/cases/{case}")))
    # 41 days from 1 December to 10 January, 29 from 1 February to 1 March.
    assert "70 of 90 in the last 180 days" in card
    assert "2023-03-21 (20 days left)" in card
    assert "Confirm with counsel" in card and "Rule: Kazakhstan, EAEU: 90 days in any 180." in card
    strip = re.search(r"<svg class=\"stay-strip\".*?</svg>", card, re.S)
    assert strip is not None
    assert len(re.findall(r'<rect class="day-present"', strip.group(0))) == 2
    assert "window starts 2022-09-03" in strip.group(0)
    assert 'action="/cases/' in card and 'name="leave_on"' in card


def test_the_case_page_as_of_a_date_shows_the_count_then(web_app: Any, case: str) -> None:
    client = signed_in(web_app, "ada", "admin")
    card = stay_card(text(client.get(f"/cases/{case}?as_of=2023-01-15")))
    assert "41 of 90 in the last 180 days" in card
    assert "<dt>In the country</dt><dd>no</dd>" in card
    assert "<dt>Earliest lawful re-entry</dt><dd>2023-01-15</dd>" in card and "stay-plan-form" not in card


def test_a_warning_shows_contradictory_crossings(web_app: Any, case: str, api_for: Any) -> None:
    admin = api_for(web_app, "admin")
    add_event(admin, case, "border_crossed", "2023-02-10", {"country": "KZ", "direction": "entered"})
    card = stay_card(text(signed_in(web_app, "ada", "admin").get(f"/cases/{case}")))
    assert "Crossings contradict each other: entered KZ on 2023-02-10" in card


def test_the_planner_in_both_languages_records_nothing(web_app: Any, case: str) -> None:
    client = signed_in(web_app, "ada", "admin")
    page = html.unescape(
        text(client.get(f"/cases/{case}/stay-plan?leave_on=2023-03-10&return_on=2023-04-01"))
    )
    assert "Staying until 2023-03-10" in page and "lawful" in page
    assert "Earliest lawful return" in page
    russian = html.unescape(
        text(client.get(f"/cases/{case}/stay-plan?leave_on=2023-03-10&return_on=2023-04-01&lang=ru"))
    )
    assert "Спланировать поездку" in russian and "Earliest lawful return" not in russian
    assert "Правило: Казахстан, EAEU: 90 дней в любые 180." in russian
    bad = client.get(f"/cases/{case}/stay-plan?leave_on=2023-02-10&lang=en")
    assert bad.status_code == 200 and "must not be before 2023-03-01" in html.unescape(text(bad))
    junk = client.get(f"/cases/{case}/stay-plan?leave_on=tomorrow")
    assert junk.status_code == 200 and "must be a date (YYYY-MM-DD)" in html.unescape(text(junk))
    before = text(client.get(f"/cases/{case}/audit"))
    assert before.count("stay plan") >= 2
    other = signed_in(web_app, "carla", "caseworker")
    assert other.get(f"/cases/{case}/stay-plan?leave_on=2023-03-10").status_code == 404


def test_the_event_form_records_a_border_crossing(web_app: Any, case: str) -> None:
    client = signed_in(web_app, "ada", "admin")
    path = f"/cases/{case}/events/new"
    form = {"type": "border_crossed", "occurred_on": "2023-02-20", "date_precision": "day", "f-country": "KZ"}
    refused = post_form(client, path, form, page=f"{path}?type=border_crossed")
    assert refused.status_code == 422
    assert re.search(r'data-field="direction">is required<', text(refused))
    done = post_form(client, path, {**form, "f-direction": "left"}, page=f"{path}?type=border_crossed")
    assert done.status_code == 302
    card = stay_card(text(client.get(f"/cases/{case}")))
    assert "Earliest lawful re-entry" in card and "Last lawful day" not in card
    russian = text(client.get(f"/cases/{case}?lang=ru"))
    assert "Пересёк границу" in russian and "выехал из страны" in russian


def test_the_demo_clients_pages_show_their_count(tmp_path: Any, monkeypatch: Any) -> None:
    (tmp_path / "template").mkdir()
    template = demo_template(tmp_path / "template")
    app = copy_app(template, tmp_path, monkeypatch)
    try:
        client = signed_in(app, "reader", "supervisor")
        cards = {name: stay_card(text(client.get(f"/cases/{case_id(app, name)}"))) for name in DEMO_NAMES}
    finally:
        app.extensions["tracker"].db.dispose()
    for name, card in cards.items():
        assert "Days of stay in Kazakhstan" in card and "paused by a permit" in card, name
    # Yevgeny's two days in Kyrgyzstan did not reset his count: 8 days of April are still in the window.
    assert "8 of 90 in the last 180 days" in cards["Yevgeny"]
    assert "0 of 90 in the last 180 days" in cards["Farhad"]
    for card in cards.values():
        assert re.search(r"Last lawful day</dt><dd[^>]*>\d{4}-\d\d-\d\d \(\d+ days left\)", card)


DEMO_NAMES = ("Yevgeny", "Farhad", "Sparrow", "Sportsmaster")


def test_the_strip_labels_only_months_whose_label_fits_inside_it() -> None:
    import re
    from datetime import date

    from tracker.stay.strip import Strip
    from tracker.web.cases.stay_strip import DAY, LEFT, render

    first, last = date(2025, 12, 9), date(2026, 12, 8)  # the last month starts 8 days before the end
    days = ("present",) * ((last - first).days + 1)
    svg = str(render(Strip("KZ", first, last, days, None)))
    width = LEFT * 2 + DAY * len(days)
    labels = [(int(x), text) for x, text in re.findall(r'class="tick-label" x="(\d+)"[^>]*>([^<]+)<', svg)]
    assert labels and all(x + 52 <= width for x, _ in labels), labels
    assert "2026-11" in {text for _, text in labels} and "2026-12" not in {text for _, text in labels}
