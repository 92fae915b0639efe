"""Deadlines across cases, read from the deadlines projection."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tracker.auth.users import Actor
from tracker.projections.tables import AssignmentRow, DeadlineRow
from tracker.services.reading import deadline_dict
from tracker.services.runtime import Runtime


def open_deadlines(
    rt: Runtime, actor: Actor, within_days: int = 30, assigned: str | None = None, overdue_only: bool = False
) -> list[dict[str, Any]]:
    """Open deadlines of open, visible cases due within the window (overdue ones included), soonest first."""
    today = rt.today()
    query = sa.select(DeadlineRow).where(DeadlineRow.active.is_(True))
    query = query.where(
        DeadlineRow.due_on < today
        if overdue_only
        else DeadlineRow.due_on <= today + timedelta(days=within_days)
    )
    for name in {
        None if actor.sees_every_case else actor.username,
        actor.username if assigned == "me" else assigned,
    }:
        if name:
            query = query.where(
                DeadlineRow.case_id.in_(
                    sa.select(AssignmentRow.case_id).where(AssignmentRow.username == name)
                )
            )
    with rt.db.read() as session:
        rows = session.scalars(query.order_by(DeadlineRow.due_on, DeadlineRow.key)).all()
        return [deadline_dict(d, today) for d in rows]
