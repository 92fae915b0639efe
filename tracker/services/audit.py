"""The organization-wide audit log: append-only records of security-relevant actions, and reading them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, TextIO

from sqlalchemy.orm import Session

from tracker.auth.tables import AuditRow
from tracker.auth.users import Actor
from tracker.clock import utc_now
from tracker.services import audit_sources as sources
from tracker.services.runtime import Forbidden, Runtime

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
# What the log shows and filters by: the records above, case reads (the access log) and event writes.
SHOWN_ACTIONS = (*ACTIONS, *sources.EXTRA)
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
    row = AuditRow(at=utc_now(), actor=actor, action=action, target=target, detail=text, address=address)
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
        if self.action is not None and self.action not in SHOWN_ACTIONS:
            raise FilterError(f"unknown audit action {self.action!r}: one of {', '.join(SHOWN_ACTIONS)}")
        if self.since and self.until and self.since > self.until:
            raise FilterError("the start date of the audit filter is after its end date")


def require_reader(viewer: Actor) -> None:
    """Refuse anyone but admins and auditors."""
    if viewer.role not in READERS:
        raise Forbidden("only admins and auditors read the audit log")


def list_entries(
    rt: Runtime, viewer: Actor, f: AuditFilter, limit: int = 100, before_id: int | str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of entries, newest first, and the cursor of the next page (None on the last).

    The entries are the audit records, the case reads and the event writes; `before_id` is a cursor
    from an earlier page (an audit record's id, or `rank.id` for the other sources).
    """
    require_reader(viewer)
    f.check()
    with rt.db.read() as session:
        # A cursor that names no entry starts from the newest, as the page does without one.
        after = sources.locate(session, str(before_id)) if before_id is not None else None
        pairs = sources.read(session, f, limit + 1, after)
    page = pairs[:limit]
    return [e for _, e in page], (sources.cursor(page[-1][0]) if len(pairs) > limit else None)


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
        last: sources.Key | None = None
        while batch := sources.read(session, f, EXPORT_BATCH, last, newer=True):
            for _, entry in batch:
                writer.write(entry)
            count += len(batch)
            last = batch[-1][0]
        detail = {"filter": _filter_detail(f), "rows": count, "format": fmt}
        record(session, viewer.username, "export", "audit_log", detail)
    return count


def export_stream(
    rt: Runtime, viewer: Actor, f: AuditFilter, fmt: str = "jsonl", address: str | None = None
) -> Iterator[str]:
    """The matching records oldest first as chunks of JSON Lines or CSV, for a streamed download.

    The checks and the export's own record happen at once, before the first chunk (so a download
    that is started is in the log even if it is abandoned); the records are then read in batches of
    EXPORT_BATCH (by time and id), each in a short read transaction, up to the export's own record: neither
    memory nor a transaction grows with the log, and a long download holds no lock.
    """
    require_reader(viewer)
    f.check()
    buffer = io.StringIO()
    writer = _Writer(buffer, fmt)
    with rt.db.write() as session:
        detail = {"filter": _filter_detail(f), "format": fmt, "via": "web"}
        own = record(session, viewer.username, "export", "audit_log", detail, address)
        session.flush()
        up_to = sources.locate(session, str(own.id))

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    def chunks() -> Iterator[str]:
        writer.header()
        if text := take():
            yield text
        last: sources.Key | None = None
        while True:
            with rt.db.read() as session:
                batch = sources.read(session, f, EXPORT_BATCH, last, newer=True, upto=up_to)
            for _, entry in batch:
                writer.write(entry)
            if text := take():
                yield text
            if len(batch) < EXPORT_BATCH:
                return
            last = batch[-1][0]

    return chunks()
