"""Tables of the event store: the events and the per-case data keys."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class EventRow(Base):
    """One stored event; rows are only ever inserted (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "events"

    position: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    case_id: Mapped[str] = mapped_column(sa.String(36))
    version: Mapped[int] = mapped_column(sa.Integer)
    type: Mapped[str] = mapped_column(sa.String(64))
    schema_version: Mapped[int] = mapped_column(sa.Integer)
    occurred_on: Mapped[date] = mapped_column(sa.Date)
    date_precision: Mapped[str] = mapped_column(sa.String(8))
    recorded_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[str] = mapped_column(sa.Text)
    meta: Mapped[str] = mapped_column("metadata", sa.Text)
    hash: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (
        sa.UniqueConstraint("case_id", "version"),
        # The organization's audit log (event writes by time, or by user and time); the picker's usual types.
        sa.Index("ix_events_recorded_at_position", "recorded_at", "position"),
        sa.Index("ix_events_recorded_by_recorded_at_position", "recorded_by", "recorded_at", "position"),
    )


class CaseKeyRow(Base):
    """A case's data key, wrapped by the installation data key and its keyring leaf; deleted on erasure.

    `keyring` is None for keys wrapped before keyrings existed (under the installation key alone).
    """

    __tablename__ = "case_keys"

    case_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(sa.LargeBinary)
    kek_id: Mapped[str] = mapped_column(sa.String(16))
    keyring: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
