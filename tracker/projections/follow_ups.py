"""Follow-ups: tasks with an owner and a due date, set, done, snoozed and reassigned by events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.events.record import CORRECTION_TYPES, Recorded, effective
from tracker.projections.tables import FollowUpRow

#: The types that set or act on a follow-up.
FOLLOW_UP_TYPES = frozenset({"follow_up_set", "follow_up_done", "follow_up_snoozed", "follow_up_reassigned"})


@dataclass
class FollowUp:
    """One follow-up of a case, named by the id of the event that set it."""

    id: str
    case_id: str
    title: str
    owner: str
    due_on: date
    deadline_key: str | None
    set_on: date
    state: str = "open"
    done_on: date | None = None
    snoozed_until: date | None = None

    @property
    def next_on(self) -> date:
        """The day it is due now: the day it was snoozed to, else its due date."""
        return self.snoozed_until or self.due_on


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def follow_ups(stream: Iterable[Recorded]) -> list[FollowUp]:
    """The follow-ups of one case from its events (corrections and retractions applied), in story order.

    An action on a follow-up that is done (a second "done", a snooze after it) changes nothing.
    """
    counted = effective(stream)
    items: dict[str, FollowUp] = {}
    for event in counted:
        due = _day(event.data.get("due_on"))
        if event.type == "follow_up_set" and due is not None:
            items[event.id] = FollowUp(
                id=event.id,
                case_id=event.case_id,
                title=str(event.data.get("title", "")),
                owner=str(event.data.get("owner", "")),
                due_on=due,
                deadline_key=event.data.get("deadline_key"),
                set_on=event.occurred_on,
            )
    for event in counted:
        item = items.get(str(event.data.get("follow_up", "")))
        if item is None or item.state != "open" or event.type == "follow_up_set":
            continue
        if event.type == "follow_up_done":
            item.state, item.done_on = "done", event.occurred_on
        elif event.type == "follow_up_snoozed" and (until := _day(event.data.get("until"))) is not None:
            item.snoozed_until = until
        elif event.type == "follow_up_reassigned" and isinstance(owner := event.data.get("owner"), str):
            item.owner = owner
    return list(items.values())


def touches_follow_ups(events: Sequence[Recorded]) -> bool:
    """Whether these new events can change a case's follow-ups."""
    return any(e.type in FOLLOW_UP_TYPES or e.type in CORRECTION_TYPES for e in events)


def follow_up_values(items: Iterable[FollowUp]) -> list[dict[str, Any]]:
    return [
        {
            "id": f.id,
            "case_id": f.case_id,
            "title": f.title,
            "owner": f.owner,
            "due_on": f.due_on,
            "next_on": f.next_on,
            "snoozed_until": f.snoozed_until,
            "deadline_key": f.deadline_key,
            "set_on": f.set_on,
            "state": f.state,
            "done_on": f.done_on,
        }
        for f in items
    ]


def write_follow_ups(session: Session, case_id: str, items: Sequence[FollowUp]) -> None:
    """Make the stored follow-ups of a case those freshly folded, writing only what changed."""
    wanted = {values["id"]: values for values in follow_up_values(items)}
    have = {r.id: r for r in session.scalars(sa.select(FollowUpRow).where(FollowUpRow.case_id == case_id))}
    for key, old in have.items():
        if key not in wanted:
            session.delete(old)
    for key, values in wanted.items():
        stored = have.get(key)
        if stored is None:
            session.add(FollowUpRow(**values))
            continue
        for name, value in values.items():
            if getattr(stored, name) != value:
                setattr(stored, name, value)
