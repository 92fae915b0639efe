"""Keeps the status read model, assignments and deadlines in step with each append."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.deadlines.derive import derive
from tracker.deadlines.rules import Rules
from tracker.events.record import CORRECTION_TYPES, Recorded, effective
from tracker.projections import status as fold
from tracker.projections.recorded import to_recorded
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow
from tracker.store.events import read_stream
from tracker.store.tables import EventRow


def _dump(state: dict) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def project(session: Session, case_id: str, new_rows: Sequence[EventRow], rules: Rules, today: date) -> None:
    """Update every read model of one case after its new events were flushed."""
    row = session.get(CaseRow, case_id)
    new = sorted((to_recorded(r) for r in new_rows), key=lambda e: e.sort_key)
    stream: list[Recorded] | None = None
    if row is not None and all(
        e.type not in CORRECTION_TYPES and e.sort_key > (row.fold_on, row.fold_version) for e in new
    ):
        # The new facts come after everything folded so far: continue the fold.
        state = json.loads(row.fold)
        for event in new:
            state = fold.apply(state, event)
        last = new[-1] if new else None
    else:
        stream = [to_recorded(r) for r in read_stream(session, case_id)]
        state, last = _fold_all(stream)
    if row is None:
        row = CaseRow(case_id=case_id)
        session.add(row)
    erased = any(r.type == "personal_data_erased" for r in new_rows)
    _store_row(row, state, last, new_rows[-1], erased)
    _sync_assignments(session, case_id, state)
    if stream is None:
        stream = [to_recorded(r) for r in read_stream(session, case_id)]
    write_deadlines(session, case_id, derive(stream, rules), row.state == "open")


def _fold_all(stream: list[Recorded]) -> tuple[dict, Recorded | None]:
    state = fold.new_state()
    counted = effective(stream)
    for event in counted:
        state = fold.apply(state, event)
    return state, (counted[-1] if counted else None)


def _store_row(row: CaseRow, state: dict, last: Recorded | None, newest: EventRow, erased: bool) -> None:
    status = fold.render(state, date.today())
    row.version = newest.version
    row.position = newest.position
    row.pseudonym = status["pseudonym"] or ""
    row.pseudonym_key = row.pseudonym.casefold()
    row.category = status["category"] or ""
    row.state = status["state"] or "open"
    row.country = status["country"]
    row.city = status["city"]
    row.opened_on = date.fromisoformat(status["opened_on"]) if status["opened_on"] else newest.occurred_on
    # Any erasure among the new rows counts: a rebuild passes every row, and the erasure need not be last.
    row.erased = bool(row.erased) or erased
    row.fold = _dump(state)
    if last is not None:
        row.fold_on, row.fold_version = last.occurred_on, last.version
    elif row.fold_on is None:
        row.fold_on, row.fold_version = date.min, 0


def _sync_assignments(session: Session, case_id: str, state: dict) -> None:
    wanted = set(fold.render(state, date.today())["caseworkers"])
    have = set(session.scalars(sa.select(AssignmentRow.username).where(AssignmentRow.case_id == case_id)))
    if have - wanted:
        session.execute(
            sa.delete(AssignmentRow).where(
                AssignmentRow.case_id == case_id, AssignmentRow.username.in_(have - wanted)
            )
        )
    session.add_all(AssignmentRow(case_id=case_id, username=name) for name in sorted(wanted - have))


def write_deadlines(session: Session, case_id: str, deadlines: Sequence, case_open: bool) -> None:
    """Replace the stored deadlines of a case by freshly derived ones."""
    session.execute(sa.delete(DeadlineRow).where(DeadlineRow.case_id == case_id))
    session.add_all(
        DeadlineRow(
            key=d.key,
            case_id=case_id,
            kind=d.kind,
            title=d.title,
            due_on=d.due_on,
            state=d.state,
            source_event_id=d.source_event_id,
            resolved_by=d.resolved_by,
            active=case_open and d.state == "open",
        )
        for d in deadlines
    )


def rebuild_case(session: Session, case_id: str, rules: Rules) -> None:
    """Drop and recompute the read models of one case from its events."""
    session.execute(sa.delete(CaseRow).where(CaseRow.case_id == case_id))
    session.execute(sa.delete(AssignmentRow).where(AssignmentRow.case_id == case_id))
    session.flush()
    rows = read_stream(session, case_id)
    if rows:
        project(session, case_id, rows, rules, date.today())
