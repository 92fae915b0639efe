"""The organization-wide audit log: append-only, filtered and exported by admins and auditors."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tracker.auth.tables import AuditRow
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
        session.execute(
            sa.text(
                "INSERT INTO access_log (at, username, case_id, action, via) "
                "VALUES (:at, 'ada', 'c', 'events', 'api')"
            ),
            {"at": at("2024-03-01")},
        )
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
        "key_rotation", "erasure", "user_created", "signin_failed", "signin",
    ]  # fmt: skip
    assert more is None and everything[1]["detail"] == {"version": 9}
    assert everything[0]["at"] == "2024-03-05T12:00:00.000000Z"

    def actions(**filters: Any) -> list[str]:
        entries, _ = audit.list_entries(log, Actor("ada", "admin"), audit.AuditFilter(**filters))
        return [e["action"] for e in entries]

    assert actions(actor="ada") == ["erasure", "user_created", "signin"]
    assert actions(action="signin_failed") == ["signin_failed"]
    assert actions(target="ada") == ["signin_failed", "signin"]
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
    assert audit.export_entries(log, AUDITOR, audit.AuditFilter(actor="ada"), out) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["action"] for e in lines] == ["signin", "user_created", "erasure"]  # oldest first

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
    assert result.exit_code == 0 and "exported 6 audit records" in result.output  # 5 + the first export
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
    assert runner.invoke(cli, ["demo", "--password", "demo-password-2024"]).exit_code == 0
    assert runner.invoke(cli, ["demo", "--password", "demo-password-2024"]).exit_code == 0  # nothing new
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
