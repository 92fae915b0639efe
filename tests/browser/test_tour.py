"""A first look: sign in and visit the main pages (screenshots to /tmp when asked)."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.browser


def test_tour(page, live, sign_in):
    sign_in(page, "anna")
    out = os.environ.get("SHOTS")
    cid = live.case_id("Farhad")
    for name, path in [
        ("dashboard", "/"),
        ("cases", "/cases"),
        ("case", f"/cases/{cid}"),
        ("event", f"/cases/{cid}/events/new?type=relocated"),
        ("audit", f"/cases/{cid}/audit"),
        ("alerts", "/alerts"),
        ("case_ru", f"/cases/{cid}?lang=ru"),
    ]:
        page.goto(path)
        if out:
            page.screenshot(path=f"{out}/{name}.png", full_page=False)
            if name == "case":
                page.locator("#chronology").screenshot(path=f"{out}/chrono.png")
