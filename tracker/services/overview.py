"""The dashboard: my open deadlines (overdue first), my cases, and everyone's overdue deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from tracker.auth.users import Actor
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow
from tracker.services.reading import CaseFilter, deadline_dict, list_cases
from tracker.services.runtime import Runtime

WITHIN_DAYS = 30
SHOWN = 200


@dataclass
class Overview:
    my_deadlines: list[dict[str, Any]]
    my_cases: list[dict[str, Any]]
    more_cases: bool
    overdue_everyone: list[dict[str, Any]] | None


def _deadlines(rt: Runtime, query: sa.Select[Any]) -> list[dict[str, Any]]:
    today = rt.today()
    out = []
    with rt.db.read() as session:
        for deadline, pseudonym in session.execute(
            query.order_by(DeadlineRow.due_on, DeadlineRow.key).limit(SHOWN)
        ).all():
            item = deadline_dict(deadline, today)
            item["pseudonym"] = pseudonym
            out.append(item)
    return out


def _base() -> sa.Select[Any]:
    return (
        sa.select(DeadlineRow, CaseRow.pseudonym)
        .join(CaseRow, CaseRow.case_id == DeadlineRow.case_id)
        .where(DeadlineRow.active.is_(True))
    )


def overview(rt: Runtime, actor: Actor) -> Overview:
    """The dashboard of one user."""
    horizon = rt.today() + timedelta(days=WITHIN_DAYS)
    mine = _base().where(
        DeadlineRow.due_on <= horizon,
        DeadlineRow.case_id.in_(
            sa.select(AssignmentRow.case_id).where(AssignmentRow.username == actor.username)
        ),
    )
    everyone = None
    if actor.role in ("supervisor", "admin"):
        everyone = _deadlines(rt, _base().where(DeadlineRow.due_on < rt.today()))
    cases, cursor = list_cases(rt, actor, CaseFilter(assigned="me", limit=20))
    return Overview(_deadlines(rt, mine), cases, cursor is not None, everyone)
