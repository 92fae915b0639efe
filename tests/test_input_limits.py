"""Input limits: hostile query strings, body and URL sizes, methods, integers, roles, rate, reads logged."""

from __future__ import annotations

import io
import json
import re
import stat
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alertkit import staff, stay_case
from browser.webkit import post_form, signed_in, text
from conftest import open_case

from tracker.auth.tables import AccessRow
from tracker.cli import cli
from tracker.services import calendar


def error_body(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_json()
    assert (
        isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("fields"), dict)
    )
    return dict(body)


@pytest.mark.parametrize("name", ["q", "country", "assigned"])
def test_a_nul_in_a_case_list_filter_of_the_web_is_refused_naming_it(app: Any, name: str) -> None:
    ada = signed_in(app, "ada", "admin")
    r = ada.get("/cases", query_string={name: "ab\x00c"})
    assert r.status_code == 400
    assert re.search(rf'data-field="{name}"[^>]*>[^<]*control characters', text(r)), text(r)[:2000]


@pytest.mark.parametrize("value", ["\u0663", "1_0", "+5", " 5", "5 ", "0x5", "5.0", "\uff15"])
def test_integer_parameters_take_ascii_digits_only(sqlite_app: Any, api_for: Any, value: str) -> None:
    admin = api_for(sqlite_app, "admin")
    for path, name in (("/cases", "limit"), ("/cases", "deadline_within"), ("/deadlines", "within_days")):
        body = error_body(admin.get(path, **{name: value}), 400)
        assert set(body["fields"]) == {name}, (path, name)
    case = open_case(admin)
    error_body(admin.get(f"/cases/{case}/events", after_version=value), 400)
    ada = signed_in(sqlite_app, "ada2", "admin")
    page = text(ada.get("/cases", query_string={"deadline_within": value}))
    assert ('class="error"' in page) == (value.strip() != "5"), value  # the form forgives spaces


def test_integer_parameters_still_take_plain_numbers(sqlite_app: Any, api_for: Any) -> None:
    admin = api_for(sqlite_app, "admin")
    open_case(admin)
    assert len(admin.get("/cases", limit="1", deadline_within="0030").get_json()["cases"]) <= 1
    assert admin.get("/deadlines", within_days="7").status_code == 200


def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(sqlite_app: Any, api_for: Any) -> None:
    sqlite_app.config["MAX_CONTENT_LENGTH"] = 4096
    admin = api_for(sqlite_app, "admin")
    big = {"pseudonym": "x" * 5000, "citizenship": "RU", "category": "deserter"}
    body = error_body(admin.post("/cases", big), 413)
    assert "4096" in body["error"]
    # A client that claims a huge length is answered at once, without sending (or us reading) it.
    r = admin.client.post(
        "/api/v1/cases",
        input_stream=_Unreadable(),
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": str(50 * 2**20)},
        headers=admin._headers(),
    )
    error_body(r, 413)
    ada = signed_in(sqlite_app, "ada", "admin")
    page = post_form(ada, "/cases/new", {"occurred_on": "2024-02-01", "f-pseudonym": "x" * 5000})
    assert page.status_code == 413 and "too large" in text(page).lower()


class _Unreadable(io.BytesIO):
    def read(self, *_args: Any) -> bytes:
        raise AssertionError("the body was read")

    readline = read  # type: ignore[assignment]


def test_the_body_limit_is_a_setting(sqlite_app: Any) -> None:
    from tracker.config import load_settings

    assert load_settings()["MAX_REQUEST_BYTES"] == 1024 * 1024
    assert sqlite_app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024


def test_a_very_long_url_gets_414_as_json_on_the_api_and_a_page_on_the_web(
    sqlite_app: Any, api_for: Any
) -> None:
    admin = api_for(sqlite_app, "admin")
    body = error_body(admin.get("/cases", q="x" * 9000), 414)
    assert "URL" in body["error"]
    ada = signed_in(sqlite_app, "ada", "admin")
    page = ada.get("/cases", query_string={"q": "x" * 9000})
    assert page.status_code == 414 and "<html" in text(page)


def test_405_names_the_allowed_methods(sqlite_app: Any, api_for: Any) -> None:
    admin = api_for(sqlite_app, "admin")
    r = admin.client.delete("/api/v1/cases", headers=admin._headers())
    error_body(r, 405)
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    ada = signed_in(sqlite_app, "ada", "admin")
    page = ada.put("/cases")
    assert page.status_code == 405 and "GET" in page.headers["Allow"]


def test_auditors_are_refused_before_their_writes_are_validated(app: Any, api_for: Any) -> None:
    admin, auditor = api_for(app, "admin"), api_for(app, "auditor")
    case = open_case(admin)
    error_body(auditor.post("/cases", {"nonsense": 1}), 403)
    error_body(auditor.post(f"/cases/{case}/events", {"type": "teleported"}), 403)
    error_body(auditor.post(f"/cases/{case}/events", {"type": "note_added", "data": {}}), 403)


def test_each_token_is_rate_limited_with_429_and_retry_after(sqlite_app: Any, api_for: Any) -> None:
    sqlite_app.extensions["tracker"].settings["API_RATE_LIMIT"] = 3
    anna, boris = api_for(sqlite_app, "caseworker"), api_for(sqlite_app, "caseworker")
    assert [anna.get("/cases").status_code for _ in range(3)] == [200, 200, 200]
    r = anna.get("/cases")
    error_body(r, 429)
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert boris.get("/cases").status_code == 200  # another token has its own allowance


def test_the_rate_limit_is_generous_by_default(sqlite_app: Any, api_for: Any) -> None:
    from tracker.config import load_settings

    assert load_settings()["API_RATE_LIMIT"] >= 600
    anna = api_for(sqlite_app, "caseworker")
    assert all(anna.get("/event-types").status_code == 200 for _ in range(100))


def test_calendar_feed_reads_are_in_the_access_log(app: Any, rt: Any) -> None:
    people = staff(app)
    today = rt.today()
    case = stay_case(people["admin"], today, today + timedelta(days=30))
    token = calendar.issue_token(rt, "anna")
    assert app.test_client().get(f"/calendar/{token}.ics").status_code == 200
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(AccessRow.username, AccessRow.case_id, AccessRow.action, AccessRow.via)
        ).all()
    assert [tuple(r) for r in rows if r.via == "calendar"] == [("anna", case, "calendar", "calendar")]


def test_the_audit_export_file_is_readable_by_its_owner_only(app: Any, tmp_path: Any) -> None:
    path = tmp_path / "audit.jsonl"
    result = app.test_cli_runner().invoke(cli, ["audit", "export", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)  # an existing file is replaced, not written into with its old mode
    app.test_cli_runner().invoke(cli, ["audit", "export", "-o", str(path)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_pages_read_whole_numbers_in_ascii_digits_only(sqlite_app: Any, api_for: Any) -> None:
    case = open_case(api_for(sqlite_app, "admin"))
    ada = signed_in(sqlite_app, "ada", "admin")
    for digits in ("\xb2", "\u0663", "\uff15"):  # str.isdigit() says yes to each; int() fails on "²"
        assert ada.get("/audit", query_string={"before": digits}).status_code == 200
        page = f"/cases/{case}/events/new?type=note_added"
        r = post_form(
            ada, page, {"type": "note_added", "occurred_on": "2024-01-01", "f-text": "x", "version": digits}
        )
        assert r.status_code in (302, 409, 422), r.status_code
