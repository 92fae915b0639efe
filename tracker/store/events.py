"""Append to and read from the event store. Only services call this module."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from tracker.db import bulk_insert
from tracker.store.hashing import GENESIS, event_hash
from tracker.store.tables import CaseKeyRow, EventRow

# Any constant will do: it names the lock that orders appends across all cases.
APPEND_LOCK = 7_304_116


class ConcurrencyError(Exception):
    """Somebody else wrote the case first: the expected version is not the current one."""

    def __init__(self, case_id: str, expected: int | None, actual: int | None) -> None:
        super().__init__(f"case {case_id} is at version {actual}, not {expected}")
        self.case_id, self.expected, self.actual = case_id, expected, actual


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event ready to store: `data` and `metadata` are canonical JSON texts, sensitive fields sealed."""

    id: str
    type: str
    schema_version: int
    occurred_on: date
    date_precision: str
    data: str
    metadata: str


class StoreBusy(Exception):
    """The append lock was not free within the lock timeout (an import or a restore holds it): retry."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the event store is busy (another write held it for {seconds:g} s); try again")
        self.seconds = seconds


def lock_for_append(session: Session, timeout: float | None = None) -> None:
    """Serialize appends so that positions become visible in the order they were given.

    On PostgreSQL a sequence hands out numbers at insert time, but transactions commit in any
    order: a reader following `position` could see 12 before 11 commits and never look back.
    A transaction-scoped advisory lock, taken before the insert and released at commit, makes
    the position order and the commit order the same. SQLite writers are serialized by
    BEGIN IMMEDIATE already (under SQLite's busy timeout).

    With `timeout` (seconds), waiting longer raises StoreBusy (PostgreSQL's lock_timeout, set for
    this wait only); the transaction is then unusable and must be rolled back.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    if timeout is None:
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK)))
        return
    session.execute(sa.select(sa.func.set_config("lock_timeout", f"{max(1, int(timeout * 1000))}ms", True)))
    try:
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK)))
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise StoreBusy(timeout) from None
        raise
    session.execute(sa.select(sa.func.set_config("lock_timeout", "0", True)))


def head(session: Session, case_id: str) -> tuple[int, str] | None:
    """(version, hash) of the newest event of a case, or None for a case with no events."""
    row = session.execute(
        sa.select(EventRow.version, EventRow.hash)
        .where(EventRow.case_id == case_id)
        .order_by(EventRow.version.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def chain(
    case_id: str,
    expected_version: int,
    previous_hash: str,
    events: Sequence[NewEvent],
    recorded_by: str,
    recorded_at: datetime,
) -> list[dict[str, Any]]:
    """The column values of a batch at versions expected_version+1..., each hash chained to the one before."""
    rows: list[dict[str, Any]] = []
    version = expected_version
    for new in events:
        version += 1
        digest = event_hash(
            id=new.id,
            case_id=case_id,
            version=version,
            type=new.type,
            schema_version=new.schema_version,
            occurred_on=new.occurred_on,
            date_precision=new.date_precision,
            recorded_at=recorded_at,
            recorded_by=recorded_by,
            data=new.data,
            metadata=new.metadata,
            previous=previous_hash,
        )
        rows.append(
            {
                "id": new.id,
                "case_id": case_id,
                "version": version,
                "type": new.type,
                "schema_version": new.schema_version,
                "occurred_on": new.occurred_on,
                "date_precision": new.date_precision,
                "recorded_at": recorded_at,
                "recorded_by": recorded_by,
                "data": new.data,
                "meta": new.metadata,
                "hash": digest,
            }
        )
        previous_hash = digest
    return rows


def append(
    session: Session,
    case_id: str,
    expected_version: int,
    events: Sequence[NewEvent],
    recorded_by: str,
    recorded_at: datetime,
    previous_hash: str | None = None,
    lock_timeout: float | None = None,
) -> list[EventRow]:
    """Insert a batch for one case at versions expected_version+1...; takes the append lock itself
    (waiting at most `lock_timeout` seconds, else StoreBusy) and holds it to commit.

    `previous_hash` is the hash of the event at `expected_version` as the caller read it (before the
    lock): the head is read again under the lock, and a case that moved meanwhile is a ConcurrencyError.
    """
    lock_for_append(session, lock_timeout)
    current = head(session, case_id)
    actual, newest = current if current else (0, GENESIS)
    if actual != expected_version or (previous_hash is not None and previous_hash != newest):
        raise ConcurrencyError(case_id, expected_version, actual)
    previous_hash = newest
    values = chain(case_id, expected_version, previous_hash, events, recorded_by, recorded_at)
    rows = [EventRow(**v) for v in values]
    session.add_all(rows)
    try:
        session.flush()
    except IntegrityError as exc:
        # The unique (case_id, version) constraint is the last word on who wrote version N.
        raise ConcurrencyError(case_id, expected_version, None) from exc
    return rows


_EVENT_COLUMNS = {c.key: c for c in EventRow.__mapper__.column_attrs}


def insert_new_cases(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the events of new cases in bulk (values from `chain`); their positions, in order.

    For imports: the caller holds the append lock, and no row can meet an existing version.
    """
    if not rows:
        return []
    table = EventRow.__table__
    names = {key: attr.columns[0].name for key, attr in _EVENT_COLUMNS.items()}
    params = [{names[k]: v for k, v in row.items()} for row in rows]
    if session.get_bind().dialect.name != "postgresql":
        statement = sa.insert(table).returning(table.c.position, sort_by_parameter_order=True)
        return list(session.connection().execute(statement, params).scalars())
    # The positions the inserts would take, drawn from the same sequence, then the rows by COPY.
    positions = list(
        session.scalars(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence('events', 'position')) FROM generate_series(1, :n)"
            ),
            {"n": len(params)},
        )
    )
    positions.sort()
    for values, position in zip(params, positions, strict=True):
        values["position"] = position
    bulk_insert(session, table, params)
    return positions


def read_stream(session: Session, case_id: str, after_version: int = 0) -> list[EventRow]:
    return list(
        session.scalars(
            sa.select(EventRow)
            .where(EventRow.case_id == case_id, EventRow.version > after_version)
            .order_by(EventRow.version)
        )
    )


def read_streams(session: Session, case_ids: Sequence[str]) -> list[sa.Row[Any]]:
    """The events of several cases as plain rows, case by case in version order.

    The first ten columns are the arguments of `tracker.projections.recorded.recorded`.
    """
    c = EventRow.__table__.c
    return list(
        session.execute(
            sa.select(
                c.id,
                c.case_id,
                c.version,
                c.type,
                c.schema_version,
                c.occurred_on,
                c.date_precision,
                c.recorded_at,
                c.recorded_by,
                c.data,
                c.position,
                c.hash,
            )
            .where(c.case_id.in_(case_ids))
            .order_by(c.case_id, c.version)
        )
    )


def read_all(session: Session, after_position: int = 0, limit: int = 1000) -> list[EventRow]:
    """Events of every case in position order, for followers and rebuilds."""
    return list(
        session.scalars(
            sa.select(EventRow)
            .where(EventRow.position > after_position)
            .order_by(EventRow.position)
            .limit(limit)
        )
    )


def case_ids(session: Session) -> list[str]:
    return list(
        session.scalars(sa.select(EventRow.case_id).where(EventRow.version == 1).order_by(EventRow.position))
    )


def save_case_key(session: Session, case_id: str, wrapped: bytes, kek: str, keyring: str | None) -> None:
    session.add(CaseKeyRow(case_id=case_id, wrapped=wrapped, kek_id=kek, keyring=keyring))


def save_case_keys(session: Session, keys: list[tuple[str, bytes, str, str | None]]) -> None:
    """Store many new (case_id, wrapped key, kek id, keyring id) rows at once."""
    rows = [{"case_id": c, "wrapped": w, "kek_id": k, "keyring": r} for c, w, k, r in keys]
    bulk_insert(session, CaseKeyRow.__table__, rows)


def erased_cases(session: Session) -> list[str]:
    """Every case with a `personal_data_erased` event."""
    query = sa.select(EventRow.case_id).where(EventRow.type == "personal_data_erased").distinct()
    return list(session.scalars(query))


def load_case_key(session: Session, case_id: str) -> CaseKeyRow | None:
    return session.get(CaseKeyRow, case_id)
