"""The web UI in a real browser: a caseworker's day, an auditor's reading, Russian, access rules."""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from importlib import resources
from pathlib import Path

import pytest

from tracker.events.catalogue import SENSITIVE
from tracker.services.demo import DEMO_FILES

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("TRACKER_SCREENSHOTS")  # a folder: the tests then also take the docs' screenshots


def shot(page, name: str, full: bool = False) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full)


def entry(page, event_id: str):
    return page.locator(f"li#event-{event_id}")


def record(page, type_label: str, fill: dict[str, str], selects: dict[str, str] | None = None) -> str:
    """Record an event through the case page's picker and the type's form; returns the new event's id."""
    page.select_option("#type", label=type_label)  # app.js opens the form at once
    page.wait_for_url(re.compile(r"/events/new\?type="))
    for name, value in fill.items():
        page.fill(f"[name='{name}']", value)
    for name, value in (selects or {}).items():
        page.select_option(f"[name='{name}']", value)
    page.click("form.event-form button[type=submit]")
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}#event-"))
    return page.url.rsplit("#event-", 1)[1]


def test_a_caseworkers_day(page, live, sign_in):
    from tracker.services import alerts

    alerts.run_pass(live.rt)
    sign_in(page, "anna")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator("#my-deadlines").is_visible() and page.locator("#my-alerts tbody tr").count() > 0
    shot(page, "dashboard")
    page.click("#my-cases >> text=Farhad")
    page.wait_for_selector("#timeline")
    shot(page, "case")
    if SHOTS:
        page.locator("#chronology").screenshot(path=str(Path(SHOTS) / "chronology.png"))
    today = live.rt.today().isoformat()

    note = record(page, "Note", {"occurred_on": today, "f-text": "Called the legal-aid bureau."})
    assert "Called the legal-aid bureau." in entry(page, note).inner_text()
    contact = record(page, "Contact made", {"occurred_on": today, "f-channel": "signal"})
    risk = record(page, "Risk assessed", {"occurred_on": today}, {"f-level": "critical"})
    assert entry(page, risk).get_attribute("data-type") == "risk_assessed"
    assert page.locator("#status").inner_text().count("critical") == 1

    page.select_option("#type", label="Relocated")
    page.wait_for_url(re.compile(r"type=relocated"))
    page.fill("[name=occurred_on]", (live.rt.today() + timedelta(days=30)).isoformat())
    page.select_option("[name=f-country]", "AM")
    page.fill("[name=f-address]", "Yerevan, a friend's flat")
    page.watch.expected_status.add(422)  # the form comes back with its errors, answered 422
    page.click("form.event-form button[type=submit]")
    page.wait_for_selector("#form-errors")
    assert page.locator("[data-field=city]").inner_text() == "is required"
    assert page.locator("[data-field=occurred_on]").inner_text().startswith("must not be in the future")
    assert page.input_value("[name=f-address]") == "Yerevan, a friend's flat"
    assert page.input_value("[name=f-country]") == "AM"
    shot(page, "event_form_error")
    page.click("text=Cancel")

    entry(page, note).locator("text=Correct").click()
    page.fill("[name=d-text]", "Called the legal-aid bureau twice.")
    page.fill("[name=f-reason]", "it was two calls")
    page.click("form.event-form button[type=submit]")
    page.wait_for_url(re.compile(r"#event-"))
    entry(page, contact).locator("text=Retract").click()
    page.fill("[name=f-reason]", "recorded on the wrong case")
    page.click("form.event-form button[type=submit]")
    page.wait_for_url(re.compile(r"#event-"))
    assert entry(page, note).get_attribute("data-state") == "corrected"
    assert "corrected" in entry(page, note).locator(".badge").inner_text()
    assert "Called the legal-aid bureau twice." in entry(page, note).inner_text()
    assert entry(page, contact).get_attribute("data-state") == "retracted"
    assert "recorded on the wrong case" in entry(page, contact).inner_text()
    entry(page, note).scroll_into_view_if_needed()
    shot(page, "timeline_corrections")

    where_now = page.locator("#status").inner_text()
    assert "Astana" in where_now
    fled = page.locator("li.event[data-type=fled_country] .when").first.inner_text()
    page.fill("#as_of", (date.fromisoformat(fled) - timedelta(days=1)).isoformat())
    page.click("form.as-of button")
    page.wait_for_selector("#as-of-note")
    assert "Status as of" in page.locator("#status h2").inner_text()
    assert "Astana" not in page.locator("#status").inner_text()
    assert page.locator("li.event[data-type=fled_country]").count() == 0
    shot(page, "case_as_of")

    page.click("a[hreflang=ru]")
    page.wait_for_selector("html[lang=ru]")
    assert "Положение на" in page.locator("#status h2").inner_text()
    page.click("text=Вернуться к сегодняшнему дню")
    assert page.locator("#timeline h2").inner_text().startswith("История событий")
    assert "исправлено" in entry(page, note).inner_text() and "отозвано" in entry(page, contact).inner_text()
    shot(page, "case_ru")
    page.click("nav >> text=Главная")
    assert page.locator("h1").inner_text() == "Главная"
    page.click("nav >> text=Дела")
    assert page.locator("h1").inner_text() == "Дела"
    page.click("nav >> text=Оповещения")
    assert page.locator("h1").inner_text() == "Оповещения"
    page.click("a[hreflang=en]")
    assert page.locator("h1").inner_text() == "Alerts"
    page.locator("#alerts button").first.click()
    assert "Alert acknowledged." in page.locator(".flash").inner_text()
    shot(page, "alerts")


def demo_secrets() -> list[str]:
    values = []
    for name in DEMO_FILES:
        for line in resources.files("tracker.demo").joinpath(name).read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                for e in [{"type": "case_opened", "data": item["case"]}, *item["events"]]:
                    values += [str(e["data"][k]) for k in SENSITIVE[e["type"]] if k in e["data"]]
    return values


def test_an_auditor_reads_histories_without_personal_fields(page, live, sign_in):
    secrets_ = demo_secrets()
    sign_in(page, "otto")
    seen = 0
    for name in ("Farhad", "Yevgeny", "Sparrow", "Sportsmaster"):
        page.goto("/cases")
        page.click(f"table.case-list >> text={name}")
        page.wait_for_selector("#timeline")
        assert page.locator("#add-event").count() == 0
        content = page.content()
        page.click("text=Audit view")
        page.wait_for_selector("#chain-state")
        assert page.locator("#chain-state").get_attribute("data-intact") == "true"
        assert "The hash chain is intact" in page.locator("#chain-state").inner_text()
        for html in (content, page.content()):
            leaked = [s for s in secrets_ if s in html]
            assert not leaked, (name, leaked)
            seen += 1
        if name == "Farhad":
            shot(page, "audit")
    for path in ("/", "/cases", "/alerts", "/audit"):
        page.goto(path)
        assert not [s for s in secrets_ if s in page.content()]
    assert seen == 8


def test_a_caseworker_gets_not_found_for_a_case_that_is_not_theirs(page, live, sign_in):
    page.watch.expected_status.add(404)
    sign_in(page, "boris")
    response = page.goto(f"/cases/{live.case_id('Farhad')}")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    missing = page.goto("/cases/00000000-0000-4000-8000-000000000000")
    assert missing.status == 404 and page.locator("h1").inner_text() == "Not found"


def test_sign_in_page_and_second_factor_enrolment(page, live, sign_in):
    page.goto("/login")
    assert page.locator("input[name=code]").count() == 1
    shot(page, "login")
    sign_in(page, "sam")
    page.goto("/account/second-factor")
    assert page.locator(".qr svg").count() == 1
    shot(page, "second_factor")
    page.watch.expected_status.add(403)
    page.goto("/admin/users")
    assert page.locator("h1").inner_text() == "Not allowed"
