"""The layout in a real browser: phones get no sideways scrolling; Russian pages show no English."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
PO = Path(__file__).resolve().parents[2] / "tracker" / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
# Where the UI speaks (user data, such as notes and raw JSON, is left out).
CHROME = (
    "h1, h2, h3, th, td, label, button, nav a, summary, legend, dt, option, .error, .hint, .flash, "
    ".badge, .legend, #chain-state, svg.chronology text"
)
# Not words of the UI: user names (such as "import") and the raw history's type names in <code>.
SKIP = "#raw-history td:nth-child(2), #raw-history td:nth-child(5), #access-log td:nth-child(2)"
# English that is not (or no longer) a msgid but once reached the Russian pages.
RAW_ENGLISH = re.compile(r"page|audit|event form|page as of \d{4}-\d\d-\d\d|status as of .*|\[erased\]")


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


def test_chronology_lane_names_fit_their_gutter(page, live, sign_in):
    from tracker.web.cases.chart import LEFT

    sign_in(page, "anna")
    for lang in ("en", "ru"):
        page.goto(f"/cases/{live.case_id('Farhad')}?lang={lang}")
        ends = page.evaluate(
            "[...document.querySelectorAll('svg.chronology .lane-name')]"
            ".map(t => { const b = t.getBBox(); return [t.textContent, b.x + b.width]; })"
        )
        assert len(ends) == 5
        too_long = [name for name, end in ends if end > LEFT - 4]
        assert not too_long, (lang, too_long, LEFT)


@cache
def _english() -> list[re.Pattern[str]]:
    """Each English string of the UI whose Russian differs, as a pattern (placeholders match anything)."""
    with open(PO, "rb") as fh:
        catalogue = read_po(fh, locale="ru")
    found = set()
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for english in ids:
            if english not in strings and re.search(r"[A-Za-z]{3}", english):
                found.add(english)
    return [re.compile(r"(?:.+)".join(map(re.escape, re.split(r"%\(\w+\)s", e)))) for e in sorted(found)]


def _english_on(page) -> list[str]:
    texts = page.evaluate(
        f"[...document.querySelectorAll({CHROME!r})].filter(e => !e.matches({SKIP!r}))"
        ".map(e => (e.innerText ?? e.textContent).trim())"
    )
    return [t for t in texts if RAW_ENGLISH.fullmatch(t) or any(p.fullmatch(t) for p in _english())]


def test_the_russian_pages_show_no_english(page, live, sign_in):
    from tracker.services import alerts

    alerts.run_pass(live.rt)
    sign_in(page, "sam")
    case = live.case_id("Farhad")
    page.goto("/?lang=ru")
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.locator("#my-alerts").count() == 1
    seen = {"dashboard": _english_on(page)}

    page.goto(f"/cases/{case}?as_of=2023-01-05")
    page.goto(f"/cases/{case}")
    seen["case page"] = _english_on(page)
    page.goto(f"/cases/{case}/events/new?type=relocated")
    page.fill("[name=occurred_on]", "2999-01-01")
    page.watch.expected_status.add(422)
    page.click("form.event-form button[type=submit]")
    page.wait_for_selector("#form-errors")
    assert page.locator("[data-field=city]").inner_text() == "обязательное поле"
    seen["event form"] = _english_on(page)

    page.goto(f"/cases/{case}/audit")
    assert page.locator("#chain-state").get_attribute("data-intact") == "true"
    assert page.locator("#access-log td").count() > 0
    seen["audit view"] = _english_on(page)
    page.goto("/?lang=en")
    assert seen == {name: [] for name in seen}, seen


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
