"""The organization-wide audit log: append-only records of security-relevant actions, and reading them."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.auth.tables import AuditRow
from tracker.auth.users import Actor
from tracker.services.runtime import Forbidden, Runtime
from tracker.store.hashing import format_time

# The actions the log knows; filters and exports offer these.
ACTIONS = (
    "signin",
    "signin_failed",
    "signout",
    "user_created",
    "user_changed",
    "password_reset",
    "second_factor_enabled",
    "second_factor_disabled",
    "token_created",
    "token_revoked",
    "setting_changed",
    "export",
    "erasure",
    "key_rotation",
    "backup",
    "restore",
)
READERS = ("admin", "auditor")
FORMATS = ("jsonl", "csv")
COLUMNS = ("id", "at", "actor", "action", "target", "detail", "address")
# A streamed export reads this many records per short read transaction.
EXPORT_BATCH = 500


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | str | None = None,
    address: str | None = None,
) -> AuditRow:
    """Add one audit record in the caller's transaction; never include sensitive case fields."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    text = json.dumps(detail, sort_keys=True, ensure_ascii=False) if isinstance(detail, dict) else detail
    row = AuditRow(
        at=datetime.now(UTC), actor=actor, action=action, target=target, detail=text, address=address
    )
    session.add(row)
    return row


class FilterError(ValueError):
    """A filter of the audit log is not usable; the message names it."""


@dataclass(frozen=True)
class AuditFilter:
    """Which records to show: by who acted, what they did, on what, and a range of days (inclusive)."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: date | None = None
    until: date | None = None

    def check(self) -> None:
        if self.action is not None and self.action not in ACTIONS:
            raise FilterError(f"unknown audit action {self.action!r}: one of {', '.join(ACTIONS)}")
        if self.since and self.until and self.since > self.until:
            raise FilterError("the start date of the audit filter is after its end date")


def require_reader(viewer: Actor) -> None:
    """Refuse anyone but admins and auditors."""
    if viewer.role not in READERS:
        raise Forbidden("only admins and auditors read the audit log")


def _query(f: AuditFilter) -> sa.Select[Any]:
    f.check()
    query = sa.select(AuditRow)
    if f.actor:
        query = query.where(AuditRow.actor == f.actor)
    if f.action:
        query = query.where(AuditRow.action == f.action)
    if f.target:
        query = query.where(AuditRow.target == f.target)
    if f.since:
        query = query.where(AuditRow.at >= datetime.combine(f.since, time.min, UTC))
    if f.until:
        query = query.where(AuditRow.at < datetime.combine(f.until + timedelta(days=1), time.min, UTC))
    return query


def entry_dict(row: AuditRow) -> dict[str, Any]:
    """One record as services answer it; a JSON detail is parsed, other text kept as is."""
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


def list_entries(
    rt: Runtime, viewer: Actor, f: AuditFilter, limit: int = 100, before_id: int | None = None
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of records, newest first, and the `before_id` of the next page (None on the last)."""
    require_reader(viewer)
    query = _query(f)
    if before_id is not None:
        query = query.where(AuditRow.id < before_id)
    with rt.db.read() as session:
        rows = [entry_dict(r) for r in session.scalars(query.order_by(AuditRow.id.desc()).limit(limit + 1))]
    page = rows[:limit]
    return page, (page[-1]["id"] if len(rows) > limit else None)


def _csv_cell(value: Any) -> Any:
    # A cell starting like a formula would run in a spreadsheet that opens the export.
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _filter_detail(f: AuditFilter) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(f).items() if v}


class _Writer:
    """Records as JSON Lines or CSV (formula-safe cells) into a text stream."""

    def __init__(self, out: TextIO, fmt: str) -> None:
        if fmt not in FORMATS:
            raise FilterError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
        self.out = out
        self.csv = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n") if fmt == "csv" else None

    def header(self) -> None:
        if self.csv:
            self.csv.writeheader()

    def write(self, entry: dict[str, Any]) -> None:
        if self.csv:
            self.csv.writerow({k: _csv_cell(entry[k]) for k in COLUMNS})
        else:
            line = json.dumps({k: entry[k] for k in COLUMNS}, ensure_ascii=False, sort_keys=True)
            self.out.write(line + "\n")


def export_entries(rt: Runtime, viewer: Actor, f: AuditFilter, out: TextIO, fmt: str = "jsonl") -> int:
    """Write the matching records oldest first as JSON Lines or CSV; the export is itself recorded."""
    require_reader(viewer)
    writer = _Writer(out, fmt)
    writer.header()
    count = 0
    with rt.db.write() as session:
        for row in session.scalars(_query(f).order_by(AuditRow.id).execution_options(yield_per=1000)):
            writer.write(entry_dict(row))
            count += 1
        detail = {"filter": _filter_detail(f), "rows": count, "format": fmt}
        record(session, viewer.username, "export", "audit_log", detail)
    return count


def export_stream(
    rt: Runtime, viewer: Actor, f: AuditFilter, fmt: str = "jsonl", address: str | None = None
) -> Iterator[str]:
    """The matching records oldest first as chunks of JSON Lines or CSV, for a streamed download.

    The checks and the export's own record happen at once, before the first chunk (so a download
    that is started is in the log even if it is abandoned); the records are then read in batches of
    EXPORT_BATCH by id, each in a short read transaction, up to the export's own record: neither
    memory nor a transaction grows with the log, and a long download holds no lock.
    """
    require_reader(viewer)
    query = _query(f)
    buffer = io.StringIO()
    writer = _Writer(buffer, fmt)
    with rt.db.write() as session:
        detail = {"filter": _filter_detail(f), "format": fmt, "via": "web"}
        own = record(session, viewer.username, "export", "audit_log", detail, address)
        session.flush()
        up_to = own.id

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    def chunks() -> Iterator[str]:
        writer.header()
        if text := take():
            yield text
        last = 0
        while True:
            page = query.where(AuditRow.id > last, AuditRow.id < up_to).order_by(AuditRow.id)
            with rt.db.read() as session:
                rows = [entry_dict(r) for r in session.scalars(page.limit(EXPORT_BATCH))]
            for entry in rows:
                writer.write(entry)
            if text := take():
                yield text
            if len(rows) < EXPORT_BATCH:
                return
            last = rows[-1]["id"]

    return chunks()
