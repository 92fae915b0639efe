"""The dashboard: my open deadlines (overdue first), my cases; for supervisors, the organization's
overdue and upcoming deadlines with their caseworkers, and each caseworker's load."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.tables import UserRow
from tracker.auth.users import Actor
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow
from tracker.services.reading import CaseFilter, deadline_dict, list_cases
from tracker.services.runtime import Runtime

WITHIN_DAYS = 30
# The organization's upcoming deadlines and a caseworker's load look this many days ahead.
UPCOMING_DAYS = 14
SHOWN = 200
SUPERVISORS = ("supervisor", "admin")


class UnknownCaseworker(ValueError):
    """The dashboard was asked for the deadlines of someone who has no cases and is no caseworker."""


@dataclass
class Overview:
    my_deadlines: list[dict[str, Any]]
    my_cases: list[dict[str, Any]]
    more_cases: bool
    overdue_everyone: list[dict[str, Any]] | None
    upcoming_everyone: list[dict[str, Any]] | None = None
    loads: list[Load] | None = None
    caseworker: str | None = None


@dataclass(frozen=True)
class Load:
    """One caseworker's open cases and the open deadlines on them: overdue, and in the next days."""

    username: str
    open_cases: int
    overdue: int
    upcoming: int


def _deadlines(rt: Runtime, query: sa.Select[Any], workers: bool = False) -> list[dict[str, Any]]:
    """The deadlines of the query, soonest first; with `workers`, each with its case's caseworkers."""
    today = rt.today()
    out = []
    with rt.db.read() as session:
        for deadline, pseudonym in session.execute(
            query.order_by(DeadlineRow.due_on, DeadlineRow.key).limit(SHOWN)
        ).all():
            item = deadline_dict(deadline, today)
            item["pseudonym"] = pseudonym
            out.append(item)
        if workers:
            names = _assignees(session, {d["case_id"] for d in out})
            for item in out:
                item["caseworkers"] = names.get(item["case_id"], [])
    return out


def _assignees(session: Session, case_ids: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    query = sa.select(AssignmentRow.case_id, AssignmentRow.username).where(
        AssignmentRow.case_id.in_(case_ids)
    )
    for case_id, username in session.execute(query.order_by(AssignmentRow.username)):
        found.setdefault(case_id, []).append(username)
    return found


def caseworker_loads(rt: Runtime) -> list[Load]:
    """Each caseworker's load (and anyone else's with an open case assigned), by name."""
    today = rt.today()
    horizon = today + timedelta(days=UPCOMING_DAYS)
    due = DeadlineRow.due_on
    with rt.db.read() as session:
        names = set(
            session.scalars(
                sa.select(UserRow.username).where(UserRow.role == "caseworker", UserRow.active.is_(True))
            )
        )
        cases: dict[str, int] = {
            name: int(count)
            for name, count in session.execute(
                sa.select(AssignmentRow.username, sa.func.count())
                .join(CaseRow, CaseRow.case_id == AssignmentRow.case_id)
                .where(CaseRow.state == "open")
                .group_by(AssignmentRow.username)
            )
        }
        counts = {
            name: (int(overdue or 0), int(upcoming or 0))
            for name, overdue, upcoming in session.execute(
                sa.select(
                    AssignmentRow.username,
                    sa.func.sum(sa.case((due < today, 1), else_=0)),
                    sa.func.sum(sa.case((due.between(today, horizon), 1), else_=0)),
                )
                .join(DeadlineRow, DeadlineRow.case_id == AssignmentRow.case_id)
                .where(DeadlineRow.active.is_(True))
                .group_by(AssignmentRow.username)
            ).all()
        }
    return [Load(name, cases.get(name, 0), *counts.get(name, (0, 0))) for name in sorted(names | set(cases))]


def _base() -> sa.Select[Any]:
    return (
        sa.select(DeadlineRow, CaseRow.pseudonym)
        .join(CaseRow, CaseRow.case_id == DeadlineRow.case_id)
        .where(DeadlineRow.active.is_(True))
    )


def _of(caseworker: str | None) -> Any:
    if caseworker is None:
        return sa.true()
    return DeadlineRow.case_id.in_(
        sa.select(AssignmentRow.case_id).where(AssignmentRow.username == caseworker)
    )


def overview(rt: Runtime, actor: Actor, caseworker: str | None = None) -> Overview:
    """The dashboard of one user; a supervisor's organization-wide tables can keep one caseworker's."""
    horizon = rt.today() + timedelta(days=WITHIN_DAYS)
    mine = _base().where(
        DeadlineRow.due_on <= horizon,
        DeadlineRow.case_id.in_(
            sa.select(AssignmentRow.case_id).where(AssignmentRow.username == actor.username)
        ),
    )
    cases, cursor = list_cases(rt, actor, CaseFilter(assigned="me", limit=20))
    view = Overview(_deadlines(rt, mine), cases, cursor is not None, None)
    if actor.role not in SUPERVISORS:
        return view
    view.loads = caseworker_loads(rt)
    if caseworker is not None and caseworker not in {load.username for load in view.loads}:
        raise UnknownCaseworker(caseworker)
    today = rt.today()
    upcoming = DeadlineRow.due_on.between(today, today + timedelta(days=UPCOMING_DAYS))
    view.overdue_everyone = _deadlines(rt, _base().where(DeadlineRow.due_on < today, _of(caseworker)), True)
    view.upcoming_everyone = _deadlines(rt, _base().where(upcoming, _of(caseworker)), True)
    view.caseworker = caseworker
    return view
