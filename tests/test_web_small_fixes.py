"""Smaller fixes of the web pages and the demo script: each test names what a user saw before."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from browser.webkit import case_id, copy_app, demo_template, sign_in, text

from tracker.services.demo import DEMO_USERS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return demo_template(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def demo_app(template, tmp_path, monkeypatch):
    app = copy_app(template, tmp_path, monkeypatch)
    yield app
    app.extensions["tracker"].db.dispose()


def client_of(app, name):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def test_the_demo_hint_names_every_demo_user() -> None:
    hint = next(line for line in (ROOT / "scripts/demo").read_text().splitlines() if line.startswith("echo"))
    for name, role in DEMO_USERS.items():
        assert f"{name} ({role})" in hint, name


def test_a_day_before_the_opening_is_refused_next_to_the_field_not_titled_none(demo_app) -> None:
    anna = client_of(demo_app, "anna")
    cid = case_id(demo_app, "Farhad")
    opened = re.search(
        r'id="event-[^"]+" data-type="case_opened"[^>]*>\s*<div class="when">([\d-]+)<',
        text(anna.get(f"/cases/{cid}")),
    ).group(1)
    day = (
        date.fromisoformat(opened[:10] if len(opened) == 10 else opened + "-01") - timedelta(days=1)
    ).isoformat()
    response = anna.get(f"/cases/{cid}?as_of={day}")
    assert response.status_code == 200
    page = text(response)
    assert "None" not in page
    assert "<title>Farhad" in page and "<h1>Farhad" in page
    form = page.split('class="as-of"')[1].split("</form>")[0]
    assert "must not be before the case was opened" in form and f'value="{day}"' in form
    assert 'id="as-of-note"' not in page
    russian = text(anna.get(f"/cases/{cid}?as_of={day}&lang=ru"))
    assert "None" not in russian and "раньше открытия дела" in russian
