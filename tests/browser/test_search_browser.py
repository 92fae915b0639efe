"""Finding a person from the header's search box, in a real browser against `tracker serve`.

The demo's Sparrow has the legal name "Demo Person Sparrow" and Farhad the phone "+7 700 000 0001";
both cases are anna's.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def search(page, q: str) -> list[str]:
    """Type `q` into the header's search box, press Enter; the pseudonyms of the answer."""
    page.fill("header #top-q", q)
    page.press("header #top-q", "Enter")
    page.wait_for_load_state()
    assert page.url.split("?")[0].endswith("/cases")
    assert page.locator("#f-q").input_value() == q
    return [name.strip() for name in page.locator("main table tbody tr td:first-child").all_inner_texts()]


def test_a_caseworker_finds_her_case_by_a_cyrillic_legal_name_and_by_a_phone_number(
    real_page, real_server, sign_in
):
    sign_in(real_page, "anna")
    assert search(real_page, "Демо Персон") == ["Sparrow"]
    assert search(real_page, "700 000-00-01") == ["Farhad"]
    assert search(real_page, "8 700 000 00 01") == ["Farhad"]
    assert search(real_page, "Петров") == []
    assert real_page.locator("main").get_by_text("No case matches.").is_visible()


def test_another_caseworker_does_not_find_annas_cases(real_page, real_server, sign_in):
    sign_in(real_page, "boris")
    assert search(real_page, "Демо Персон") == []
    assert search(real_page, "700 000-00-01") == []
    assert search(real_page, "Sparrow") == []


def test_an_auditor_finds_nothing_by_a_legal_name(real_page, real_server, sign_in):
    sign_in(real_page, "otto")
    assert search(real_page, "Демо Персон") == []
    assert search(real_page, "Demo Person") == []
    assert search(real_page, "700 000 0001") == []
    assert search(real_page, "Sparrow") == ["Sparrow"]
