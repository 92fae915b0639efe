"""Recording events from the web form, and what the form needs to know about the case."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tracker.auth.tables import UserRow
from tracker.auth.users import Actor
from tracker.domain.commands import parse_event
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow
from tracker.services import writing
from tracker.services.reading import deadline_dict, log_access, visible_case
from tracker.services.runtime import Forbidden, Runtime
from tracker.services.timeline import Entry, entries
from tracker.store.events import ConcurrencyError, read_stream
from tracker.store.tables import EventRow

#: A user's usual event types are counted over this many of the events they recorded last.
USUAL_WINDOW = 200


class Conflict(Exception):
    """The case changed since the form was shown; `version` is where it is now."""

    def __init__(self, version: int | None) -> None:
        super().__init__(f"the case is now at version {version}")
        self.version = version


@dataclass
class FormContext:
    """The case as the add-event form needs it: targets, criminal cases, deadlines, people."""

    id: str
    version: int
    state: str
    pseudonym: str
    entries: list[Entry]
    deadlines: list[dict[str, Any]]
    caseworkers: list[str]
    assignable: list[str]
    erased: bool
    # Who may own a follow-up: the active users who may see the case and record on it.
    owners: list[str] = field(default_factory=list)


def form_context(rt: Runtime, actor: Actor, case_id: str) -> FormContext:
    """What the add-event form of a case offers (NotFound for a case the actor may not see)."""
    with rt.db.write() as session:
        case: CaseRow = visible_case(session, actor, case_id)
        if not actor.may_record:
            raise Forbidden("auditors have read-only access")
        log_access(session, rt, actor, case_id, "event form", "web")
        rows = read_stream(session, case_id)
        key = rt.case_key(session, case_id) if actor.sees_sensitive else None
        today = rt.today()
        deadlines = [
            deadline_dict(d, today)
            for d in session.scalars(
                sa.select(DeadlineRow)
                .where(DeadlineRow.case_id == case_id, DeadlineRow.state == "open")
                .order_by(DeadlineRow.due_on, DeadlineRow.key)
            )
        ]
        workers = list(
            session.scalars(
                sa.select(AssignmentRow.username)
                .where(AssignmentRow.case_id == case_id)
                .order_by(AssignmentRow.username)
            )
        )
        assignable = list(
            session.scalars(
                sa.select(UserRow.username)
                .where(UserRow.active.is_(True), UserRow.role == "caseworker")
                .order_by(UserRow.username)
            )
        )
        owners = sorted(
            session.scalars(
                sa.select(UserRow.username).where(
                    UserRow.active.is_(True),
                    sa.or_(UserRow.role.in_(("supervisor", "admin")), UserRow.username.in_(workers)),
                )
            )
        )
        return FormContext(
            owners=owners,
            id=case_id,
            version=case.version,
            state=case.state,
            pseudonym=case.pseudonym,
            entries=entries(rows, key, actor.sees_sensitive),
            deadlines=deadlines,
            caseworkers=workers,
            assignable=assignable,
            erased=case.erased,
        )


def usual_types(rt: Runtime, actor: Actor) -> list[str]:
    """The types the actor recorded at least twice among their USUAL_WINDOW newest events, most often
    first (a tie: the one recorded last first)."""
    with rt.db.read() as session:
        recent = list(
            session.scalars(
                sa.select(EventRow.type)
                .where(EventRow.recorded_by == actor.username)
                .order_by(EventRow.recorded_at.desc(), EventRow.position.desc())
                .limit(USUAL_WINDOW)
            )
        )
    counts = Counter(recent)
    latest = {name: i for i, name in reversed(list(enumerate(recent)))}
    return sorted((t for t, n in counts.items() if n >= 2), key=lambda t: (-counts[t], latest[t]))


def open_case(rt: Runtime, actor: Actor, body: dict[str, Any], request_id: str | None = None) -> str:
    """Validate a `case_opened` event given like `record`'s body and start the case; returns its id."""
    event = parse_event(body, rt.today())
    case_id, _version = writing.open_case(rt, actor, event, source="web", request_id=request_id)
    return case_id


def record(
    rt: Runtime,
    actor: Actor,
    case_id: str,
    body: dict[str, Any],
    expected_version: int | None,
    request_id: str | None = None,
) -> tuple[str, int]:
    """Validate an event given as `{"type", "occurred_on", "date_precision", "data"}` and append it.

    Raises ValidationError naming each bad field, NotFound, Forbidden, or Conflict.
    """
    event = parse_event(body, rt.today())
    try:
        return writing.record_event(
            rt, actor, case_id, event, expected_version, source="web", request_id=request_id
        )
    except ConcurrencyError as exc:
        raise Conflict(exc.actual) from None
