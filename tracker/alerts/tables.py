"""Alerts (one notice to one user per deadline threshold) and the scheduler's own state."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class AlertRow(Base):
    """An alert; the unique (deadline_key, stage, username) makes each one exist once, whoever runs."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deadline_key: Mapped[str] = mapped_column(sa.String(160))
    # "lead:<days>" for a lead threshold, "overdue:<YYYY-MM-DD>" for a day's escalation.
    stage: Mapped[str] = mapped_column(sa.String(24))
    username: Mapped[str] = mapped_column(sa.String(64))
    case_id: Mapped[str] = mapped_column(sa.String(36))
    kind: Mapped[str] = mapped_column(sa.String(40))
    due_on: Mapped[date] = mapped_column(sa.Date)
    threshold_days: Mapped[int | None] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # E-mail delivery: pending -> sent | logged (no SMTP configured) | failed (gave up).
    email_state: Mapped[str] = mapped_column(sa.String(8), default="pending")
    email_attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    email_next_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    email_sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    email_error: Mapped[str | None] = mapped_column(sa.String(300))
    # Closed on its own (acknowledged_at is then set too): why ("met", "resolved", "superseded", "gone":
    # no rule makes the deadline any more), the type of the event that closed it and that event's day.
    closed_reason: Mapped[str | None] = mapped_column(sa.String(12))
    closed_by: Mapped[str | None] = mapped_column(sa.String(40))
    closed_on: Mapped[date | None] = mapped_column(sa.Date)

    __table_args__ = (
        sa.UniqueConstraint("deadline_key", "stage", "username"),
        sa.Index("ix_alerts_username_acknowledged_at", "username", "acknowledged_at"),
        sa.Index("ix_alerts_email_state_email_next_at", "email_state", "email_next_at"),
    )


class SchedulerStateRow(Base):
    """When the scheduler last ran a pass, for /healthz and operators."""

    __tablename__ = "scheduler_state"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_seconds: Mapped[float | None] = mapped_column(sa.Float)
    last_alerts: Mapped[int | None] = mapped_column(sa.Integer)


class JobRow(Base):
    """APScheduler's SQLAlchemy job store table, made here because only migrations make tables."""

    __tablename__ = "apscheduler_jobs"

    id: Mapped[str] = mapped_column(sa.Unicode(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(sa.Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(sa.LargeBinary)
