"""The case page: status card, deadlines, and the timeline of events with their corrections."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.users import Actor
from tracker.deadlines.derive import derive
from tracker.events.catalogue import CATALOGUE
from tracker.events.record import CORRECTION_TYPES, Recorded, effective
from tracker.projections import status as fold
from tracker.projections.recorded import to_recorded
from tracker.projections.status_rules import set_identity
from tracker.projections.tables import CaseRow, DeadlineRow
from tracker.services.chronology import Chronology, chronology
from tracker.services.follow_ups import case_follow_ups
from tracker.services.reading import deadline_dict, event_dict, log_access, visible_case
from tracker.services.runtime import Runtime
from tracker.stay.history import stay_status
from tracker.stay.strip import Strip, strip
from tracker.store.events import read_stream
from tracker.store.tables import EventRow

#: The kinds the timeline filters by, and the catalogue's groups each one gathers.
KINDS = ("legal", "movement", "safety", "support", "notes")
KIND_OF_GROUP = {
    "service": "legal",
    "stay": "legal",
    "documents": "legal",
    "prosecution": "legal",
    "detention": "legal",
    "protection": "legal",
    "movement": "movement",
    "safety": "safety",
    "support": "support",
    "intake": "notes",
    "closing": "notes",
}
#: Events that keep a case going without changing its story; a run of them is folded.
ROUTINE = frozenset(
    {
        "contact_made",
        "note_added",
        "contact_details_changed",
        "check_in_plan_set",
        "assistance_provided",
        "referral_made",
        "reminder_set",
        "deadline_resolved",
        "caseworker_assigned",
        "caseworker_unassigned",
    }
)
#: This many routine events in a row, or more, are folded behind one summary line.
QUIET_RUN = 3
#: What happened in the last this many days before the day shown (or on it) is never folded.
RECENT_DAYS = 30
_ABSENT = object()


def kind_of(type_name: str) -> str:
    """The timeline kind of an event type."""
    event_type = CATALOGUE.get(type_name)
    return KIND_OF_GROUP.get(event_type.group, "notes") if event_type is not None else "notes"


@dataclass(frozen=True)
class Change:
    """One field of an event as a correction left it: `changed` shows the old value struck through."""

    name: str
    old: Any
    new: Any

    @property
    def changed(self) -> bool:
        return bool(self.old != self.new)

    @property
    def had(self) -> bool:
        return self.old is not _ABSENT

    @property
    def has(self) -> bool:
        return self.new is not _ABSENT


def changes(type_name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every field of either version, in the catalogue's order, with its old and its new value."""
    event_type = CATALOGUE.get(type_name)
    known = list(event_type.field_names) if event_type is not None else []
    names = [n for n in known if n in old or n in new] + [n for n in {**old, **new} if n not in known]
    return [Change(n, old.get(n, _ABSENT), new.get(n, _ABSENT)) for n in names]


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
    before: dict[str, Any] = field(default_factory=dict)  # the data as it counted before this fix
    before_on: date | None = None  # the day it counted on before this fix


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
    kind: str = "notes"  # legal, movement, safety, support or notes (KINDS)
    attachments: list[Entry] = field(default_factory=list)

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
    def moved_from(self) -> date | None:
        """The day the event was recorded on, when a correction moved it to another."""
        return self.occurred_on if self.effective_on != self.occurred_on else None

    @property
    def counts_as(self) -> dict[str, Any]:
        """The data the event counts with now: the latest correction's, else its own."""
        fix = self.correction
        return fix.data if fix is not None and fix.data is not None else self.data

    @property
    def changes(self) -> list[Change]:
        """Its fields from what was recorded to what counts now (a corrected event)."""
        return changes(self.type, self.data, self.counts_as)

    @property
    def own_fix(self) -> Fix | None:
        """For a correction or retraction: what it did to its target."""
        if self.target is None:
            return None
        return next((f for f in self.target.fixes if f.event_id == self.id), None)

    @property
    def fix_changes(self) -> list[Change]:
        """For a correction: the fields of its target that it changed."""
        fix = self.own_fix
        if fix is None or self.target is None or fix.data is None:
            return []
        return [c for c in changes(self.target.type, fix.before, fix.data) if c.changed]

    @property
    def routine(self) -> bool:
        """Whether it may be folded with its neighbours: routine, and neither corrected nor retracted."""
        return self.type in ROUTINE and self.state == "counts"

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
    follow_ups: list[dict[str, Any]] = field(default_factory=list)


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
        entry.kind = kind_of(row.type)
        if row.type == "deadline_resolved":
            # A deadline's key names the event it comes from: kind:EVENT_ID:DUE_ON.
            parts = str(entry.data.get("deadline_key", "")).split(":")
            source = by_id.get(parts[1]) if len(parts) == 3 else None
            entry.kind = source.kind if source is not None else entry.kind
        if target is not None:
            entry.target = target
            entry.kind = target.kind
            kind = "corrected" if row.type == "event_corrected" else "retracted"
            new_data = entry.data.get("data") if kind == "corrected" else None
            before, before_on = dict(target.counts_as), target.effective_on
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
                    before,
                    before_on,
                )
            )
        by_id[row.id] = entry
        out.append(entry)
    return out


def nest_attachments(timeline: list[Entry]) -> list[Entry]:
    """The timeline with each attached file listed under the event it supports (others stay on their own)."""
    by_id = {e.id: e for e in timeline}
    out: list[Entry] = []
    for e in timeline:
        target = by_id.get(str(e.data.get("supports_event") or "")) if e.type == "attachment_added" else None
        if target is not None:
            target.attachments.append(e)
        else:
            out.append(e)
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
        tasks = case_follow_ups(session, case_id, today) if as_of is None else []
    story = effective(stream, as_of=as_of)
    status["stay_count"] = stay_status(story, rt.rules.stay, today)
    if as_of is not None:
        # The same cut-off as the status: an event moved by a correction counts on its new date.
        timeline = [e for e in timeline if e.effective_on <= as_of]
    # A corrected date moves the event: it sits among the events of the day it now counts on.
    timeline.sort(key=lambda e: (e.effective_on, e.version), reverse=True)
    timeline = nest_attachments(timeline)
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
        follow_ups=tasks,
    )


@dataclass
class Quiet:
    """A run of routine events, folded behind one summary line."""

    entries: list[Entry]

    @property
    def first(self) -> date:
        return min(e.effective_on for e in self.entries)

    @property
    def last(self) -> date:
        return max(e.effective_on for e in self.entries)


def only_kinds(timeline: list[Entry], kinds: frozenset[str] | set[str]) -> list[Entry]:
    """The events of the chosen kinds (all of them when none is chosen)."""
    return [e for e in timeline if e.kind in kinds] if kinds else list(timeline)


def fold_quiet(timeline: list[Entry], today: date, run: int = QUIET_RUN) -> list[Entry | Quiet]:
    """The timeline with each run of `run` or more routine events in a row folded into one Quiet.

    An event that happened in the RECENT_DAYS up to `today` stays open (and ends a run).
    """
    since = today - timedelta(days=RECENT_DAYS)
    out: list[Entry | Quiet] = []
    pending: list[Entry] = []

    def flush() -> None:
        if len(pending) >= run:
            out.append(Quiet(list(pending)))
        else:
            out.extend(pending)
        pending.clear()

    for e in timeline:
        if e.routine and e.effective_on < since:
            pending.append(e)
        else:
            flush()
            out.append(e)
    flush()
    return out
