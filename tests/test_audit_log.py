"""The organization-wide audit log: append-only, filtered and exported by admins and auditors."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from browser.webkit import post_form, signed_in, text

from tracker.auth.tables import AccessRow, AuditRow
from tracker.auth.users import Actor
from tracker.cli import cli
from tracker.migrate import downgrade, upgrade
from tracker.services import audit
from tracker.services.runtime import Forbidden

AUDITOR = Actor("otto", "auditor")


def at(day: str, hour: int = 12) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).replace(hour=hour)


@pytest.fixture
def log(rt: Any) -> Any:
    """A few records on known days, one with a detail that looks like a spreadsheet formula."""
    rows = [
        ("2024-03-01", "ada", "signin", "ada", None),
        ("2024-03-01", "mallory", "signin_failed", "ada", '{"reason": "password"}'),
        ("2024-03-02", "ada", "user_created", "anna", '{"role": "caseworker"}'),
        ("2024-03-03", "ada", "erasure", "case-1", '{"version": 9}'),
        ("2024-03-05", "operator", "key_rotation", "abcd", '=HYPERLINK("http://x")'),
    ]
    with rt.db.write() as session:
        for day, actor, action, target, detail in rows:
            session.add(AuditRow(at=at(day), actor=actor, action=action, target=target, detail=detail))
        session.add(AccessRow(at=at("2024-03-01"), username="ada", case_id="c", action="events", via="api"))
    return rt


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET actor = 'nobody'",
        "DELETE FROM audit_log",
        "UPDATE access_log SET username = 'nobody'",
        "DELETE FROM access_log",
    ],
)
def test_the_database_refuses_to_change_or_remove_audit_records(log: Any, statement: str) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), log.db.write() as session:
        session.execute(sa.text(statement))
    with log.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditRow)) == 5
        assert session.scalar(sa.text("SELECT count(*) FROM access_log WHERE username = 'ada'")) == 1


def test_truncate_is_refused_too_on_postgresql(log: Any, engine_name: str) -> None:
    if engine_name != "postgres":
        pytest.skip("TRUNCATE is PostgreSQL's")
    for table in ("audit_log", "access_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), log.db.write() as session:
            session.execute(sa.text(f"TRUNCATE {table}"))


def test_the_append_only_triggers_come_and_go_with_the_migration(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        downgrade(db_url, "0002")
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO audit_log (at, actor, action) VALUES (:at, 'a', 'signin')"),
                {"at": at("2024-01-01")},
            )
            conn.execute(sa.text("DELETE FROM audit_log"))
        upgrade(db_url)
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO audit_log (at, actor, action) VALUES (:at, 'a', 'signin')"),
                {"at": at("2024-01-01")},
            )
            conn.execute(sa.text("DELETE FROM audit_log"))
    finally:
        engine.dispose()


def test_admins_and_auditors_filter_the_log_newest_first_in_pages(log: Any) -> None:
    everything, more = audit.list_entries(log, AUDITOR, audit.AuditFilter())
    assert [e["action"] for e in everything] == [
        "key_rotation", "erasure", "user_created", "case_read", "signin_failed", "signin",
    ]  # fmt: skip
    assert more is None and everything[1]["detail"] == {"version": 9}
    assert everything[0]["at"] == "2024-03-05T12:00:00.000000Z"

    def actions(**filters: Any) -> list[str]:
        entries, _ = audit.list_entries(log, Actor("ada", "admin"), audit.AuditFilter(**filters))
        return [e["action"] for e in entries]

    assert actions(actor="ada") == ["erasure", "user_created", "case_read", "signin"]
    assert actions(action="signin_failed") == ["signin_failed"]
    assert actions(target="ada") == ["signin_failed", "signin"]
    assert actions(target="c") == ["case_read"]
    assert actions(since=date(2024, 3, 2), until=date(2024, 3, 3)) == ["erasure", "user_created"]
    assert actions(since=date(2024, 3, 4)) == ["key_rotation"]

    first, cursor = audit.list_entries(log, AUDITOR, audit.AuditFilter(), limit=2)
    second, cursor2 = audit.list_entries(log, AUDITOR, audit.AuditFilter(), limit=2, before_id=cursor)
    third, cursor3 = audit.list_entries(log, AUDITOR, audit.AuditFilter(), limit=2, before_id=cursor2)
    assert [e["id"] for e in first + second + third] == [e["id"] for e in everything]
    assert cursor3 is None

    for role in ("caseworker", "supervisor"):
        with pytest.raises(Forbidden):
            audit.list_entries(log, Actor("x", role), audit.AuditFilter())
    with pytest.raises(audit.FilterError, match="unknown audit action 'dance'"):
        audit.list_entries(log, AUDITOR, audit.AuditFilter(action="dance"))
    with pytest.raises(audit.FilterError, match=r"start date .* after its end date"):
        audit.list_entries(log, AUDITOR, audit.AuditFilter(since=date(2024, 3, 5), until=date(2024, 3, 1)))


def test_exports_as_json_lines_and_csv_are_themselves_recorded(log: Any) -> None:
    out = io.StringIO()
    assert audit.export_entries(log, AUDITOR, audit.AuditFilter(actor="ada"), out) == 4
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["action"] for e in lines] == ["signin", "case_read", "user_created", "erasure"]  # oldest first

    out = io.StringIO()
    audit.export_entries(
        log, AUDITOR, audit.AuditFilter(since=date(2024, 3, 5), until=date(2024, 3, 5)), out, "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 1 and rows[0]["action"] == "key_rotation"
    assert rows[0]["detail"] == '\'=HYPERLINK("http://x")'  # not a live formula in a spreadsheet

    newest, _ = audit.list_entries(log, AUDITOR, audit.AuditFilter(action="export"))
    assert [(e["actor"], e["target"]) for e in newest] == [("otto", "audit_log")] * 2
    assert newest[0]["detail"] == {
        "filter": {"since": "2024-03-05", "until": "2024-03-05"},
        "format": "csv",
        "rows": 1,
    }
    with pytest.raises(Forbidden):
        audit.export_entries(log, Actor("sam", "supervisor"), audit.AuditFilter(), io.StringIO())


def test_audit_export_command(app: Any, log: Any, tmp_path: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["audit", "export", "--action", "erasure", "--since", "2024-03-01"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["target"] for line in result.output.splitlines()] == ["case-1"]
    path = tmp_path / "audit.csv"
    result = runner.invoke(cli, ["audit", "export", "--format", "csv", "-o", str(path)])
    assert result.exit_code == 0 and "exported 7 audit records" in result.output  # 5, a read, the 1st export
    assert path.read_text().splitlines()[0] == "id,at,actor,action,target,detail,address"
    bad = runner.invoke(cli, ["audit", "export", "--action", "dance"])
    assert bad.exit_code == 2 and "dance" in bad.output
    bad = runner.invoke(cli, ["audit", "export", "--since", "2024-31-01"])
    assert bad.exit_code == 2 and "since" in bad.output


def test_users_made_from_the_command_line_and_by_the_demo_are_recorded(app: Any, rt: Any) -> None:
    runner = app.test_cli_runner()
    command = ["user", "create", "vera", "--role", "caseworker", "--password-stdin"]
    made = runner.invoke(cli, command, input="a long password 1\n")
    assert made.exit_code == 0, made.output
    # vera is a real user: the demo goes in only when forced on purpose.
    assert runner.invoke(cli, ["demo", "--password", "demo-password-2024"]).exit_code == 1
    assert runner.invoke(cli, ["demo", "--password", "demo-password-2024", "--force"]).exit_code == 0
    forced_again = ["demo", "--password", "demo-password-2024", "--force"]
    assert runner.invoke(cli, forced_again).exit_code == 0  # nothing new
    with rt.db.read() as session:
        rows = session.scalars(sa.select(AuditRow).where(AuditRow.action == "user_created")).all()
        got = sorted((r.actor, r.target, json.loads(r.detail or "{}")["role"]) for r in rows)
    assert got == sorted(
        [
            ("operator", "vera", "caseworker"),
            ("operator", "ada", "admin"),
            ("operator", "sam", "supervisor"),
            ("operator", "anna", "caseworker"),
            ("operator", "boris", "caseworker"),
            ("operator", "otto", "auditor"),
        ]
    )


# The /audit page and its downloads.

CASE = "0b9f6c1e-2d4a-4c3b-9e8f-7a6b5c4d3e2f"
ROW = re.compile(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td>")


@pytest.fixture
def web(sqlite_app: Any) -> Any:
    """The application with records on known days (UTC), the edges of a day among them."""
    rows = [
        (at("2024-03-01"), "bob", "signin", "bob", None, "10.0.0.1"),
        (at("2024-03-01"), "mallory", "signin_failed", "ada", '{"reason": "password"}', "+1 555"),
        (at("2024-03-02", 0), "ada", "user_created", "anna", '{"role": "caseworker"}', None),
        (at("2024-03-03", 23).replace(minute=59, second=59), "ada", "erasure", CASE, '{"version": 9}', None),
        (at("2024-03-04", 0), "operator", "key_rotation", "-abcd", '=HYPERLINK("http://x")', "@evil"),
    ]
    with sqlite_app.extensions["tracker"].db.write() as session:
        for when, actor, action, target, detail, address in rows:
            session.add(
                AuditRow(at=when, actor=actor, action=action, target=target, detail=detail, address=address)
            )
    return sqlite_app


def seeded(client: Any, query: str = "") -> list[tuple[str, str]]:
    """The rows of the fixture that /audit?query shows (not the records the test's own users made)."""
    fixture = {("bob", "bob"), ("mallory", "ada"), ("ada", "anna"), ("ada", CASE), ("operator", "-abcd")}
    return [r for r in ROW.findall(text(client.get(f"/audit?{query}"))) if r in fixture]


def field_error(page: str, name: str) -> str:
    """The message shown in the field of input `name`, or ''."""
    field = rf'<div class="field">(?:(?!</div>).)*name="{name}"((?:(?!</div>).)*)</div>'
    match = re.search(field, page, re.S)
    assert match, name
    error = re.search(r'<p class="error">([^<]*)</p>', match.group(1))
    return html.unescape(error.group(1)) if error else ""


def exports(app: Any) -> list[tuple[str, dict[str, Any], str | None]]:
    with app.extensions["tracker"].db.read() as session:
        query = sa.select(AuditRow).where(AuditRow.action == "export").order_by(AuditRow.id)
        return [(r.actor, json.loads(r.detail or "{}"), r.address) for r in session.scalars(query)]


def test_the_page_filters_by_actor_action_target_and_days(web: Any) -> None:
    ada = signed_in(web, "ada", "admin")
    otto = signed_in(web, "otto", "auditor")
    everything = [("operator", "-abcd"), ("ada", CASE), ("ada", "anna"), ("mallory", "ada"), ("bob", "bob")]
    assert seeded(ada) == everything
    assert seeded(otto) == everything
    assert seeded(ada, "actor=mallory") == [("mallory", "ada")]
    assert seeded(ada, "actor=+ADA+") == [("ada", CASE), ("ada", "anna")]  # trimmed, lowercased
    assert seeded(ada, "actor=nobody") == []
    assert seeded(ada, "action=erasure") == [("ada", CASE)]
    assert seeded(ada, "action=signin_failed") == [("mallory", "ada")]
    assert seeded(ada, "target=ada") == [("mallory", "ada")]
    assert seeded(ada, f"target={CASE.upper()}") == [("ada", CASE)]  # a case id in any spelling
    assert seeded(ada, f"target={CASE[:8]}") == []  # exact, not a prefix
    # Days are inclusive and in UTC: 23:59:59 on the last day is in, 00:00 of the next is not.
    assert seeded(ada, "from=2024-03-02&to=2024-03-03") == [("ada", CASE), ("ada", "anna")]
    assert seeded(ada, "from=2024-03-04") == [("operator", "-abcd")]
    assert seeded(ada, "to=2024-03-01") == [("mallory", "ada"), ("bob", "bob")]
    assert seeded(ada, "from=2024-03-03&to=2024-03-03") == [("ada", CASE)]
    assert seeded(ada, "actor=bob&action=signin&target=bob&from=2024-03-01&to=2024-03-01") == [("bob", "bob")]
    page = text(ada.get("/audit?actor=ada&from=2024-03-02"))
    assert 'value="2024-03-02"' in page and "/audit/export.csv?actor=ada&amp;from=2024-03-02" in page
    assert "/audit/export.jsonl?actor=ada&amp;from=2024-03-02" in page


@pytest.mark.parametrize(
    ("query", "name", "message"),
    [
        ("actor=Ada!", "actor", "must be a user name"),
        ("actor=" + "a" * 65, "actor", "must be a user name"),
        ("action=dance", "action", "unknown action"),
        ("target=" + "x" * 101, "target", "must be a case id or a user name (at most 100 characters)"),
        ("target=a%00b", "target", "must be a case id or a user name"),
        ("from=2024-13-01", "from", "must be a date (YYYY-MM-DD)"),
        ("from=yesterday", "from", "must be a date (YYYY-MM-DD)"),
        ("to=2024-3-1", "to", "must be a date (YYYY-MM-DD)"),
        ("from=2024-03-05&to=2024-03-01", "to", "must not be before the start date"),
    ],
)
def test_a_bad_filter_is_named_next_to_its_field(web: Any, query: str, name: str, message: str) -> None:
    ada = signed_in(web, "ada", "admin")
    response = ada.get(f"/audit?{query}")
    assert response.status_code == 200
    page = text(response)
    assert message in field_error(page, name)
    assert 'id="audit-export"' not in page  # no download offered for a filter that is not what was asked
    refused = ada.get(f"/audit/export.csv?{query}")
    assert refused.status_code == 400 and message in field_error(text(refused), name)
    assert exports(web) == []


def test_bad_filters_in_russian(web: Any) -> None:
    ada = signed_in(web, "ada", "admin")
    page = text(ada.get("/audit?lang=ru&from=x&to=2024-01-01&target=" + "x" * 101))
    assert field_error(page, "from") == "должно быть датой (ГГГГ-ММ-ДД)"
    assert "не длиннее 100 символов" in field_error(page, "target")
    assert "Скачать эти записи" not in page
    assert "Скачать эти записи:" in text(ada.get("/audit?lang=ru"))


def test_pages_keep_the_filters(web: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tracker.web.audit.routes.PAGE_SIZE", 1)
    ada = signed_in(web, "ada", "admin")
    seen: list[tuple[str, str]] = []
    path = "/audit?actor=ada&to=2024-03-03"
    while path:
        page = text(ada.get(path))
        seen += ROW.findall(page)
        older = re.search(r'<p class="pager"><a href="([^"]+)"', page)
        path = html.unescape(older.group(1)) if older else ""
        if path:
            assert "actor=ada" in path and "to=2024-03-03" in path
    assert seen == [("ada", CASE), ("ada", "anna")]


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admins_and_auditors_download_the_filtered_log_as_csv_and_json_lines(web: Any, role: str) -> None:
    viewer = signed_in(web, "vera", role)
    query = "actor=ada&from=2024-03-01&to=2024-03-03"
    got = viewer.get(f"/audit/export.csv?{query}")
    assert got.status_code == 200 and got.is_streamed
    assert got.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="audit-log-\d{8}-\d{6}\.csv"', got.headers["Content-Disposition"]
    )
    assert got.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(text(got))))
    assert list(rows[0]) == list(audit.COLUMNS)
    assert [(r["action"], r["target"]) for r in rows] == [
        ("user_created", "anna"), ("erasure", CASE),
    ]  # fmt: skip
    assert rows[0]["at"] == "2024-03-02T00:00:00.000000Z" and rows[1]["detail"] == '{"version": 9}'

    got = viewer.get(f"/audit/export.jsonl?{query}&action=erasure")
    assert got.status_code == 200 and got.is_streamed
    assert got.headers["Content-Type"] == "application/jsonl; charset=utf-8"
    assert got.headers["Content-Disposition"].endswith('.jsonl"')
    lines = [json.loads(line) for line in text(got).splitlines()]
    assert [(e["action"], e["target"], e["detail"]) for e in lines] == [("erasure", CASE, {"version": 9})]
    assert set(lines[0]) == set(audit.COLUMNS)

    # Each download is in the log under the viewer's name, with its filters, before its records are read.
    days = {"actor": "ada", "since": "2024-03-01", "until": "2024-03-03"}
    assert exports(web) == [
        ("vera", {"filter": days, "format": "csv", "via": "web"}, "127.0.0.1"),
        ("vera", {"filter": {**days, "action": "erasure"}, "format": "jsonl", "via": "web"}, "127.0.0.1"),
    ]
    assert ROW.findall(text(viewer.get("/audit?action=export"))) == [("vera", "audit_log")] * 2
    # An export holds the records up to its own: the earlier downloads, not itself.
    again = [json.loads(line) for line in text(viewer.get("/audit/export.jsonl?action=export")).splitlines()]
    assert [e["detail"]["format"] for e in again] == ["csv", "jsonl"]


def test_a_large_export_is_read_in_batches_and_loses_nothing(
    web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "EXPORT_BATCH", 2)
    ada = signed_in(web, "ada", "admin")
    lines = [json.loads(line) for line in text(ada.get("/audit/export.jsonl")).splitlines()]
    ids = [e["id"] for e in lines]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 6  # the 5 records and ada's sign-in
    rows = list(csv.DictReader(io.StringIO(text(ada.get("/audit/export.csv?from=2024-03-02")))))
    assert [r["action"] for r in rows] == ["user_created", "erasure", "key_rotation", "signin", "export"]


def test_caseworkers_supervisors_and_strangers_get_neither_the_page_nor_a_download(web: Any) -> None:
    for name, role in (("anna", "caseworker"), ("sam", "supervisor")):
        client = signed_in(web, name, role)
        for path in ("/audit", "/audit?actor=ada", "/audit/export.csv", "/audit/export.jsonl?actor=ada"):
            assert client.get(path).status_code == 403, (role, path)
        assert client.get("/audit/export.csv?from=bad").status_code == 403  # the role is checked first
        assert 'href="/audit"' not in text(client.get("/"))
    anonymous = web.test_client()
    for path in ("/audit", "/audit/export.csv", "/audit/export.jsonl"):
        response = anonymous.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    ada = signed_in(web, "ada", "admin")
    assert ada.get("/audit/export.xlsx").status_code == 404
    assert exports(web) == []


def test_spreadsheet_formulas_in_the_csv_are_neutralised(web: Any) -> None:
    ada = signed_in(web, "ada", "admin")
    rows = list(csv.DictReader(io.StringIO(text(ada.get("/audit/export.csv?to=2024-03-04")))))
    cells = {r["action"]: r for r in rows}
    assert cells["key_rotation"]["detail"] == '\'=HYPERLINK("http://x")'
    assert cells["key_rotation"]["target"] == "'-abcd"
    assert cells["key_rotation"]["address"] == "'@evil"
    assert cells["signin_failed"]["address"] == "'+1 555"
    for row in rows:
        for value in row.values():
            assert value[:1] not in ("=", "+", "-", "@"), row
    # JSON Lines is data, not a spreadsheet: the values are kept as they were recorded.
    lines = [
        json.loads(line) for line in text(ada.get("/audit/export.jsonl?action=key_rotation")).splitlines()
    ]
    assert lines[0]["target"] == "-abcd" and lines[0]["detail"] == '=HYPERLINK("http://x")'


def test_downloads_carry_what_the_page_shows_and_no_personal_field(web: Any) -> None:
    ada = signed_in(web, "ada", "admin")
    opened = post_form(
        ada,
        "/cases/new",
        {
            "occurred_on": "2024-02-01",
            "f-pseudonym": "Heron",
            "f-legal_name": "Zebulon Quixotesque",
            "f-citizenship": "RU",
            "f-category": "other",
        },
    )
    assert opened.status_code == 302
    assert "Zebulon" in text(ada.get(opened.headers["Location"]))
    otto = signed_in(web, "otto", "auditor")
    for path in ("/audit", "/audit/export.csv", "/audit/export.jsonl"):
        assert "Zebulon" not in text(otto.get(path)) and "Zebulon" not in text(ada.get(path))
    lines = [json.loads(line) for line in text(ada.get("/audit/export.jsonl")).splitlines()]
    assert all(set(e) == set(audit.COLUMNS) for e in lines)


def test_downloads_have_the_security_headers_and_csrf_still_guards_forms(web: Any) -> None:
    ada = signed_in(web, "ada", "admin")
    for path in ("/audit?from=bad", "/audit/export.csv", "/audit/export.jsonl", "/audit/export.csv?to=x"):
        response = ada.get(path)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        assert response.headers.get("X-Frame-Options") == "DENY", path
        assert response.headers.get("Cache-Control") == "no-store", path
    assert ada.post("/audit/export.csv").status_code in (400, 405)  # a download is a GET, never a form
    assert ada.post("/logout").status_code == 400  # a form without its CSRF token is still refused
    assert ada.get("/audit").status_code == 200  # still signed in
