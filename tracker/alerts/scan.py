"""The scan's reads and writes: active deadlines inside the lead window, recipients, missing alerts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracker.alerts.planning import ESCALATION, Owed, Watched
from tracker.alerts.tables import AlertRow
from tracker.auth.tables import UserRow
from tracker.projections.tables import AssignmentRow, DeadlineRow

_INSERT_BATCH = 2000
_ARRAY_BATCH = 10_000


def _in_window(until: date) -> sa.ColumnElement[bool]:
    # Matches the (active, due_on) index: one range scan, however many cases there are.
    return sa.and_(DeadlineRow.active.is_(True), DeadlineRow.due_on <= until)


def watched(session: Session, until: date) -> tuple[list[Watched], dict[str, list[str]]]:
    """The active deadlines due on or before `until` (overdue ones included), and the active users
    following each of their cases: one range scan of the index, the assignments joined to it."""
    follower = sa.and_(UserRow.username == AssignmentRow.username, UserRow.active.is_(True))
    rows = session.execute(
        sa.select(
            DeadlineRow.key, DeadlineRow.case_id, DeadlineRow.kind, DeadlineRow.due_on, UserRow.username
        )
        .outerjoin(AssignmentRow, AssignmentRow.case_id == DeadlineRow.case_id)
        .outerjoin(UserRow, follower)
        .where(_in_window(until))
    )
    deadlines: dict[str, Watched] = {}
    followers: dict[str, set[str]] = {}
    for key, case_id, kind, due_on, username in rows:
        if key not in deadlines:
            deadlines[key] = Watched(key, case_id, kind, due_on)
        if username is not None:
            followers.setdefault(case_id, set()).add(username)
    return list(deadlines.values()), {case_id: sorted(names) for case_id, names in followers.items()}


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


def addressed(session: Session) -> set[str]:
    """The users with an e-mail address."""
    return set(
        session.scalars(sa.select(UserRow.username).where(UserRow.email.is_not(None), UserRow.email != ""))
    )


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


def insert_alerts(session: Session, alerts: Sequence[Owed], now: datetime, addressed: set[str]) -> int:
    """Insert the alerts, skipping any that exist already; the number actually inserted.

    The alerts of users without an e-mail address (not in `addressed`) start as `skipped`, so that
    delivery never has to touch them.
    """
    if not alerts:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return _insert_postgresql(session, alerts, now, addressed)
    # On the Table, not the mapped class: an ORM bulk insert splits the batch wherever the None
    # columns change (lead alerts have a threshold, overdue ones none), a round trip every few rows.
    table = AlertRow.__table__
    statement = (
        sqlite_insert(table)
        .on_conflict_do_nothing(index_elements=["deadline_key", "stage", "username"])
        .returning(table.c.id)
    )
    created = 0
    for batch in _batches((_values(a, now, addressed) for a in alerts), _INSERT_BATCH):
        created += len(session.execute(statement, batch).all())
    return created


_ARRAY_COLUMNS = (
    "deadline_key",
    "stage",
    "username",
    "case_id",
    "kind",
    "due_on",
    "threshold_days",
    "email_state",
)


def _insert_postgresql(session: Session, alerts: Sequence[Owed], now: datetime, addressed: set[str]) -> int:
    # One array per column, unnested on the server: a multi-row VALUES of 12 parameters a row costs
    # the driver more to prepare than the server takes to insert.
    table = AlertRow.__table__
    arrays = [sa.bindparam(c, type_=ARRAY(table.c[c].type)) for c in _ARRAY_COLUMNS]
    rows = sa.func.unnest(*arrays).table_valued(*_ARRAY_COLUMNS).render_derived(name="new")
    stamp = sa.bindparam("now", type_=table.c.created_at.type)
    statement = (
        pg_insert(table)
        .from_select(
            [*_ARRAY_COLUMNS, "created_at", "email_next_at", "email_attempts"],
            sa.select(*(rows.c[c] for c in _ARRAY_COLUMNS), stamp, stamp, sa.literal(0)),
        )
        .on_conflict_do_nothing(index_elements=["deadline_key", "stage", "username"])
        .returning(table.c.id)
    )
    created = 0
    for start in range(0, len(alerts), _ARRAY_BATCH):
        batch = [_values(a, now, addressed) for a in alerts[start : start + _ARRAY_BATCH]]
        params: dict[str, Any] = {c: [row[c] for row in batch] for c in _ARRAY_COLUMNS}
        created += len(session.execute(statement, {**params, "now": now}).all())
    return created


def _values(alert: Owed, now: datetime, addressed: set[str]) -> dict:
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
        "email_state": "pending" if alert.username in addressed else "skipped",
        "email_attempts": 0,
        "email_next_at": now,
    }


def _batches(items: Iterable[dict], size: int) -> Iterable[Sequence[dict]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
