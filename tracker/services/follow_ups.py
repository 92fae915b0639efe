"""Follow-ups as their pages list them: a user's open ones (overdue first) and a case's."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.users import Actor
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow, FollowUpRow
from tracker.services.runtime import Runtime

#: Open follow-ups shown on the dashboard at most.
SHOWN = 200


def follow_up_dict(row: FollowUpRow, today: date, pseudonym: str | None = None) -> dict[str, Any]:
    state = "overdue" if row.state == "open" and row.next_on < today else row.state
    item: dict[str, Any] = {
        "id": row.id,
        "case_id": row.case_id,
        "title": row.title,
        "owner": row.owner,
        "due_on": row.due_on.isoformat(),
        "next_on": row.next_on.isoformat(),
        "snoozed_until": row.snoozed_until.isoformat() if row.snoozed_until else None,
        "days_left": (row.next_on - today).days,
        "deadline_key": row.deadline_key,
        "state": state,
        "done_on": row.done_on.isoformat() if row.done_on else None,
    }
    if pseudonym is not None:
        item["pseudonym"] = pseudonym
    return item


def my_follow_ups(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    """The actor's open follow-ups on open cases they may see, overdue first, then soonest."""
    today = rt.today()
    query = (
        sa.select(FollowUpRow, CaseRow.pseudonym)
        .join(CaseRow, CaseRow.case_id == FollowUpRow.case_id)
        .where(FollowUpRow.owner == actor.username, FollowUpRow.state == "open", CaseRow.state == "open")
    )
    if not actor.sees_every_case:
        query = query.where(
            FollowUpRow.case_id.in_(
                sa.select(AssignmentRow.case_id).where(AssignmentRow.username == actor.username)
            )
        )
    with rt.db.read() as session:
        rows = session.execute(query.order_by(FollowUpRow.next_on, FollowUpRow.id).limit(SHOWN)).all()
        return [follow_up_dict(row, today, pseudonym) for row, pseudonym in rows]


def case_follow_ups(session: Session, case_id: str, today: date) -> list[dict[str, Any]]:
    """The follow-ups of a case: open ones first (soonest first), then those done (latest first),
    each with the title of the deadline it serves, when it names one."""
    rows = session.scalars(sa.select(FollowUpRow).where(FollowUpRow.case_id == case_id)).all()
    keys = {r.deadline_key for r in rows if r.deadline_key}
    titles: dict[str, str] = {}
    if keys:
        query = sa.select(DeadlineRow.key, DeadlineRow.title).where(DeadlineRow.key.in_(keys))
        titles = {key: title for key, title in session.execute(query).all()}
    ordered = sorted(
        rows,
        key=lambda r: (
            r.state != "open",
            r.next_on if r.state == "open" else date.max - (r.done_on or r.next_on),
        ),
    )
    out = []
    for row in ordered:
        item = follow_up_dict(row, today)
        item["deadline_title"] = titles.get(row.deadline_key or "")
        out.append(item)
    return out
