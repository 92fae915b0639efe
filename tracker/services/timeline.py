"""The case page: status card, deadlines, and the timeline of events with their corrections."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.users import Actor
from tracker.deadlines.derive import derive
from tracker.events.record import CORRECTION_TYPES, Recorded, effective
from tracker.projections import status as fold
from tracker.projections.recorded import to_recorded
from tracker.projections.status_rules import set_identity
from tracker.projections.tables import CaseRow, DeadlineRow
from tracker.services.chronology import Chronology, chronology
from tracker.services.reading import deadline_dict, event_dict, log_access, visible_case
from tracker.services.runtime import Runtime
from tracker.stay.history import stay_status
from tracker.stay.strip import Strip, strip
from tracker.store.events import read_stream
from tracker.store.tables import EventRow


@dataclass
class Fix:
    """A correction or retraction that acts on an event."""

    kind: str  # "corrected" | "retracted"
    event_id: str
    version: int
    recorded_by: str
    recorded_at: datetime
    reason: str | None
    data: dict[str, Any] | None = None  # what a correction says the event's data is now
    occurred_on: str | None = None  # the date a correction moves the event to, if any


@dataclass
class Entry:
    """One event of the timeline as a person reads it."""

    id: str
    version: int
    type: str
    occurred_on: date
    date_precision: str
    recorded_at: datetime
    recorded_by: str
    source: str
    data: dict[str, Any]
    hash: str
    fixes: list[Fix] = field(default_factory=list)
    target: Entry | None = None

    @property
    def state(self) -> str:
        """ "retracted", "corrected" or "counts"."""
        kinds = {f.kind for f in self.fixes}
        return "retracted" if "retracted" in kinds else "corrected" if kinds else "counts"

    @property
    def correction(self) -> Fix | None:
        """The latest correction, whose data the event counts with now."""
        return next((f for f in reversed(self.fixes) if f.kind == "corrected"), None)

    @property
    def effective_on(self) -> date:
        """The day the event counts on: the latest correction's date when it gives one."""
        fix = self.correction
        if fix is not None and isinstance(fix.occurred_on, str):
            try:
                return date.fromisoformat(fix.occurred_on)
            except ValueError:
                return self.occurred_on
        return self.occurred_on

    @property
    def actionable(self) -> bool:
        """Whether a correction or retraction may still act on it."""
        return self.type not in (*CORRECTION_TYPES, "personal_data_erased") and self.state != "retracted"


@dataclass
class CasePage:
    """Everything the case page shows."""

    id: str
    version: int
    as_of: date | None
    today: date
    status: dict[str, Any]
    deadlines: list[dict[str, Any]]
    closed_deadlines: list[dict[str, Any]]
    entries: list[Entry]
    chronology: Chronology
    erased: bool
    stay_strip: Strip | None = None


def entries(rows: list[EventRow], key: bytes | None, reveal: bool) -> list[Entry]:
    """The events in version order, each carrying the corrections and retractions that act on it."""
    out: list[Entry] = []
    by_id: dict[str, Entry] = {}
    types = {row.id: row.type for row in rows}
    for row in rows:
        raw = event_dict(row, key, reveal, types)
        meta = raw["metadata"] if isinstance(raw["metadata"], dict) else {}
        entry = Entry(
            id=row.id,
            version=row.version,
            type=row.type,
            occurred_on=row.occurred_on,
            date_precision=row.date_precision,
            recorded_at=row.recorded_at,
            recorded_by=row.recorded_by,
            source=str(meta.get("source", "")),
            data=raw["data"],
            hash=row.hash,
        )
        target = by_id.get(str(entry.data.get("event_id", ""))) if row.type in CORRECTION_TYPES else None
        if target is not None:
            entry.target = target
            kind = "corrected" if row.type == "event_corrected" else "retracted"
            new_data = entry.data.get("data") if kind == "corrected" else None
            target.fixes.append(
                Fix(
                    kind,
                    row.id,
                    row.version,
                    row.recorded_by,
                    row.recorded_at,
                    entry.data.get("reason"),
                    new_data if isinstance(new_data, dict) else None,
                    entry.data.get("occurred_on") if kind == "corrected" else None,
                )
            )
        by_id[row.id] = entry
        out.append(entry)
    return out


def _deadlines_now(
    session: Session, case_id: str, today: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = session.scalars(
        sa.select(DeadlineRow)
        .where(DeadlineRow.case_id == case_id)
        .order_by(DeadlineRow.due_on, DeadlineRow.key)
    ).all()
    open_ = [deadline_dict(d, today) for d in rows if d.state == "open"]
    closed = [deadline_dict(d, today) for d in rows if d.state != "open"]
    return open_, closed


def _with_deadlines(status: dict[str, Any], open_: list[dict[str, Any]], today: date) -> dict[str, Any]:
    upcoming = [d for d in open_ if d["due_on"] >= today.isoformat()]
    status["next_deadline"] = upcoming[0] if upcoming else None
    status["overdue_deadlines"] = sum(1 for d in open_ if d["due_on"] < today.isoformat())
    return status


def case_page(rt: Runtime, actor: Actor, case_id: str, as_of: date | None = None) -> CasePage:
    """The case page of a visible case, now or as of a date (NotFound otherwise)."""
    with rt.db.write() as session:
        case: CaseRow = visible_case(session, actor, case_id)
        log_access(session, rt, actor, case_id, "page" if as_of is None else f"page as of {as_of}", "web")
        rows = read_stream(session, case_id)
        key = rt.case_key(session, case_id) if actor.sees_sensitive else None
        today = as_of or rt.today()
        stream: list[Recorded] = [to_recorded(r) for r in rows]
        if as_of is None:
            status = fold.render(fold.stored_or_built(case.fold, stream), today)
            open_, closed = _deadlines_now(session, case_id, today)
        else:
            state = fold.new_state()
            for event in effective(stream, as_of=as_of):
                state = fold.apply(state, event)
            opened = next((e for e in stream if e.type == "case_opened"), None)
            if state["pseudonym"] is None and opened is not None:
                set_identity(state, opened.data)  # opened after as_of: still named, as the API does
            status = fold.render(state, today)
            derived = derive(stream, rt.rules, as_of=as_of)
            open_ = [deadline_dict(d, today) for d in derived if d.state == "open"]
            closed = [deadline_dict(d, today) for d in derived if d.state != "open"]
        timeline = entries(rows, key, actor.sees_sensitive)
    story = effective(stream, as_of=as_of)
    status["stay_count"] = stay_status(story, rt.rules.stay, today)
    if as_of is not None:
        # The same cut-off as the status: an event moved by a correction counts on its new date.
        timeline = [e for e in timeline if e.effective_on <= as_of]
    timeline.sort(key=lambda e: (e.occurred_on, e.version), reverse=True)
    return CasePage(
        id=case_id,
        version=case.version,
        as_of=as_of,
        today=today,
        status=_with_deadlines(status, open_, today),
        deadlines=open_,
        closed_deadlines=closed,
        entries=timeline,
        chronology=chronology(story, open_, today, case.opened_on),
        erased=case.erased,
        stay_strip=strip(story, rt.rules.stay, today),
    )
