"""Every page on a phone (390 px) and on a laptop (1280 px), in a real browser, for every role."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracker.events.catalogue import CATALOGUE

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}
ROLES = ("anna", "sam", "otto", "ada")  # caseworker, supervisor, auditor, admin
SHOTS = os.environ.get("TRACKER_PHONE_SHOTS")  # a folder: the test then also saves each page it measured
DOC_SHOTS = os.environ.get("TRACKER_SCREENSHOTS")  # the docs' folder: a supervisor's phone in Russian
FOR_DOCS = {"/": "phone_dashboard", "/cases": "phone_cases"}

# What sticks out to the right of the screen, outside a box that scrolls sideways on purpose.
OUTSIDE = """(limit) => [...document.querySelectorAll('main *')].filter(e => {
  const r = e.getBoundingClientRect();
  if (r.width === 0 || r.right <= limit + 0.5) return false;
  for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
    const s = getComputedStyle(p).overflowX;
    if (s === 'auto' || s === 'scroll' || s === 'hidden') return false;
  }
  return true;
}).slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
  + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().replace(/\\s+/g, '.') : '')
  + ' ' + Math.round(e.getBoundingClientRect().right))"""


# Links and buttons of a table's rows (Acknowledge, Resolve, a case's name) off the screen or out of sight
# in their scrolling box.
HIDDEN_ACTIONS = """(limit) => [...document.querySelectorAll('main td a, main td button')].filter(e => {
  const box = e.closest('.scroll') || document.querySelector('main');
  return e.getBoundingClientRect().right > Math.min(limit, box.getBoundingClientRect().right) + 0.5;
}).slice(0, 5).map(e => e.textContent.trim())"""
# Boxes of tables that scroll sideways (only the audit view's raw history may: it is data, not a list).
SIDEWAYS = """() => [...document.querySelectorAll('main .scroll')]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => (e.querySelector('table') || e).id || e.closest('section, main').id || 'a table')"""
# The chronology's smallest font size, in CSS pixels, as drawn (the picture is scaled to its box).
CHART_TEXT = """() => Math.min(...[...document.querySelectorAll('svg.chronology text')]
  .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))"""


def _pages(live, role: str, page) -> list[str]:
    case = live.case_id("Farhad")
    paths = ["/", "/cases", "/cases?country=RU&state=open", "/alerts", "/account", "/account/second-factor"]
    if role in ("anna", "sam", "ada"):
        paths += [
            "/cases/new",
            f"/cases/{case}",
            f"/cases/{case}?as_of=2023-06-01",
            f"/cases/{case}?kind=safety&kind=notes",
            f"/cases/{case}/stay-plan",
            f"/cases/{case}/events/new?type=event_corrected",
        ]
    if role in ("anna", "sam"):
        paths += [f"/cases/{case}/events/new?type={name}" for name in sorted(CATALOGUE)]
    paths += [f"/cases/{case}/audit", "/audit", "/admin/users", "/admin/settings", "/nowhere"]
    if role == "ada":
        page.goto("/admin/users")
        href = page.locator("main a[href*='/admin/users/']").first.get_attribute("href")
        paths.append(href)
    return paths


def _shoot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_a_phone(page, live, sign_in, role, lang):
    from tracker.services import alerts

    alerts.run_pass(live.rt)
    page.watch.expected_status.update({403, 404})
    page.set_viewport_size(PHONE)
    sign_in(page, role)
    page.goto(f"/?lang={lang}")
    too_wide, seen = {}, 0
    for path in _pages(live, role, page):
        response = page.goto(path)
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == lang
        if response.status == 403:
            continue
        seen += 1
        width = int(page.evaluate("document.documentElement.scrollWidth"))
        outside = page.evaluate(OUTSIDE, PHONE["width"])
        hidden = page.evaluate(HIDDEN_ACTIONS, PHONE["width"])
        if not (path.startswith("/cases/") and path.endswith("/audit")):
            hidden += page.evaluate(SIDEWAYS)
        text = page.evaluate(CHART_TEXT) if page.locator("svg.chronology").count() else None
        if width > PHONE["width"] or outside or hidden or (text is not None and text < 10):
            too_wide[path] = (width, outside, hidden, text)
        if DOC_SHOTS and (role, lang) == ("sam", "ru") and path in FOR_DOCS:
            page.screenshot(path=str(Path(DOC_SHOTS) / f"{FOR_DOCS[path]}.png"))
        if SHOTS and text is not None:
            chart = Path(SHOTS) / f"{role}-{lang}-chronology-{seen}.png"
            page.locator("#chronology").screenshot(path=str(chart))
        if "type=" not in path or "event_corrected" in path:
            name = path.strip("/").replace("/", "_").replace("?", "_") or "dashboard"
            _shoot(page, f"{role}-{lang}-{name}")
    assert seen >= 8
    assert not too_wide, too_wide


# Each open deadline's cells (its state, its Resolve link) that stick out of the deadlines card.
CLIPPED = """() => { const card = document.querySelector('#deadlines').getBoundingClientRect();
  return [...document.querySelectorAll('#deadlines > .scroll td, #deadlines > .scroll td a')]
    .filter(e => e.getBoundingClientRect().right > card.right - 1 && e.textContent.trim())
    .map(e => e.textContent.trim()); }"""


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_deadlines_card_shows_state_and_resolve_on_a_laptop(real_page, sign_in, lang):
    page = real_page
    page.set_viewport_size(LAPTOP)
    sign_in(page, "anna")
    page.goto(f"/?lang={lang}")
    page.click("#my-cases >> text=Farhad")
    page.wait_for_selector("#deadlines > .scroll tbody tr")
    resolve = page.locator("#deadlines > .scroll tbody a[href*='type=deadline_resolved']")
    assert resolve.count() == page.locator("#deadlines > .scroll tbody tr").count() > 0
    assert page.evaluate(CLIPPED) == []  # before anything is scrolled
    box = page.locator("#deadlines > .scroll")
    assert box.evaluate("e => e.scrollWidth <= e.clientWidth"), "the deadlines scroll sideways in their card"
    for i in range(resolve.count()):
        resolve.nth(i).scroll_into_view_if_needed()
        assert resolve.nth(i).is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    if SHOTS:
        page.locator("#deadlines").screenshot(path=str(Path(SHOTS) / f"laptop-{lang}-deadlines.png"))
    # Resolving through the link opens the form for that deadline.
    resolve.first.click()
    page.wait_for_selector("form.event-form")
    assert "type=deadline_resolved" in page.url
