"""An import stores its cases in bulk: the same events, chains and read models as one append at a time."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from corekit import ADMIN, record, stored, table_rows
from test_rebuild import READ_MODELS, read_models, story_with_late_facts_and_fixes

from tracker.projections.case_status import project
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow
from tracker.services import integrity, reading, transfer
from tracker.store.events import read_stream


def exported(rt: Any) -> str:
    out = io.StringIO()
    transfer.export_cases(rt, ADMIN, None, out)
    return out.getvalue()


def project_one_by_one(rt: Any, case_ids: list[str]) -> None:
    """The read models of these cases made again by the append path's projection, case by case."""
    with rt.db.write() as session:
        for table in (CaseRow, AssignmentRow, DeadlineRow):
            session.execute(sa.delete(table).where(table.case_id.in_(case_ids)))
        session.flush()
        for case_id in case_ids:
            project(session, case_id, read_stream(session, case_id), rt.rules, date.today())


def test_an_import_in_several_rounds_equals_projecting_each_case(
    rt: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    originals = story_with_late_facts_and_fixes(rt)
    text = exported(rt)
    monkeypatch.setattr(transfer, "IMPORT_CHUNK", 2)  # three cases: two rounds of bulk inserts
    top = max(r.position for r in stored(rt))

    assert transfer.import_file(rt, io.StringIO(text)) == (3, sum(len(stored(rt, c)) for c in originals))

    imported = sorted({r.case_id for r in stored(rt)} - set(originals))
    assert len(imported) == 3
    rows = [r for r in stored(rt) if r.case_id in imported]
    assert [r.position for r in rows] == sorted(r.position for r in rows)
    assert min(r.position for r in rows) > top
    assert {r.recorded_by for r in rows} == {"import"}
    assert integrity.verify(rt)[1] == []
    bulk = {t: [r for r in rows if r["case_id"] in imported] for t, rows in read_models(rt).items()}
    assert len(bulk["case_status"]) == 3 and bulk["deadlines"]
    answers = {c: reading.get_case(rt, ADMIN, c) for c in imported}

    project_one_by_one(rt, imported)

    again = {t: [r for r in rows if r["case_id"] in imported] for t, rows in read_models(rt).items()}
    for table in READ_MODELS:
        assert again[table] == bulk[table], f"{table} rows of the bulk import differ from the append path's"
    assert {c: reading.get_case(rt, ADMIN, c) for c in imported} == answers


def test_appends_after_an_import_continue_positions_and_chains(rt: Any) -> None:
    story_with_late_facts_and_fixes(rt)
    transfer.import_file(rt, io.StringIO(exported(rt)))
    top = max(r.position for r in stored(rt))
    case_id = str(table_rows(rt, "case_status", "pseudonym_key, case_id")[0]["case_id"])
    version = len(stored(rt, case_id))

    record(rt, case_id, "note_added", "2023-08-01", text="after the import")

    newest = stored(rt, case_id)[-1]
    assert (newest.version, newest.position > top) == (version + 1, True)
    assert integrity.verify(rt)[1] == []


def test_an_export_comes_back_with_its_resolved_deadlines_and_its_erasure(rt: Any) -> None:
    originals = story_with_late_facts_and_fixes(rt)
    transfer.import_file(rt, io.StringIO(exported(rt)))
    copies = sorted({r.case_id for r in stored(rt)} - set(originals))

    def by_name(ids: list[str]) -> dict[str, Any]:
        status = {c: reading.get_case(rt, ADMIN, c)["status"] for c in ids}
        return {s["pseudonym"]: c for c, s in status.items()}

    old, new = by_name(originals), by_name(copies)
    for name in ("Sparrow", "Farhad", "Sportsmaster"):
        before = [
            (d["kind"], d["due_on"], d["state"]) for d in reading.case_deadlines(rt, ADMIN, old[name], True)
        ]
        after = [
            (d["kind"], d["due_on"], d["state"]) for d in reading.case_deadlines(rt, ADMIN, new[name], True)
        ]
        assert after == before, name
    assert ("reminder", "2023-05-01", "met") in [
        (d["kind"], d["due_on"], d["state"]) for d in reading.case_deadlines(rt, ADMIN, new["Farhad"], True)
    ]
    keys = {row["case_id"] for row in table_rows(rt, "case_keys", "case_id")}
    assert new["Sparrow"] in keys and new["Sportsmaster"] not in keys
    assert (
        reading.get_case(rt, ADMIN, new["Sportsmaster"])["status"]
        == reading.get_case(rt, ADMIN, old["Sportsmaster"])["status"]
    )
