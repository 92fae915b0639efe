"""Read models: case status and list columns, assignments, deadlines."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import Base


class CaseRow(Base):
    """The status read model of one case, with the columns the case list filters on."""

    __tablename__ = "case_status"

    case_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer)
    position: Mapped[int] = mapped_column(sa.BigInteger)
    pseudonym: Mapped[str] = mapped_column(sa.String(200))
    pseudonym_key: Mapped[str] = mapped_column(sa.String(200), index=True)
    category: Mapped[str] = mapped_column(sa.String(32))
    state: Mapped[str] = mapped_column(sa.String(8))
    country: Mapped[str | None] = mapped_column(sa.String(2), index=True)
    city: Mapped[str | None] = mapped_column(sa.String(200))
    opened_on: Mapped[date] = mapped_column(sa.Date)
    erased: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The fold state of tracker.projections.status and the story-order key of the last event folded.
    fold: Mapped[str] = mapped_column(sa.Text)
    fold_on: Mapped[date] = mapped_column(sa.Date)
    fold_version: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.Index("ix_case_status_state_pseudonym_key", "state", "pseudonym_key"),
        # Covers a search's scan of the pseudonyms and the list's order (tracker.services.reading).
        sa.Index("ix_case_status_pseudonym_key_case_id", "pseudonym_key", "case_id"),
    )


class AssignmentRow(Base):
    """Who follows a case: drives who may see it and who gets its alerts."""

    __tablename__ = "case_assignments"

    username: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, index=True)


class DeadlineRow(Base):
    """A deadline derived from a case's events by the rules."""

    __tablename__ = "deadlines"

    key: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(300))
    due_on: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(12))
    source_event_id: Mapped[str] = mapped_column(sa.String(36))
    resolved_by: Mapped[str | None] = mapped_column(sa.String(36))
    # Open deadlines of open cases: the ones that alert.
    active: Mapped[bool] = mapped_column(sa.Boolean)

    __table_args__ = (sa.Index("ix_deadlines_active_due_on", "active", "due_on"),)


class SearchTokenRow(Base):
    """One keyed digest of a normalized token of an indexed field (tracker.search.normalize).

    `event_id` is the event whose effective payload (after corrections) holds the value, so that a
    correction or retraction replaces just its tokens; `sensitive` rows never match for auditors.
    """

    __tablename__ = "search_tokens"

    digest: Mapped[bytes] = mapped_column(sa.LargeBinary(16), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    field: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    sensitive: Mapped[bool] = mapped_column(sa.Boolean)

    __table_args__ = (sa.Index("ix_search_tokens_case_id_event_id", "case_id", "event_id"),)


class FollowUpRow(Base):
    """A follow-up of a case (tracker.projections.follow_ups), named by the id of its follow_up_set."""

    __tablename__ = "follow_ups"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    owner: Mapped[str] = mapped_column(sa.String(64))
    due_on: Mapped[date] = mapped_column(sa.Date)
    # The day it is due now: snoozed_until when snoozed, else due_on.
    next_on: Mapped[date] = mapped_column(sa.Date)
    snoozed_until: Mapped[date | None] = mapped_column(sa.Date)
    deadline_key: Mapped[str | None] = mapped_column(sa.String(500))
    set_on: Mapped[date] = mapped_column(sa.Date)
    # "open" or "done".
    state: Mapped[str] = mapped_column(sa.String(8))
    done_on: Mapped[date | None] = mapped_column(sa.Date)

    __table_args__ = (sa.Index("ix_follow_ups_owner_state_next_on", "owner", "state", "next_on"),)
