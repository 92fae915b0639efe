"""The scan's reads and writes: active deadlines inside the lead window, recipients, missing alerts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import islice

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracker.alerts.planning import ESCALATION, Owed, Watched
from tracker.alerts.tables import AlertRow
from tracker.auth.tables import UserRow
from tracker.db import driver_connection, plain_rows
from tracker.projections.tables import AssignmentRow, DeadlineRow

_INSERT_BATCH = 2000


def _in_window(until: date) -> sa.ColumnElement[bool]:
    # Matches the (active, due_on) index: one range scan, however many cases there are.
    return sa.and_(DeadlineRow.active.is_(True), DeadlineRow.due_on <= until)


def watched(session: Session, until: date) -> tuple[list[Watched], dict[str, list[str]]]:
    """The active deadlines due on or before `until` (overdue ones included), and the active users
    following each of their cases: one range scan of the index, the assignments joined to it."""
    follower = sa.and_(UserRow.username == AssignmentRow.username, UserRow.active.is_(True))
    rows = plain_rows(
        session,
        sa.select(
            DeadlineRow.key, DeadlineRow.case_id, DeadlineRow.kind, DeadlineRow.due_on, UserRow.username
        )
        .outerjoin(AssignmentRow, AssignmentRow.case_id == DeadlineRow.case_id)
        .outerjoin(UserRow, follower)
        .where(_in_window(until)),
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
    rows = plain_rows(
        session,
        sa.select(AlertRow.deadline_key, AlertRow.stage, AlertRow.username).where(
            AlertRow.deadline_key.in_(keys),
            sa.or_(
                sa.not_(AlertRow.stage.startswith(ESCALATION, autoescape=True)),
                AlertRow.stage == f"{ESCALATION}{today.isoformat()}",
            ),
        ),
    )
    return set(rows)


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


_COLUMNS = (
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
    # COPY into a scratch table, then one INSERT ... ON CONFLICT DO NOTHING: a first pass can owe
    # hundreds of thousands of alerts, and COPY sends rows as data where parameters would have to be
    # quoted one by one.
    names = ", ".join(_COLUMNS)
    session.execute(
        sa.text(
            f"CREATE TEMPORARY TABLE new_alerts ON COMMIT DROP AS SELECT {names} FROM alerts WITH NO DATA"
        )
    )
    with (
        driver_connection(session).cursor() as cur,
        cur.copy(f"COPY new_alerts ({names}) FROM STDIN") as copy,
    ):
        for a in alerts:
            state = "pending" if a.username in addressed else "skipped"
            copy.write_row(
                (a.deadline_key, a.stage, a.username, a.case_id, a.kind, a.due_on, a.threshold_days, state)
            )
    result = session.execute(
        sa.text(
            f"INSERT INTO alerts ({names}, created_at, email_next_at, email_attempts) "
            f"SELECT {names}, :now, :now, 0 FROM new_alerts "
            "ON CONFLICT (deadline_key, stage, username) DO NOTHING"
        ),
        {"now": now},
    )
    session.execute(sa.text("DROP TABLE new_alerts"))
    return int(result.rowcount)  # type: ignore[attr-defined]  # Session.execute says Result; DML gives a CursorResult


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
