"""The layout in a real browser: phones get no sideways scrolling; the chosen language looks chosen."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _width(page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_pages_fit_a_phone_screen(page, live, sign_in):
    from tracker.services import alerts

    alerts.run_pass(live.rt)
    page.set_viewport_size(PHONE)
    sign_in(page, "anna")
    case = live.case_id("Farhad")
    widths = {}
    for path in (
        "/",
        "/cases",
        f"/cases/{case}",
        f"/cases/{case}?lang=ru",
        f"/cases/{case}/audit",
        "/alerts",
    ):
        page.goto(path)
        page.wait_for_load_state()
        widths[path] = _width(page)
    assert all(w <= PHONE["width"] for w in widths.values()), widths


def test_the_chosen_language_on_the_account_page_looks_chosen(page, live, sign_in):
    sign_in(page, "boris")
    for lang, other in (("ru", "en"), ("en", "ru")):
        page.goto(f"/account?lang={lang}")
        chosen = page.locator(f"main a.button[lang={lang}]")
        rest = page.locator(f"main a.button[lang={other}]")
        assert chosen.get_attribute("aria-current") == "true" and rest.get_attribute("aria-current") is None

        def background(locator):
            return locator.evaluate("e => getComputedStyle(e).backgroundColor")

        assert background(chosen) == "rgb(31, 78, 121)"  # filled with the accent, as a pressed button
        assert background(rest) == "rgb(255, 255, 255)"
