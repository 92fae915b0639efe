"""Reading a long case in a real browser: a correction shows only what changed, the timeline filters by
kind (a tick filters at once), quiet stretches fold and open, at 1280 px and on a phone in Russian."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("TRACKER_SCREENSHOTS")  # the docs' folder: the test then also takes their screenshots
PHONE = {"width": 390, "height": 844}


def shot(target, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


def test_reading_a_long_case(page, live, sign_in):
    sign_in(page, "anna")
    case = live.case_id("Farhad")
    page.goto(f"/cases/{case}")
    moved = page.locator("li.event[data-type=relocated]").first
    moved_id = moved.get_attribute("id")
    moved.locator("text=Correct").click()
    page.fill("[name=d-city]", "Shymkent")
    page.fill("[name=f-reason]", "he moved on to Shymkent, not Astana")
    page.click("form.event-form button[type=submit]")
    page.wait_for_url(re.compile(r"#event-"))
    fixed = page.locator(f"li#{moved_id}")
    assert fixed.get_attribute("data-state") == "corrected"
    assert [fixed.locator("del").inner_text(), fixed.locator("ins").inner_text()] == ["Astana", "Shymkent"]
    assert fixed.locator("dd:not(.changed)").first.inner_text() == "Kazakhstan (KZ)"

    # A tick filters at once; the second adds its kind.
    page.check("#kinds input[value=safety]")
    page.wait_for_url(re.compile(r"kind=safety"))
    page.check("#kinds input[value=notes]")
    page.wait_for_url(re.compile(r"kind=safety&kind=notes|kind=notes&kind=safety"))
    kinds = page.locator("#timeline li.event").evaluate_all("(es) => es.map(e => e.dataset.kind)")
    assert kinds and set(kinds) == {"safety", "notes"}
    folds = page.locator("details.quiet")
    assert folds.count() >= 1
    summary = folds.first.locator("summary")
    assert re.fullmatch(r"\d+ routine events, .+", summary.inner_text())
    first_hidden = folds.first.locator("li.event").first
    assert not first_hidden.is_visible()
    page.locator("#timeline").scroll_into_view_if_needed()
    shot(page.locator("#timeline"), "timeline_filter")
    summary.click()
    assert first_hidden.is_visible()

    # A link to an event inside a fold opens the fold.
    folded_id = first_hidden.get_attribute("id")
    page.goto(f"/cases/{case}?kind=safety&kind=notes")
    page.goto(f"/cases/{case}?kind=safety&kind=notes#{folded_id}")
    assert page.locator(f"li#{folded_id}").is_visible()

    # On a phone, in Russian: the same timeline, nothing sideways.
    page.set_viewport_size(PHONE)
    page.goto(f"/cases/{case}?kind=safety&kind=notes&lang=ru")
    assert re.fullmatch(
        r"\d+ обычн\w+ событи\w+, .+", page.locator("details.quiet summary").first.inner_text()
    )
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= PHONE["width"]
    if SHOTS:  # from the filter down to the first fold
        page.evaluate("window.scrollTo(0, 0)")
        top = page.locator("#kinds").bounding_box()["y"] - 8
        fold = page.locator("details.quiet").first.bounding_box()
        height = fold["y"] + fold["height"] + 8 - top
        clip = {"x": 0, "y": top, "width": PHONE["width"], "height": height}
        page.screenshot(path=str(Path(SHOTS) / "phone_timeline_ru.png"), full_page=True, clip=clip)
    page.goto(f"/cases/{case}?lang=en")
    shot(page, "phone_case")
