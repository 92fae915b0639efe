"""The scan's reads and writes: active deadlines inside the lead window, recipients, missing alerts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import islice

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracker.alerts.planning import ESCALATION, Owed, Watched
from tracker.alerts.tables import AlertRow
from tracker.auth.tables import UserRow
from tracker.projections.tables import AssignmentRow, DeadlineRow

_INSERT_BATCH = 2000


def _in_window(until: date) -> sa.ColumnElement[bool]:
    # Matches the (active, due_on) index: one range scan, however many cases there are.
    return sa.and_(DeadlineRow.active.is_(True), DeadlineRow.due_on <= until)


def watched(session: Session, until: date) -> list[Watched]:
    """The active deadlines due on or before `until` (overdue ones included)."""
    rows = session.execute(
        sa.select(DeadlineRow.key, DeadlineRow.case_id, DeadlineRow.kind, DeadlineRow.due_on).where(
            _in_window(until)
        )
    )
    return [Watched(*row) for row in rows]


def caseworkers(session: Session, until: date) -> dict[str, list[str]]:
    """The active users following each case that has a deadline in the window."""
    cases = sa.select(DeadlineRow.case_id).where(_in_window(until))
    rows = session.execute(
        sa.select(AssignmentRow.case_id, AssignmentRow.username)
        .join(UserRow, UserRow.username == AssignmentRow.username)
        .where(UserRow.active.is_(True), AssignmentRow.case_id.in_(cases))
        .order_by(AssignmentRow.username)
    )
    found: dict[str, list[str]] = {}
    for case_id, username in rows:
        found.setdefault(case_id, []).append(username)
    return found


def supervisors(session: Session) -> list[str]:
    """The active supervisors; the active admins when the organization has no supervisor."""
    for role in ("supervisor", "admin"):
        names = list(
            session.scalars(
                sa.select(UserRow.username)
                .where(UserRow.role == role, UserRow.active.is_(True))
                .order_by(UserRow.username)
            )
        )
        if names:
            return names
    return []


def existing(session: Session, until: date, today: date) -> set[tuple[str, str, str]]:
    """(deadline_key, stage, username) of the alerts that deadlines in the window already have.

    Escalations of earlier days are left out: they can never be owed again, and a deadline that
    stays overdue for months would otherwise make every pass read all of them.
    """
    keys = sa.select(DeadlineRow.key).where(_in_window(until))
    rows = session.execute(
        sa.select(AlertRow.deadline_key, AlertRow.stage, AlertRow.username).where(
            AlertRow.deadline_key.in_(keys),
            sa.or_(
                sa.not_(AlertRow.stage.startswith(ESCALATION, autoescape=True)),
                AlertRow.stage == f"{ESCALATION}{today.isoformat()}",
            ),
        )
    )
    return {(key, stage, username) for key, stage, username in rows}


def insert_alerts(session: Session, alerts: Iterable[Owed], now: datetime) -> int:
    """Insert the alerts, skipping any that exist already; the number actually inserted."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(AlertRow)
        .on_conflict_do_nothing(index_elements=["deadline_key", "stage", "username"])
        .returning(AlertRow.id)
    )
    created = 0
    for batch in _batches((_values(a, now) for a in alerts), _INSERT_BATCH):
        created += len(session.execute(statement, batch).all())
    return created


def _values(alert: Owed, now: datetime) -> dict:
    return {
        "deadline_key": alert.deadline_key,
        "stage": alert.stage,
        "username": alert.username,
        "case_id": alert.case_id,
        "kind": alert.kind,
        "due_on": alert.due_on,
        "threshold_days": alert.threshold_days,
        "created_at": now,
        "acknowledged_at": None,
        "email_state": "pending",
        "email_attempts": 0,
        "email_next_at": now,
    }


def _batches(items: Iterable[dict], size: int) -> Iterable[Sequence[dict]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
