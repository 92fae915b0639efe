"""The organization's audit log as one list from three tables.

The audit records (sign-ins, user changes, exports, ...) are joined by the case reads already kept in
the access log and the event writes already kept in the event store: nothing is written twice, and
reading a case costs what it did. Each source is read with its own filter and keyset, newest (or
oldest) first, and the sources are merged in order of (time, source, id).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.tables import AccessRow, AuditRow
from tracker.store.hashing import format_time
from tracker.store.tables import EventRow

# The actions that come from the access log and the event store, not from audit records.
CASE_READ = "case_read"
EVENT_WRITE = "event_recorded"
EXTRA = (CASE_READ, EVENT_WRITE)
# A position in the merged log: (time, source rank, id in its table).
Key = tuple[datetime, int, int]
CURSOR = re.compile(r"^(?:([0-2])\.)?(\d{1,17})$")


@dataclass(frozen=True)
class Source:
    rank: int
    action: str | None  # None: the audit records, whose actions are stored
    id: Any
    at: Any
    actor: Any
    target: Any
    entry: Callable[[Any], dict[str, Any]]


def _audit_entry(row: AuditRow) -> dict[str, Any]:
    detail: Any = row.detail
    if detail:
        with contextlib.suppress(ValueError):
            detail = json.loads(detail)
    return {
        "id": row.id,
        "at": format_time(row.at),
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "detail": detail,
        "address": row.address,
    }


def _read_entry(row: AccessRow) -> dict[str, Any]:
    return {
        "id": f"read-{row.id}",
        "at": format_time(row.at),
        "actor": row.username,
        "action": CASE_READ,
        "target": row.case_id,
        "detail": {"what": row.action, "via": row.via},
        "address": None,
    }


def _write_entry(row: EventRow) -> dict[str, Any]:
    # Only the type and version: the event's fields may be sensitive and stay in the case.
    return {
        "id": f"event-{row.position}",
        "at": format_time(row.recorded_at),
        "actor": row.recorded_by,
        "action": EVENT_WRITE,
        "target": row.case_id,
        "detail": {"type": row.type, "version": row.version},
        "address": None,
    }


SOURCES = (
    Source(0, None, AuditRow.id, AuditRow.at, AuditRow.actor, AuditRow.target, _audit_entry),
    Source(1, CASE_READ, AccessRow.id, AccessRow.at, AccessRow.username, AccessRow.case_id, _read_entry),
    Source(
        2,
        EVENT_WRITE,
        EventRow.position,
        EventRow.recorded_at,
        EventRow.recorded_by,
        EventRow.case_id,
        _write_entry,
    ),
)


def _model(source: Source) -> Any:
    return source.id.class_


def _where(source: Source, f: Any) -> sa.Select[Any] | None:
    """The source's rows that match the filter; None when the filter's action rules the source out."""
    if f.action is not None and (f.action != source.action if source.action else f.action in EXTRA):
        return None
    query = sa.select(_model(source))
    if source.action is None and f.action:
        query = query.where(AuditRow.action == f.action)
    if f.actor:
        query = query.where(source.actor == f.actor)
    if f.target:
        query = query.where(source.target == f.target)
    if f.since:
        query = query.where(source.at >= datetime.combine(f.since, time.min, UTC))
    if f.until:
        query = query.where(source.at < datetime.combine(f.until + timedelta(days=1), time.min, UTC))
    return query


def _beyond(source: Source, key: Key, newer: bool) -> Any:
    """The rows of the source strictly past `key` in the merged order (towards older, or newer)."""
    at, rank, ident = key
    before: Callable[[Any, Any], Any] = operator.gt if newer else operator.lt
    if rank == source.rank:
        return before(sa.tuple_(source.at, source.id), (at, ident))
    # Same time, other source: the rank decides.
    if (source.rank < rank) != newer:
        return before(source.at, at) | (source.at == at)
    return before(source.at, at)


def _key(source: Source, row: Any) -> Key:
    at = getattr(row, source.at.key)
    # SQLite hands back some times without their zone; every time here is UTC.
    return (at if at.tzinfo else at.replace(tzinfo=UTC), source.rank, getattr(row, source.id.key))


def read(
    session: Session,
    f: Any,
    limit: int,
    after: Key | None = None,
    newer: bool = False,
    upto: Key | None = None,
) -> list[tuple[Key, dict[str, Any]]]:
    """Up to `limit` entries past `after`, newest first (or oldest first with `newer`), before `upto`."""
    parts = []
    for source in SOURCES:
        query = _where(source, f)
        if query is None:
            continue
        if after is not None:
            query = query.where(_beyond(source, after, newer))
        if upto is not None:
            query = query.where(_beyond(source, upto, not newer))
        order = (source.at, source.id) if newer else (source.at.desc(), source.id.desc())
        rows = session.scalars(query.order_by(*order).limit(limit)).all()
        parts.append([(_key(source, r), source.entry(r)) for r in rows])
    merged = heapq.merge(*parts, key=lambda pair: pair[0], reverse=not newer)
    return list(merged)[:limit]


def cursor(key: Key) -> str:
    """A page's cursor: the audit record's id as before, or `rank.id` for the other sources."""
    return str(key[2]) if key[1] == 0 else f"{key[1]}.{key[2]}"


def locate(session: Session, text: str) -> Key | None:
    """The position a cursor names, or None for a cursor that names no record."""
    match = CURSOR.match(text)
    if not match:
        return None
    source = SOURCES[int(match.group(1) or 0)]
    row = session.get(_model(source), int(match.group(2)))
    return None if row is None else _key(source, row)
