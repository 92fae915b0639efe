"""GET /healthz: is the database answering, are migrations at head, when did the scheduler last pass."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, jsonify
from sqlalchemy.orm import Session

from tracker.alerts.tables import AlertRow, SchedulerStateRow
from tracker.migrate import head_revision
from tracker.services.runtime import Runtime
from tracker.store.hashing import format_time

#: A scheduler that has not finished a pass for this many intervals makes the health "degraded".
STALE_INTERVALS = 3


@dataclass(frozen=True)
class PassState:
    """The last finished scheduler pass."""

    finished_at: datetime
    seconds: float


@functools.lru_cache(maxsize=8)
def head(url: str) -> str | None:
    """The newest migration (read once: the migrations ship with the code)."""
    return head_revision(url)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the tracker stores UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def scheduler_state(session: Session) -> PassState | None:
    """The last finished pass of the deadline scheduler, or None before the first."""
    row = session.get(SchedulerStateRow, "deadlines")
    if row is None or row.last_finished_at is None:
        return None
    return PassState(_aware(row.last_finished_at), float(row.last_seconds or 0.0))


def mail_backlog(session: Session) -> dict[str, int]:
    """How many alerts wait for e-mail ("pending") and how many gave up ("failed")."""
    rows = session.execute(
        sa.select(AlertRow.email_state, sa.func.count())
        .where(AlertRow.email_state.in_(("pending", "failed")))
        .group_by(AlertRow.email_state)
    )
    return {str(state): int(count) for state, count in rows}


def current_revision(session: Session) -> str | None:
    """The database's migration revision (None when it was never migrated)."""
    # Read directly: Alembic's MigrationContext logs two INFO lines each time, at every health check.
    if not sa.inspect(session.connection()).has_table("alembic_version"):
        return None
    versions = session.scalars(sa.text("SELECT version_num FROM alembic_version")).all()
    return str(versions[0]) if len(versions) == 1 else ",".join(sorted(versions)) or None


def check(rt: Runtime) -> tuple[dict[str, Any], int]:
    """The health document and its HTTP status: 200 when the database answers at head, else 503."""
    newest = head(rt.db.url)
    doc: dict[str, Any] = {
        "status": "error",
        "database": "unreachable",
        "migrations": {"current": None, "head": newest},
        "scheduler": {"last_pass_finished_at": None, "age_seconds": None},
    }
    try:
        with rt.db.read() as session:
            current = current_revision(session)
            # Behind head the tables may differ from the code's: read nothing else.
            state = scheduler_state(session) if current == newest else None
    except sa.exc.SQLAlchemyError:
        return doc, 503
    doc["database"] = "ok"
    doc["migrations"]["current"] = current
    if current != newest:
        return doc, 503
    doc["status"] = "ok"
    if state is not None:
        age = max(0.0, (rt.now() - state.finished_at).total_seconds())
        finished = format_time(state.finished_at)
        doc["scheduler"] = {"last_pass_finished_at": finished, "age_seconds": round(age)}
    interval = int(rt.settings.get("SCHEDULER_INTERVAL_SECONDS") or 300)
    age_seconds = doc["scheduler"]["age_seconds"]
    if age_seconds is None or age_seconds > STALE_INTERVALS * interval:
        doc["status"] = "degraded"
    return doc, 200


def view() -> Response:
    """GET /healthz (no authentication: it tells nothing about cases or people)."""
    doc, status = check(current_app.extensions["tracker"])
    response = jsonify(doc)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
