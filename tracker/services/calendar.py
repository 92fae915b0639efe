"""Per-user calendar feeds of open deadlines, reached by a secret token kept only as a hash."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from tracker.alerts.ics import CalendarEvent, calendar
from tracker.alerts.mail import case_link
from tracker.auth.tables import UserRow
from tracker.auth.users import Actor, UserError, find_user, token_digest
from tracker.projections.tables import AssignmentRow, CaseRow, DeadlineRow
from tracker.services import audit
from tracker.services.reading import log_access
from tracker.services.runtime import NotFound, Runtime

#: The one-line domain part of every event UID; the deadline key before it is what keeps UIDs stable.
UID_DOMAIN = "tracker"
_COLUMNS = (DeadlineRow.key, DeadlineRow.case_id, DeadlineRow.title, DeadlineRow.due_on)


def issue_token(rt: Runtime, username: str, by: str | None = None) -> str:
    """A new calendar token for the user; the previous one stops working. Only its hash is kept."""
    token = "cal_" + secrets.token_urlsafe(32)
    with rt.db.write() as session:
        user = find_user(session, username)
        if user is None:
            raise UserError(f"no such user: {username}")
        user.calendar_token_hash = token_digest(token)
        audit.record(session, by or username, "token_created", username, {"kind": "calendar"})
    return token


def revoke_token(rt: Runtime, username: str, by: str | None = None) -> None:
    """The user's calendar feed stops answering until a new token is issued."""
    with rt.db.write() as session:
        user = find_user(session, username)
        if user is None:
            raise UserError(f"no such user: {username}")
        if user.calendar_token_hash is not None:
            user.calendar_token_hash = None
            audit.record(session, by or username, "token_revoked", username, {"kind": "calendar"})


def feed_url(rt: Runtime, token: str) -> str:
    """Where a calendar application subscribes to the feed of this token."""
    return f"{str(rt.settings.get('BASE_URL') or '').rstrip('/')}/calendar/{token}.ics"


def feed(rt: Runtime, token: str) -> str:
    """The iCalendar text of the open deadlines of the token owner's visible cases, by pseudonym only.

    Each case in the feed is a read of that case, written to its access log.
    """
    if not token or len(token) > 200:
        raise NotFound("calendar")
    with rt.db.write() as session:
        user = session.scalar(sa.select(UserRow).where(UserRow.calendar_token_hash == token_digest(token)))
        if user is None or not user.active:
            raise NotFound("calendar")
        who = Actor(user.username, user.role, user.id)
        query = (
            sa.select(
                DeadlineRow.key, DeadlineRow.case_id, DeadlineRow.title, DeadlineRow.due_on, CaseRow.pseudonym
            )
            .join(CaseRow, CaseRow.case_id == DeadlineRow.case_id)
            .where(DeadlineRow.active.is_(True))
        )
        if not who.sees_every_case:
            query = query.where(
                DeadlineRow.case_id.in_(
                    sa.select(AssignmentRow.case_id).where(AssignmentRow.username == who.username)
                )
            )
        rows = session.execute(query.order_by(DeadlineRow.due_on, DeadlineRow.key)).all()
        for case_id in dict.fromkeys(d.case_id for d in rows):
            log_access(session, rt, who, case_id, "calendar", "calendar")
    base_url = str(rt.settings.get("BASE_URL") or "")
    events = [
        CalendarEvent(
            uid=f"{d.key}@{UID_DOMAIN}",
            day=d.due_on,
            summary=f"{d.pseudonym}: {d.title}",
            description=f"{d.title}, due {d.due_on.isoformat()}. {case_link(base_url, d.case_id)}",
            url=case_link(base_url, d.case_id),
        )
        for d in rows
    ]
    return calendar(f"Tracker deadlines ({who.username})", events, rt.now())
