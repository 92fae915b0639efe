"""Alerts: the scheduler's pass that creates and mails them, the inbox that lists and acknowledges them."""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from tracker.alerts import delivery, mail, scan
from tracker.alerts.lock import pass_lock
from tracker.alerts.planning import owed
from tracker.alerts.tables import AlertRow, SchedulerStateRow
from tracker.auth.users import Actor
from tracker.db import refresh_statistics
from tracker.ops import metrics
from tracker.projections.tables import AssignmentRow, CaseRow
from tracker.services.runtime import NotFound, Runtime
from tracker.store.hashing import format_time

log = logging.getLogger(__name__)
#: Alerts claimed per round of delivery, and rounds per call (the rest waits for the next call).
MAIL_BATCH = 500
MAIL_ROUNDS = 20
#: Alerts of one user gathered into one message at most.
PER_MESSAGE = 50


@dataclass(frozen=True)
class MailResult:
    """What one round of e-mail delivery did."""

    sent: int = 0
    logged: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class PassResult:
    """What one scheduler pass did; `skipped` when another pass held the lock."""

    skipped: bool = False
    deadlines: int = 0
    created: int = 0
    mail: MailResult = MailResult()
    seconds: float = 0.0


def run_pass(rt: Runtime, now: datetime | None = None, *, wait: bool = True) -> PassResult:
    """One scan: create the alerts owed now (each exactly once), then send the e-mail that is due.

    With `wait` off, a pass that finds another one running skips (that one covers the same ground),
    and e-mail that another process is sending at that moment is left to it.
    """
    now = now or rt.now()
    with pass_lock(rt.db, wait=wait) as held:
        if not held:
            return PassResult(skipped=True)
        started = time.perf_counter()
        deadlines, created = create_alerts(rt, now)
        mailed = deliver_mail(rt, now, wait=wait) or MailResult()
        seconds = time.perf_counter() - started
        metrics.observe_pass(seconds)
        with rt.db.write() as session:
            state = session.get(SchedulerStateRow, "deadlines") or SchedulerStateRow(name="deadlines")
            state.last_started_at = now
            state.last_finished_at = rt.now()
            state.last_seconds = seconds
            state.last_alerts = created
            session.add(state)
            # A database that grows by appends gets its planner statistics renewed here, once a pass.
            refresh_statistics(session)
        return PassResult(False, deadlines, created, mailed, seconds)


def deliver_mail(rt: Runtime, now: datetime | None = None, *, wait: bool = True) -> MailResult | None:
    """Send the e-mail that is due (new alerts and retries); None when another delivery is running."""
    with pass_lock(rt.db, wait=wait, name="mail") as held:
        if not held:
            return None
        result = _deliver(rt, now or rt.now())
    metrics.count_emails(result.sent, result.logged, result.failed)
    return result


def create_alerts(rt: Runtime, now: datetime) -> tuple[int, int]:
    """(deadlines looked at, alerts created) for the day of `now`; call it under the pass lock."""
    today = rt.organization_day(now)
    until = today + timedelta(days=rt.rules.max_lead_days)
    # Read, then write: on SQLite a write transaction blocks every other writer, so it stays short.
    # What changes in between is harmless: the pass lock keeps other passes out, and the insert
    # skips any alert that exists.
    with rt.db.read() as session:
        deadlines, followers = scan.watched(session, until)
        bosses = scan.supervisors(session)
        have = scan.existing(session, until, today)
        mailable = scan.addressed(session)
    missing = [
        alert
        for d in deadlines
        for alert in owed(d, today, _lead_days(rt, d.kind), followers.get(d.case_id, ()), bosses)
        if (alert.deadline_key, alert.stage, alert.username) not in have
    ]
    created = 0
    if missing:
        with rt.db.write() as session:
            created = scan.insert_alerts(session, missing, now, mailable)
    if created:
        metrics.count_alerts(created)
        log.info("created %d alerts over %d deadlines", created, len(deadlines))
    return len(deadlines), created


def _lead_days(rt: Runtime, kind: str) -> Sequence[int]:
    rule = rt.rules.kind_rules.get(kind)
    # A kind dropped from the rules still alerts when overdue.
    return rule.lead_days if rule else ()


def _deliver(rt: Runtime, now: datetime) -> MailResult:
    url = str(rt.settings.get("SMTP_URL") or "")
    target = mail.parse_smtp_url(url) if url else None
    mail.check_sender(str(rt.settings.get("MAIL_FROM") or ""))
    totals = {"sent": 0, "logged": 0, "failed": 0, "skipped": 0}
    with rt.db.write() as session:
        totals["skipped"] = delivery.skip_without_address(session, now)
    for _ in range(MAIL_ROUNDS):
        with rt.db.write() as session:
            items = delivery.claim(session, now, MAIL_BATCH)
        if not items:
            break
        messages, unfit = _composed(rt, _messages(items), now)
        totals["failed"] += _give_up(rt, unfit)
        if target is None:
            for batch, message in messages:
                log.info("e-mail not sent (SMTP_URL is unset):\n%s", message.as_string())
                _mark(rt, batch, "logged", now)
                totals["logged"] += len(batch)
        else:
            sent, failed, broken = _send(rt, target, messages, now)
            totals["sent"] += sent
            totals["failed"] += failed
            if broken:
                # The server is unreachable or refusing: leave the rest unclaimed until next time,
                # rather than waiting out a timeout for every batch.
                break
    return MailResult(**totals)


def _messages(items: Sequence[delivery.Item]) -> list[list[delivery.Item]]:
    by_user: dict[str, list[delivery.Item]] = {}
    for item in items:
        by_user.setdefault(item.username, []).append(item)
    return [mine[i : i + PER_MESSAGE] for mine in by_user.values() for i in range(0, len(mine), PER_MESSAGE)]


Composed = list[tuple[list[delivery.Item], EmailMessage]]


def _composed(
    rt: Runtime, batches: list[list[delivery.Item]], now: datetime
) -> tuple[Composed, list[tuple[delivery.Item, str]]]:
    """The messages that could be made, and the alerts whose message cannot be (with the reason).

    A message that cannot be made is made again alert by alert, so that only the alerts at fault
    are given up and every other one is still sent.
    """
    ready: Composed = []
    unfit: list[tuple[delivery.Item, str]] = []
    for batch in batches:
        try:
            ready.append((batch, _compose(rt, batch, now)))
            continue
        except Exception:  # which alerts are at fault is found out below, one by one
            pass
        for item in batch:
            try:
                ready.append(([item], _compose(rt, [item], now)))
            except Exception as exc:  # one alert's data must never stop another's mail
                unfit.append((item, _reason(exc)))
    return ready, unfit


def _reason(exc: Exception) -> str:
    if isinstance(exc, mail.Uncomposable):
        return f"cannot compose the e-mail: {exc}"
    return f"cannot compose the e-mail: {type(exc).__name__}"


def _compose(rt: Runtime, batch: Sequence[delivery.Item], now: datetime) -> EmailMessage:
    sender, base_url = str(rt.settings.get("MAIL_FROM") or ""), str(rt.settings.get("BASE_URL") or "")
    message = mail.compose(batch, sender, base_url, rt.organization_day(now))
    message.as_bytes()  # what fails to serialize fails here, for this message only
    return message


def _mark(rt: Runtime, batch: Sequence[delivery.Item], state: str, now: datetime) -> None:
    with rt.db.write() as session:
        delivery.mark(session, [i.id for i in batch], state, now)


def _send(rt: Runtime, target: mail.SmtpTarget, messages: Composed, now: datetime) -> tuple[int, int, bool]:
    """(alerts sent, alerts that failed, whether the server stopped taking mail)."""
    sent = failed = 0
    try:
        smtp = mail.connect(target)
    except (OSError, smtplib.SMTPException) as exc:
        everything = [i for batch, _message in messages for i in batch]
        return 0, _fail(rt, everything, f"cannot reach {target.host}: {exc}"), True
    try:
        for n, (batch, message) in enumerate(messages):
            try:
                smtp.send_message(message)
            except smtplib.SMTPRecipientsRefused as exc:
                failed += _fail(rt, batch, f"recipient refused: {exc.recipients}")
                continue
            except (smtplib.SMTPResponseException, smtplib.SMTPNotSupportedError) as exc:
                # This message was refused and the connection still stands (but for 421, the server
                # closing it): retry this one later and go on with the others.
                if getattr(exc, "smtp_code", 0) == 421:
                    rest = [i for later, _message in messages[n:] for i in later]
                    return sent, failed + _fail(rt, rest, f"{type(exc).__name__}: {exc}"), True
                failed += _fail(rt, batch, f"{type(exc).__name__}: {exc}")
                continue
            except (OSError, smtplib.SMTPException) as exc:
                # The connection is gone: retry all that is left, later.
                rest = [i for later, _message in messages[n:] for i in later]
                return sent, failed + _fail(rt, rest, f"{type(exc).__name__}: {exc}"), True
            except Exception as exc:  # a message smtplib cannot send must not stop the others
                failed += _give_up(rt, [(i, f"cannot send the e-mail: {type(exc).__name__}") for i in batch])
                continue
            _mark(rt, batch, "sent", now)
            sent += len(batch)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return sent, failed, False


def _fail(rt: Runtime, items: Sequence[delivery.Item], error: str) -> int:
    log.warning("e-mail of %d alerts not sent, will retry: %s", len(items), error)
    with rt.db.write() as session:
        delivery.mark_failed(session, items, error)
    return len(items)


def _give_up(rt: Runtime, unfit: Sequence[tuple[delivery.Item, str]]) -> int:
    if not unfit:
        return 0
    with rt.db.write() as session:
        for item, error in unfit:
            log.error("e-mail of alert %d given up: %s", item.id, error)
            delivery.give_up(session, item, error)
    return len(unfit)


def alert_dict(row: AlertRow, pseudonym: str | None, today: date) -> dict[str, Any]:
    """An alert as the API answers it; `days_left` counts from `today` to the due date (negative when
    overdue), `closed` says why an alert closed on its own (null when it did not)."""
    closed = None
    if row.closed_reason is not None:
        closed = {
            "reason": row.closed_reason,
            "by": row.closed_by,
            "on": row.closed_on.isoformat() if row.closed_on else None,
        }
    return {
        "id": row.id,
        "deadline_key": row.deadline_key,
        "case_id": row.case_id,
        "pseudonym": pseudonym,
        "kind": row.kind,
        "due_on": row.due_on.isoformat(),
        "threshold_days": row.threshold_days,
        "created_at": format_time(row.created_at),
        "acknowledged_at": format_time(row.acknowledged_at) if row.acknowledged_at else None,
        "days_left": (row.due_on - today).days,
        "closed": closed,
    }


def _mine(actor: Actor) -> sa.Select[Any]:
    query = (
        sa.select(AlertRow, CaseRow.pseudonym)
        .outerjoin(CaseRow, CaseRow.case_id == AlertRow.case_id)
        .where(AlertRow.username == actor.username)
    )
    if not actor.sees_every_case:
        # A caseworker taken off a case no longer sees it, nor its alerts.
        query = query.join(
            AssignmentRow,
            sa.and_(AssignmentRow.case_id == AlertRow.case_id, AssignmentRow.username == actor.username),
        )
    return query


def list_alerts(
    rt: Runtime, actor: Actor, unacknowledged: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    """The actor's alerts, newest first; only the unacknowledged ones when asked."""
    query = _mine(actor)
    if unacknowledged:
        query = query.where(AlertRow.acknowledged_at.is_(None))
    with rt.db.read() as session:
        rows = session.execute(query.order_by(AlertRow.created_at.desc(), AlertRow.id.desc()).limit(limit))
        return [alert_dict(row, pseudonym, rt.today()) for row, pseudonym in rows]


def acknowledge(rt: Runtime, actor: Actor, alert_id: int) -> dict[str, Any]:
    """Mark one of the actor's alerts as seen (again: no change); another user's is not found."""
    with rt.db.write() as session:
        found = session.execute(_mine(actor).where(AlertRow.id == alert_id)).first()
        if found is None:
            raise NotFound(str(alert_id))
        row, pseudonym = found
        if row.acknowledged_at is None:
            row.acknowledged_at = rt.now()
        return alert_dict(row, pseudonym, rt.today())
