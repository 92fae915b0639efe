"""Follow-ups and alerts that close on their own, in a real browser against a real `tracker serve`."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest

pytestmark = pytest.mark.browser


def _wait_for_rows(page, selector: str, server) -> None:
    deadline = time.monotonic() + 60
    while page.locator(selector).count() == 0:
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.5)
        page.reload()


def test_a_follow_up_is_created_snoozed_and_done_and_the_met_check_in_closes_its_alert(
    real_page, real_server, sign_in
):
    page = real_page
    today = date.today()
    sign_in(page, "anna")
    # The scheduler's first pass alerts Farhad's overdue check-in.
    check_in = "#my-alerts tbody tr:has-text('Farhad'):has-text('Check-in')"
    _wait_for_rows(page, check_in, real_server)
    assert "overdue" in page.locator(check_in).first.inner_text()

    # Create a follow-up from Farhad's case page.
    page.click("#my-cases >> text=Farhad")
    page.wait_for_selector("#follow-ups")
    farhad = page.url
    page.click("#follow-ups >> text=Set a follow-up")
    page.wait_for_url(re.compile(r"type=follow_up_set"))
    page.fill("[name=f-title]", "Ask Farhad about the registration")
    page.select_option("[name=f-owner]", "anna")
    page.fill("[name=f-due_on]", (today - timedelta(days=1)).isoformat())
    page.click("form.event-form button[type=submit]")
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}#event-"))
    assert "Ask Farhad about the registration" in page.locator("#follow-ups").inner_text()

    # It is on the dashboard, overdue; snooze it.
    page.goto("/")
    row = page.locator("#my-follow-ups tbody tr:has-text('Ask Farhad about the registration')")
    assert "1 day overdue" in row.inner_text()
    row.locator("input[name=until]").fill((today + timedelta(days=8)).isoformat())
    row.locator("button:has-text('Snooze')").click()
    page.wait_for_url(re.compile(r"#my-follow-ups$"))
    assert "in 8 days" in row.inner_text()

    # Done with one click: it leaves "My follow-ups" and shows as done on the case page.
    row.locator("button:has-text('Done')").click()
    page.wait_for_url(re.compile(r"#my-follow-ups$"))
    assert page.locator("#my-follow-ups").inner_text().count("Ask Farhad about the registration") == 0
    page.goto(farhad)
    done = page.locator("#follow-ups tbody tr:has-text('Ask Farhad about the registration')")
    assert f"done {today.isoformat()}" in done.inner_text()

    # Farhad calls: recording the contact closes the check-in alert by itself.
    page.select_option("#type", label="Contact made")
    page.wait_for_url(re.compile(r"type=contact_made"))
    page.fill("[name=f-channel]", "Signal")
    page.click("form.event-form button[type=submit]")
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]{36}#event-"))
    page.goto("/")
    assert page.locator(check_in).count() == 0
    page.goto("/alerts?show=all")
    closed = page.locator("#alerts tbody tr:has-text('Farhad'):has-text('Check-in')").first
    assert "closed: the check-in was made on" in closed.inner_text()
    assert closed.locator("button:has-text('Acknowledge')").count() == 0
