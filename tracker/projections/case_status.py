"""Keeps the status read model, assignments and deadlines in step with each append."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.alerts.tables import AlertRow
from tracker.db import bulk_insert
from tracker.deadlines.derive import Deadline, derive
from tracker.deadlines.rules import Rules
from tracker.events.record import CORRECTION_TYPES, Recorded, effective
from tracker.projections import status as fold
from tracker.projections.follow_ups import follow_up_values, follow_ups, touches_follow_ups, write_follow_ups
from tracker.projections.recorded import recorded, to_recorded
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow, FollowUpRow
from tracker.store.events import read_stream, read_streams
from tracker.store.tables import EventRow


def _dump(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def project(
    session: Session,
    case_id: str,
    new_rows: Sequence[EventRow],
    rules: Rules,
    today: date,
    prior: Sequence[Any] | None = None,
) -> None:
    """Update every read model of one case after its new events were flushed.

    `prior` is the case's stream before them (`read_streams` rows) when the caller has just read it.
    """
    row = session.get(CaseRow, case_id)
    added = [to_recorded(r) for r in new_rows]
    new = sorted(added, key=lambda e: e.sort_key)
    # Deadlines are derived from the whole stream: only when an event that can change them came.
    deadlines_change = row is None or any(e.type in rules.event_types for e in new)
    stream: list[Recorded] | None = None

    def whole_stream() -> list[Recorded]:
        nonlocal stream
        if stream is None:
            if prior is None:
                stream = [to_recorded(r) for r in read_stream(session, case_id)]
            else:
                stream = [*(recorded(*r[:10]) for r in prior), *added]
        return stream

    previous = json.loads(row.fold) if row is not None else None
    before = set(previous["caseworkers"]) if previous is not None else None
    if (
        row is not None
        and previous is not None
        # A state folded by an older layout is refolded from the events, never continued.
        and previous.get("state_version") == fold.STATE_VERSION
        and all(e.type not in CORRECTION_TYPES and e.sort_key > (row.fold_on, row.fold_version) for e in new)
    ):
        # The new facts come after everything folded so far: continue the fold.
        state = previous
        for event in new:
            state = fold.apply(state, event)
        last = new[-1] if new else None
    else:
        state, last = _fold_all(whole_stream())
    if row is None:
        row = CaseRow(case_id=case_id)
        session.add(row)
    erased = any(r.type == "personal_data_erased" for r in new_rows)
    _store_row(row, state, last, new_rows[-1], erased)
    if before != set(state["caseworkers"]):
        _sync_assignments(session, case_id, state)
    if deadlines_change:
        ended = write_deadlines(session, case_id, derive(whole_stream(), rules), row.state == "open")
        close_alerts(session, ended, rules, new[-1] if new else None, new_rows[-1].recorded_at)
    if touches_follow_ups(added):
        write_follow_ups(session, case_id, follow_ups(whole_stream()))


def _fold_all(stream: list[Recorded]) -> tuple[dict[str, Any], Recorded | None]:
    state = fold.new_state()
    counted = effective(stream)
    for event in counted:
        state = fold.apply(state, event)
    return state, (counted[-1] if counted else None)


def _store_row(
    row: CaseRow, state: dict[str, Any], last: Recorded | None, newest: EventRow, erased: bool
) -> None:
    values = status_values(state, last, newest.version, newest.position, newest.occurred_on)
    if row.fold_on is not None and last is None:
        values.pop("fold_on"), values.pop("fold_version")
    # Any erasure among the new rows counts: a rebuild passes every row, and the erasure need not be last.
    values["erased"] = bool(row.erased) or erased
    for name, value in values.items():
        setattr(row, name, value)


def status_values(
    state: dict[str, Any], last: Recorded | None, version: int, position: int, newest_on: date
) -> dict[str, Any]:
    """The columns of a case's status row (but case_id and erased) after folding up to `last`."""
    # These columns are the fold's own values: none depends on the day it is looked at.
    status = state
    pseudonym = status["pseudonym"] or ""
    return {
        "version": version,
        "position": position,
        "pseudonym": pseudonym,
        # Case folding can lengthen a text ("ß" -> "ss"); the key column holds 200 characters.
        "pseudonym_key": pseudonym.casefold()[:200],
        "category": status["category"] or "",
        "state": status["state"] or "open",
        "country": status["country"],
        "city": status["city"],
        "opened_on": date.fromisoformat(status["opened_on"]) if status["opened_on"] else newest_on,
        "fold": _dump(state),
        "fold_on": last.occurred_on if last is not None else date.min,
        "fold_version": last.version if last is not None else 0,
    }


def _sync_assignments(session: Session, case_id: str, state: dict[str, Any]) -> None:
    wanted = set(state["caseworkers"])
    have = set(session.scalars(sa.select(AssignmentRow.username).where(AssignmentRow.case_id == case_id)))
    if have - wanted:
        session.execute(
            sa.delete(AssignmentRow).where(
                AssignmentRow.case_id == case_id, AssignmentRow.username.in_(have - wanted)
            )
        )
    session.add_all(AssignmentRow(case_id=case_id, username=name) for name in sorted(wanted - have))


def write_deadlines(
    session: Session, case_id: str, deadlines: Sequence[Deadline], case_open: bool
) -> list[tuple[str, str, DeadlineRow | None]]:
    """Make the stored deadlines of a case those freshly derived, writing only what changed.

    Returns the deadlines that were active and are no more: (key, kind, the stored row, or None when
    no rule makes the deadline any more).
    """
    wanted = {values["key"]: values for values in deadline_values(case_id, deadlines, case_open)}
    have = {r.key: r for r in session.scalars(sa.select(DeadlineRow).where(DeadlineRow.case_id == case_id))}
    ended: list[tuple[str, str, DeadlineRow | None]] = []
    for key, old in have.items():
        if old.active and not wanted.get(key, {}).get("active"):
            ended.append((key, old.kind, None if key not in wanted else old))
        if key not in wanted:
            session.delete(old)
    for key, values in wanted.items():
        stored = have.get(key)
        if stored is None:
            session.add(DeadlineRow(**values))
            continue
        for name, value in values.items():
            if getattr(stored, name) != value:
                setattr(stored, name, value)
    return ended


def close_alerts(
    session: Session,
    ended: Sequence[tuple[str, str, DeadlineRow | None]],
    rules: Rules,
    newest: Recorded | None,
    at: datetime,
) -> int:
    """Close the open alerts of deadlines that are met, resolved, superseded or gone, saying why.

    A deadline that ended names the event that ended it; one that no rule makes any more names
    `newest` (the event that took it away; None in a rebuild). A check-in moved by a new contact was
    made: its alerts close as met by that contact. Returns how many alerts were closed.
    """
    if not ended:
        return 0
    causes: dict[str, tuple[str, str | None, date | None]] = {}
    sources = {row.resolved_by for _key, _kind, row in ended if row is not None and row.resolved_by}
    events = (
        {
            e.id: (e.type, e.occurred_on)
            for e in session.execute(
                sa.select(EventRow.id, EventRow.type, EventRow.occurred_on).where(EventRow.id.in_(sources))
            )
        }
        if sources
        else {}
    )
    for key, kind, row in ended:
        if row is not None:
            type_, on = events.get(row.resolved_by or "", (None, None))
            causes[key] = (row.state if row.state != "open" else "resolved", type_, on)
            continue
        rule = rules.kind_rules.get(kind)
        contact = newest is not None and rule is not None and newest.type in rule.contacts
        reason = "met" if contact else "gone"
        causes[key] = (reason, newest.type if newest else None, newest.occurred_on if newest else None)
    closed = 0
    for alert in session.scalars(
        sa.select(AlertRow).where(AlertRow.deadline_key.in_(causes), AlertRow.acknowledged_at.is_(None))
    ):
        alert.closed_reason, alert.closed_by, alert.closed_on = causes[alert.deadline_key]
        alert.acknowledged_at = at
        closed += 1
    return closed


def deadline_values(case_id: str, deadlines: Sequence[Deadline], case_open: bool) -> list[dict[str, Any]]:
    return [
        {
            "key": d.key,
            "case_id": case_id,
            "kind": d.kind,
            "title": d.title,
            "due_on": d.due_on,
            "state": d.state,
            "source_event_id": d.source_event_id,
            "resolved_by": d.resolved_by,
            "active": case_open and d.state == "open",
        }
        for d in deadlines
    ]


def project_new_cases(session: Session, streams: Sequence[tuple[list[Recorded], int]], rules: Rules) -> None:
    """The read models of cases that have none yet, in bulk: each given its whole stream (version
    order) and the position of its newest event. The same values as `project` gives them."""
    statuses: list[dict[str, Any]] = []
    assignments: list[dict[str, Any]] = []
    deadlines: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for stream, position in streams:
        newest = stream[-1]
        case_id = newest.case_id
        state, last = _fold_all(stream)
        values = status_values(state, last, newest.version, position, newest.occurred_on)
        values["case_id"] = case_id
        values["erased"] = any(e.type == "personal_data_erased" for e in stream)
        statuses.append(values)
        names = sorted(set(state["caseworkers"]))
        assignments.extend({"case_id": case_id, "username": name} for name in names)
        deadlines.extend(deadline_values(case_id, derive(stream, rules), values["state"] == "open"))
        if touches_follow_ups(stream):
            tasks.extend(follow_up_values(follow_ups(stream)))
    for table, rows in (
        (CaseRow, statuses),
        (AssignmentRow, assignments),
        (DeadlineRow, deadlines),
        (FollowUpRow, tasks),
    ):
        bulk_insert(session, table.__table__, rows)


def rebuild_cases(session: Session, case_ids: Sequence[str], rules: Rules) -> None:
    """Drop and recompute the read models of some cases from their events.

    Alerts of deadlines that were active and are no more after the rebuild (a changed rule) are closed.
    """
    query = sa.select(DeadlineRow.key, DeadlineRow.kind).where(
        DeadlineRow.case_id.in_(case_ids), DeadlineRow.active.is_(True)
    )
    was_active: dict[str, str] = {key: kind for key, kind in session.execute(query).all()}
    for table in (CaseRow, AssignmentRow, DeadlineRow, FollowUpRow):
        session.execute(sa.delete(table).where(table.case_id.in_(case_ids)))
    streams = []
    for _case_id, group in groupby(read_streams(session, case_ids), key=lambda row: row.case_id):
        rows = list(group)
        streams.append(([recorded(*row[:10]) for row in rows], rows[-1].position))
    project_new_cases(session, streams, rules)
    if was_active:
        now_active = {
            row.key: row
            for row in session.scalars(sa.select(DeadlineRow).where(DeadlineRow.key.in_(list(was_active))))
        }
        ended = [
            (key, kind, now_active.get(key))
            for key, kind in was_active.items()
            if key not in now_active or not now_active[key].active
        ]
        close_alerts(session, ended, rules, None, datetime.now(UTC))
