"""E-mail state of alerts: claim what is due, then mark it sent, logged or failed (with backoff).

States: pending -> sent | logged (no SMTP configured) | skipped (the user has no address) |
failed (gave up after MAX_ATTEMPTS). A claim counts an attempt and moves email_next_at past the
retry delay before anything is sent, so a process that dies mid-send retries later instead of
losing the alert, and a second deliverer never picks up what the first one is sending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.alerts.tables import AlertRow
from tracker.auth.tables import UserRow
from tracker.projections.tables import CaseRow, DeadlineRow

#: Attempts before an e-mail is given up (the alert stays in the web inbox regardless).
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th attempt: doubling from a minute, at most six hours."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


@dataclass(frozen=True, slots=True)
class Item:
    """One alert about to be mailed, with what its message shows."""

    id: int
    username: str
    email: str
    case_id: str
    pseudonym: str
    kind: str
    title: str
    due_on: date
    stage: str
    threshold_days: int | None
    attempts: int


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(AlertRow.email_state == "pending", AlertRow.email_next_at <= now)


def skip_without_address(session: Session, now: datetime) -> int:
    """Mark the due alerts of users without an e-mail address as skipped."""
    addressed = sa.select(UserRow.username).where(UserRow.email.is_not(None), UserRow.email != "")
    result = session.execute(
        sa.update(AlertRow)
        .where(_due(now), AlertRow.username.not_in(addressed))
        .values(email_state="skipped")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def claim(session: Session, now: datetime, limit: int) -> list[Item]:
    """The oldest due alerts (at most `limit`), each with one more attempt counted."""
    rows = session.execute(
        sa.select(
            AlertRow.id,
            AlertRow.username,
            UserRow.email,
            AlertRow.case_id,
            CaseRow.pseudonym,
            AlertRow.kind,
            DeadlineRow.title,
            AlertRow.due_on,
            AlertRow.stage,
            AlertRow.threshold_days,
            AlertRow.email_attempts,
        )
        .join(UserRow, UserRow.username == AlertRow.username)
        .outerjoin(CaseRow, CaseRow.case_id == AlertRow.case_id)
        .outerjoin(DeadlineRow, DeadlineRow.key == AlertRow.deadline_key)
        .where(_due(now), UserRow.email.is_not(None), UserRow.email != "")
        .order_by(AlertRow.id)
        .limit(limit)
    ).all()
    items = [
        Item(
            id=r.id,
            username=r.username,
            email=r.email,
            case_id=r.case_id,
            pseudonym=r.pseudonym or "(unknown case)",
            kind=r.kind,
            title=r.title or r.kind.replace("_", " "),
            due_on=r.due_on,
            stage=r.stage,
            threshold_days=r.threshold_days,
            attempts=r.email_attempts + 1,
        )
        for r in rows
    ]
    by_attempts: dict[int, list[int]] = {}
    for item in items:
        by_attempts.setdefault(item.attempts, []).append(item.id)
    for attempts, ids in by_attempts.items():
        session.execute(
            sa.update(AlertRow)
            .where(AlertRow.id.in_(ids), _due(now))
            .values(email_attempts=attempts, email_next_at=now + retry_delay(attempts))
            .execution_options(synchronize_session=False)
        )
    return items


def mark(session: Session, ids: Sequence[int], state: str, now: datetime) -> None:
    """Record that the e-mail of these alerts went out (`sent`) or was written to the log (`logged`)."""
    session.execute(
        sa.update(AlertRow)
        .where(AlertRow.id.in_(ids), AlertRow.email_state == "pending")
        .values(email_state=state, email_sent_at=now if state == "sent" else None, email_error=None)
        .execution_options(synchronize_session=False)
    )


def mark_failed(session: Session, items: Sequence[Item], error: str) -> None:
    """Keep the reason; give up on the ones that used their last attempt (the rest retry later)."""
    ids = [i.id for i in items]
    given_up = [i.id for i in items if i.attempts >= MAX_ATTEMPTS]
    session.execute(
        sa.update(AlertRow)
        .where(AlertRow.id.in_(ids), AlertRow.email_state == "pending")
        .values(email_error=error[:300])
        .execution_options(synchronize_session=False)
    )
    if given_up:
        session.execute(
            sa.update(AlertRow)
            .where(AlertRow.id.in_(given_up), AlertRow.email_state == "pending")
            .values(email_state="failed", email_next_at=None)
            .execution_options(synchronize_session=False)
        )


def give_up(session: Session, item: Item, error: str) -> None:
    """Mark an alert's e-mail failed at once: retrying cannot help (its message cannot be made)."""
    session.execute(
        sa.update(AlertRow)
        .where(AlertRow.id == item.id, AlertRow.email_state == "pending")
        .values(email_state="failed", email_next_at=None, email_error=error[:300])
        .execution_options(synchronize_session=False)
    )
