"""Checking the hash chains and rebuilding the read models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.db import refresh_statistics
from tracker.projections.case_status import rebuild_cases
from tracker.projections.tables import CaseRow
from tracker.services.runtime import Runtime
from tracker.services.search import rebuild_index
from tracker.store.events import case_ids, lock_for_append
from tracker.store.hashing import GENESIS, event_hash
from tracker.store.tables import EventRow

#: Cases whose read models are rebuilt per transaction.
REBUILD_CHUNK = 500


@dataclass(frozen=True)
class Broken:
    case_id: str
    problem: str


def case_count(rt: Runtime) -> int:
    """How many cases the store holds (the length of a verify, a rebuild or a whole export)."""
    with rt.db.read() as session:
        return int(session.scalar(sa.select(sa.func.count()).where(EventRow.version == 1)) or 0)


def verify(rt: Runtime, progress: Callable[[int], None] | None = None) -> tuple[int, list[Broken]]:
    """Check every case's version sequence and hash chain; return the count checked and the broken ones."""
    with rt.db.read() as session:
        checked, broken = check_chains(session, progress)
        checked += len(_truncated(session, broken))
    return checked, broken + check_attachments(rt)


def check_attachments(rt: Runtime) -> list[Broken]:
    """Every attachment's stored file must decrypt to the SHA-256 its event (in the chain) names."""
    from tracker.services.attachments import verify_files

    return [Broken(b.case_id, b.problem) for b in verify_files(rt)]


def _truncated(session: Session, broken: list[Broken]) -> list[str]:
    """Add the cases whose newest events are gone to `broken`; returns those left with no event at all."""
    # A chain cut at its end still links; the read model, written in each append's transaction,
    # remembers the version the case reached.
    top = (
        sa.select(
            EventRow.case_id,
            sa.func.max(EventRow.version).label("version"),
            sa.func.max(EventRow.position).label("position"),
        )
        .group_by(EventRow.case_id)
        .subquery()
    )
    query = (
        sa.select(CaseRow.case_id, CaseRow.version, top.c.version, CaseRow.position, top.c.position)
        .outerjoin(top, top.c.case_id == CaseRow.case_id)
        .where(
            sa.or_(
                top.c.version.is_(None), top.c.version < CaseRow.version, top.c.position != CaseRow.position
            )
        )
        .order_by(CaseRow.case_id)
    )
    named = {b.case_id for b in broken}
    empty = []
    for case_id, reached, stored, recorded_position, position in session.execute(query):
        if case_id in named:
            pass
        elif stored is None or stored < reached:
            missing = (stored or 0) + 1
            problem = f"version {missing} is missing (the case reached version {reached})"
            broken.append(Broken(case_id, problem))
        else:
            problem = f"its newest event is at position {position}, but was stored at {recorded_position}"
            broken.append(Broken(case_id, problem))
        if stored is None:
            empty.append(case_id)
    return empty


def check_chains(session: Session, progress: Callable[[int], None] | None = None) -> tuple[int, list[Broken]]:
    """`verify` inside the caller's transaction (a restore checks the rows it is about to commit)."""
    broken: list[Broken] = []
    checked = 0
    current: str | None = None
    expected_version, previous, position = 1, GENESIS, 0
    failed = False
    query = sa.select(EventRow).order_by(EventRow.case_id, EventRow.version).execution_options(yield_per=2000)
    for row in session.scalars(query):
        if row.case_id != current:
            current, expected_version, previous, position, failed = row.case_id, 1, GENESIS, 0, False
            checked += 1
            if progress:
                progress(1)
        if failed:
            continue
        problem = _check_row(row, expected_version, previous)
        if problem is None and row.position <= position:
            # Positions are not hashed (the database gives them), but a case's must rise with its versions.
            problem = (
                f"version {row.version} has position {row.position}, not after version {row.version - 1}'s"
            )
        if problem:
            broken.append(Broken(row.case_id, problem))
            failed = True
        expected_version, previous, position = row.version + 1, row.hash, row.position
    return checked, broken


def _check_row(row: EventRow, expected_version: int, previous: str) -> str | None:
    if row.version != expected_version:
        return f"version {expected_version} is missing (found {row.version})"
    if expected_version == 1 and row.type != "case_opened":
        return "version 1 is not case_opened"
    digest = event_hash(
        id=row.id,
        case_id=row.case_id,
        version=row.version,
        type=row.type,
        schema_version=row.schema_version,
        occurred_on=row.occurred_on,
        date_precision=row.date_precision,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        data=row.data,
        metadata=row.meta,
        previous=previous,
    )
    if digest != row.hash:
        return f"the hash of version {row.version} does not match its content and chain"
    return None


def rebuild(rt: Runtime, progress: Callable[[int], None] | None = None) -> int:
    """Recompute every read model from the events; returns the number of cases."""
    with rt.db.read() as session:
        ids = case_ids(session)
    for start in range(0, len(ids), REBUILD_CHUNK):
        chunk = ids[start : start + REBUILD_CHUNK]
        with rt.db.write() as session:
            # No append may land between reading a chunk's events and storing its read models.
            lock_for_append(session)
            rebuild_cases(session, chunk, rt.rules)
            rebuild_index(rt, session, chunk)
        if progress:
            progress(len(chunk))
    with rt.db.write() as session:
        refresh_statistics(session)
    return len(ids)
