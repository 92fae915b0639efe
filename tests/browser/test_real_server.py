"""The web UI in a real browser against `tracker serve --with-scheduler`, as scripts/demo starts it."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser


def test_a_caseworker_signs_in_to_the_real_server_and_sees_the_schedulers_alerts(
    real_page, real_server, sign_in
):
    page = real_page
    sign_in(page, "anna")
    assert page.locator("h1").inner_text() == "Dashboard"
    deadlines = page.locator("#my-deadlines tbody tr")
    assert deadlines.count() > 0, "the demo's cases have open deadlines"
    # The scheduler process makes the alerts of the demo's near deadlines in its first pass.
    deadline = time.monotonic() + 60
    while page.locator("#my-alerts tbody tr").count() == 0:
        assert time.monotonic() < deadline, real_server.log.read_text()
        time.sleep(0.5)
        page.reload()
    page.click("#my-cases >> text=Farhad")
    page.wait_for_selector("#timeline")
    assert "Farhad" in page.locator("h1").inner_text()
    assert page.locator("#timeline li").count() > 0
