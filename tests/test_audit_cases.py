"""The organization's audit log shows who read and who wrote which case, next to its own records."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from browser.webkit import signed_in, text
from corekit import new_case

from tracker.auth.users import Actor
from tracker.cli import cli
from tracker.services import audit, reading

AUDITOR = Actor("otto", "auditor")
SAM = Actor("sam", "supervisor")


def entries(rt: Any, **filters: Any) -> list[tuple[str, str, str | None, Any]]:
    found, _ = audit.list_entries(rt, AUDITOR, audit.AuditFilter(**filters))
    return [(e["actor"], e["action"], e["target"], e["detail"]) for e in found]


def test_the_log_lists_case_reads_and_event_writes_filtered_by_actor_and_case(rt: Any) -> None:
    first = new_case(rt, "Sparrow")
    second = new_case(rt, "Finch")
    reading.get_case(rt, SAM, first, via="web")

    read = ("sam", "case_read", first, {"what": "status", "via": "web"})
    wrote_first = ("ada", "event_recorded", first, {"type": "case_opened", "version": 1})
    wrote_second = ("ada", "event_recorded", second, {"type": "case_opened", "version": 1})
    assert entries(rt) == [read, wrote_second, wrote_first]  # newest first
    assert entries(rt, actor="sam") == [read]
    assert entries(rt, actor="ada") == [wrote_second, wrote_first]
    assert entries(rt, target=first) == [read, wrote_first]
    assert entries(rt, actor="ada", target=second) == [wrote_second]
    assert entries(rt, action="case_read") == [read]
    assert entries(rt, action="event_recorded", target=first) == [wrote_first]
    assert entries(rt, action="signin") == []

    # Pages of one entry walk the three sources without losing or repeating one.
    walked, cursor = audit.list_entries(rt, AUDITOR, audit.AuditFilter(), limit=1)
    while cursor is not None:
        page, cursor = audit.list_entries(rt, AUDITOR, audit.AuditFilter(), limit=1, before_id=cursor)
        walked += page
    assert [(e["actor"], e["action"], e["target"], e["detail"]) for e in walked] == entries(rt)

    out = io.StringIO()
    assert audit.export_entries(rt, AUDITOR, audit.AuditFilter(target=first), out) == 2
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["actor"], e["action"]) for e in lines] == [("ada", "event_recorded"), ("sam", "case_read")]
    assert "Sparrow" not in out.getvalue()  # what the events say stays in the case


def test_the_page_and_its_downloads_show_who_read_and_wrote_a_case(sqlite_app: Any) -> None:
    rt = sqlite_app.extensions["tracker"]
    case_id = new_case(rt, "Sparrow")
    other = new_case(rt, "Finch")
    reading.get_case(rt, SAM, case_id, via="web")
    otto = signed_in(sqlite_app, "otto", "auditor")

    page = text(otto.get(f"/audit?actor=sam&target={case_id}"))
    assert "<td>sam</td><td>case read</td>" in page and case_id in page and other not in page
    page = text(otto.get(f"/audit?target={other}"))
    assert "<td>ada</td><td>event recorded</td>" in page and case_id not in page
    assert '<option value="case_read">case read</option>' in text(otto.get("/audit"))

    got = otto.get(f"/audit/export.csv?target={case_id}")
    rows = list(csv.DictReader(io.StringIO(text(got))))
    assert [(r["actor"], r["action"], r["target"]) for r in rows] == [
        ("ada", "event_recorded", case_id),
        ("sam", "case_read", case_id),
    ]
    got = otto.get("/audit/export.jsonl?actor=sam")
    lines = [json.loads(line) for line in text(got).splitlines()]
    assert [(e["action"], e["detail"]) for e in lines] == [("case_read", {"what": "status", "via": "web"})]


def test_the_operator_exports_the_case_reads_from_the_command_line(app: Any, rt: Any) -> None:
    case_id = new_case(rt, "Sparrow")
    reading.case_events(rt, SAM, case_id)
    result = app.test_cli_runner().invoke(cli, ["audit", "export", "--action", "case_read"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(e["actor"], e["target"], e["detail"]) for e in lines] == [
        ("sam", case_id, {"what": "events", "via": "api"})
    ]
