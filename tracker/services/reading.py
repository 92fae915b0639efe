"""Reading cases: status, events, deadlines, lists. Every read of a case is written to the access log."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.tables import AccessRow
from tracker.auth.users import Actor
from tracker.crypto.codec import open_fields, strip_fields
from tracker.deadlines.derive import Deadline, derive
from tracker.events.catalogue import hide_sensitive
from tracker.events.record import effective
from tracker.projections import status as fold
from tracker.projections.recorded import stored_data, to_recorded
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow
from tracker.services.runtime import NotFound, Runtime
from tracker.services.search import matching_cases
from tracker.services.writing import may_see
from tracker.stay.history import stay_status
from tracker.store.events import read_stream
from tracker.store.hashing import format_time
from tracker.store.tables import EventRow


def log_access(session: Session, rt: Runtime, actor: Actor, case_id: str, action: str, via: str) -> None:
    session.add(AccessRow(at=rt.now(), username=actor.username, case_id=case_id, action=action, via=via))


def _visible(session: Session, actor: Actor, case_id: str) -> CaseRow:
    row = session.get(CaseRow, case_id)
    if row is None or not may_see(session, actor, case_id):
        raise NotFound(case_id)
    return row


def visible_case(session: Session, actor: Actor, case_id: str) -> CaseRow:
    """The case's read-model row when the actor may see the case; NotFound otherwise."""
    return _visible(session, actor, case_id)


def event_types(session: Session, case_id: str) -> dict[str, str]:
    """The type of every event of a case, by id (a correction is upcast by its target's type)."""
    query = sa.select(EventRow.id, EventRow.type).where(EventRow.case_id == case_id)
    return {event_id: type_ for event_id, type_ in session.execute(query)}


def event_dict(row: EventRow, key: bytes | None, reveal: bool, types: Mapping[str, str]) -> dict[str, Any]:
    """An event as the API answers it; sensitive fields opened for those who may see them, else absent.

    Absent are the fields sealed when stored and those the catalogue marks sensitive now (a note of
    schema version 1 was stored in clear). `types` are the case's event types by id (`event_types`):
    a correction is upcast by its target's type, and its target's type tells which fields of its new
    payload are sensitive.
    """
    data = stored_data(row, types)
    if reveal:
        data = open_fields(data, key, row.case_id, row.id)
    else:
        target = types.get(str(data.get("event_id", ""))) if row.type == "event_corrected" else None
        data = hide_sensitive(row.type, strip_fields(data), target)
    return {
        "id": row.id,
        "case_id": row.case_id,
        "version": row.version,
        "position": row.position,
        "type": row.type,
        "schema_version": row.schema_version,
        "occurred_on": row.occurred_on.isoformat(),
        "date_precision": row.date_precision,
        "recorded_at": format_time(row.recorded_at),
        "recorded_by": row.recorded_by,
        "data": data,
        "metadata": json.loads(row.meta),
        "hash": row.hash,
    }


def deadline_dict(d: Any, today: date) -> dict[str, Any]:
    state = "overdue" if d.state == "open" and d.due_on < today else d.state
    return {
        "key": d.key,
        "case_id": d.case_id,
        "kind": d.kind,
        "title": d.title,
        "due_on": d.due_on.isoformat(),
        "days_left": (d.due_on - today).days,
        "state": state,
        "source_event_id": d.source_event_id,
    }


def _status(rt: Runtime, session: Session, case: CaseRow, as_of: date | None) -> dict[str, Any]:
    open_: Sequence[DeadlineRow | Deadline]
    if as_of is None:
        today = rt.today()
        stream = [to_recorded(r) for r in read_stream(session, case.case_id)]
        status = fold.render(fold.stored_or_built(case.fold, stream), today)
        open_ = session.scalars(
            sa.select(DeadlineRow)
            .where(DeadlineRow.case_id == case.case_id, DeadlineRow.state == "open")
            .order_by(DeadlineRow.due_on, DeadlineRow.key)
        ).all()
    else:
        today = as_of
        stream = [to_recorded(r) for r in read_stream(session, case.case_id)]
        # A case looked at before it was opened still shows who it is about.
        status = fold.render(fold.build_state(stream, as_of=as_of), today)
        open_ = sorted(
            (d for d in derive(stream, rt.rules, as_of=as_of) if d.state == "open"),
            key=lambda d: (d.due_on, d.key),
        )
    status["stay_count"] = stay_status(effective(stream), rt.rules.stay, today)
    upcoming = [d for d in open_ if d.due_on >= today]
    status["next_deadline"] = deadline_dict(upcoming[0], today) if upcoming else None
    status["overdue_deadlines"] = sum(1 for d in open_ if d.due_on < today)
    return status


def get_case(
    rt: Runtime, actor: Actor, case_id: str, as_of: date | None = None, via: str = "api"
) -> dict[str, Any]:
    """`{"id", "version", "status"}` of a visible case, now or as of a date."""
    with rt.db.write() as session:
        case = _visible(session, actor, case_id)
        log_access(session, rt, actor, case_id, "status" if as_of is None else f"status as of {as_of}", via)
        return {"id": case_id, "version": case.version, "status": _status(rt, session, case, as_of)}


def case_events(
    rt: Runtime, actor: Actor, case_id: str, after_version: int = 0, via: str = "api"
) -> list[dict[str, Any]]:
    with rt.db.write() as session:
        _visible(session, actor, case_id)
        log_access(session, rt, actor, case_id, "events", via)
        key = rt.case_key(session, case_id) if actor.sees_sensitive else None
        rows = read_stream(session, case_id, after_version)
        types = {r.id: r.type for r in rows}
        # A correction's target may lie before after_version: only then are the older types read.
        targets = {json.loads(r.data).get("event_id") for r in rows if r.type == "event_corrected"}
        if not targets <= types.keys():
            types = event_types(session, case_id)
        return [event_dict(r, key, actor.sees_sensitive, types) for r in rows]


def case_deadlines(
    rt: Runtime, actor: Actor, case_id: str, include_closed: bool = False, via: str = "api"
) -> list[dict[str, Any]]:
    with rt.db.write() as session:
        _visible(session, actor, case_id)
        log_access(session, rt, actor, case_id, "deadlines", via)
        query = sa.select(DeadlineRow).where(DeadlineRow.case_id == case_id)
        if not include_closed:
            query = query.where(DeadlineRow.state == "open")
        today = rt.today()
        return [
            deadline_dict(d, today)
            for d in session.scalars(query.order_by(DeadlineRow.due_on, DeadlineRow.key))
        ]


@dataclass(frozen=True)
class CaseFilter:
    q: str | None = None
    status: str | None = None
    country: str | None = None
    assigned: str | None = None
    deadline_within: int | None = None
    limit: int = 50
    cursor: str | None = None


def encode_cursor(pseudonym_key: str, case_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([pseudonym_key, case_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        key, case_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        # NUL cannot reach PostgreSQL text; a cursor of ours never holds one.
        if not (isinstance(key, str) and isinstance(case_id, str)) or "\x00" in key + case_id:
            raise ValueError
        return key, case_id
    except (ValueError, RecursionError):
        raise ValueError("invalid cursor") from None


def list_cases(rt: Runtime, actor: Actor, f: CaseFilter) -> tuple[list[dict[str, Any]], str | None]:
    """A page of case summaries in pseudonym order, and the cursor of the next page."""
    query = sa.select(CaseRow)
    if not actor.sees_every_case:
        query = query.where(CaseRow.case_id.in_(_assigned_to(actor.username)))
    if f.assigned:
        query = query.where(
            CaseRow.case_id.in_(_assigned_to(actor.username if f.assigned == "me" else f.assigned))
        )
    if f.q:
        query = query.where(_matching(rt, actor, f.q))
    if f.status:
        query = query.where(CaseRow.state == f.status)
    if f.country:
        query = query.where(CaseRow.country == f.country)
    if f.deadline_within is not None:
        horizon = rt.today() + timedelta(days=f.deadline_within)
        # EXISTS per case, walked in list order: the page stops after `limit` cases, where an IN list
        # would first gather every case with a deadline in the window (hundreds of thousands).
        query = query.where(
            sa.exists().where(
                DeadlineRow.case_id == CaseRow.case_id,
                DeadlineRow.active.is_(True),
                DeadlineRow.due_on <= horizon,
            )
        )
    if f.cursor:
        key, last_id = decode_cursor(f.cursor)
        query = query.where(
            sa.tuple_(CaseRow.pseudonym_key, CaseRow.case_id)
            > sa.tuple_(sa.literal(key), sa.literal(last_id))
        )
    query = query.order_by(CaseRow.pseudonym_key, CaseRow.case_id).limit(f.limit + 1)
    with rt.db.read() as session:
        rows = list(session.scalars(query))
        more = len(rows) > f.limit
        rows = rows[: f.limit]
        summaries = _summaries(session, rows, rt.today())
        # Read inside the unit of work: its rollback expires the rows.
        cursor = encode_cursor(rows[-1].pseudonym_key, rows[-1].case_id) if more and rows else None
    return summaries, cursor


#: A search matching at most this many cases lists them by id; more, by walking the list's order.
FEW_MATCHES = 1000


def _matching(rt: Runtime, actor: Actor, q: str) -> sa.ColumnElement[bool]:
    """Any part of the pseudonym, or the blind index of names, numbers and other indexed fields.

    Few matches are fetched first and listed by id (walking 100,000 cases in pseudonym order for
    one match would read them all); many are found by walking that order, which stops at a page.
    """
    pseudonym = CaseRow.pseudonym_key.contains(q.casefold(), autoescape=True)
    parts = matching_cases(rt, actor, q)
    if not parts:
        return pseudonym
    either = sa.union(sa.select(CaseRow.case_id).where(pseudonym), *parts).subquery()
    with rt.db.read() as session:
        ids = list(session.scalars(sa.select(either.c.case_id).limit(FEW_MATCHES + 1)))
    if len(ids) <= FEW_MATCHES:
        return CaseRow.case_id.in_(ids)
    return sa.or_(pseudonym, CaseRow.case_id.in_(sa.union(*parts) if len(parts) > 1 else parts[0]))


def _assigned_to(username: str) -> sa.Select[Any]:
    return sa.select(AssignmentRow.case_id).where(AssignmentRow.username == username)


def _summaries(session: Session, rows: Sequence[CaseRow], today: date) -> list[dict[str, Any]]:
    ids = [r.case_id for r in rows]
    workers: dict[str, list[str]] = {i: [] for i in ids}
    nearest: dict[str, date] = {}
    if ids:
        for case_id, name in session.execute(
            sa.select(AssignmentRow.case_id, AssignmentRow.username)
            .where(AssignmentRow.case_id.in_(ids))
            .order_by(AssignmentRow.username)
        ):
            workers[case_id].append(name)
        nearest = dict(
            session.execute(
                sa.select(DeadlineRow.case_id, sa.func.min(DeadlineRow.due_on))
                .where(DeadlineRow.case_id.in_(ids), DeadlineRow.active.is_(True))
                .group_by(DeadlineRow.case_id)
            )
            .tuples()
            .all()
        )
    return [
        {
            "id": r.case_id,
            "pseudonym": r.pseudonym,
            "category": r.category,
            "state": r.state,
            "country": r.country,
            "city": r.city,
            "opened_on": r.opened_on.isoformat(),
            "version": r.version,
            "caseworkers": workers[r.case_id],
            "next_due_on": nearest[r.case_id].isoformat() if r.case_id in nearest else None,
            "overdue": r.case_id in nearest and nearest[r.case_id] < today,
        }
        for r in rows
    ]


def visible_case_ids(session: Session, actor: Actor) -> Iterable[str] | None:
    """None when the actor sees every case."""
    if actor.sees_every_case:
        return None
    return list(session.scalars(_assigned_to(actor.username)))
