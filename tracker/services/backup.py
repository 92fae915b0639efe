"""Encrypted backups: a logical dump of every table, sealed as a whole; restore into an empty database.

The plain content is gzip-compressed JSON Lines: a manifest, then for each table a line naming it
and its columns followed by one JSON array per row, then an end line with the row counts. Read
models (status, assignments, deadlines, follow-ups, the search index) are not copied: a restore
rebuilds them from the events.
The sealing is tracker.crypto.stream's (docs/keys.md describes both).
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, BinaryIO

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy.orm import Session

from tracker.auth.users import Actor
from tracker.crypto.stream import DEFAULT_CHUNK, SealedWriter, StreamError, open_chunks, read_header
from tracker.db import Base
from tracker.events.catalogue import validate_data
from tracker.models import import_all_tables
from tracker.projections.case_status import rebuild_cases
from tracker.services import audit
from tracker.services.erasure import erase_in, finish_erasures
from tracker.services.integrity import REBUILD_CHUNK, check_chains
from tracker.services.runtime import Forbidden, Runtime
from tracker.services.search import rebuild_index
from tracker.store.events import case_ids, lock_for_append
from tracker.store.tables import CaseKeyRow

FORMAT = "tracker-backup"
VERSION = 1
# Rebuilt from the events on restore.
DERIVED = frozenset({"case_status", "case_assignments", "deadlines", "follow_ups", "search_tokens"})
# Short-lived operational state: rate-limit counters and the scheduler's own bookkeeping.
TRANSIENT = frozenset({"signin_attempts", "scheduler_state", "apscheduler_jobs"})
BATCH = 500


class BackupError(Exception):
    """A backup cannot be made or restored; the message says why. Nothing was stored."""


def backed_up_tables() -> list[sa.Table]:
    """Every table a backup holds, parents before children (new tables are included by default)."""
    import_all_tables()
    return [t for t in Base.metadata.sorted_tables if t.name not in DERIVED | TRANSIENT]


def _encode(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.DateTime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat()
    if isinstance(column.type, sa.Date):
        return value.isoformat()
    if isinstance(column.type, sa.LargeBinary):
        return base64.b64encode(value).decode()
    return value


def _decode(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, sa.Date):
        return date.fromisoformat(value)
    if isinstance(column.type, sa.LargeBinary):
        return base64.b64decode(value)
    return value


def _line(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _revision(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def write_backup(rt: Runtime, actor: Actor, out: BinaryIO, chunk_size: int = DEFAULT_CHUNK) -> dict[str, int]:
    """Write a sealed backup of one consistent snapshot; returns the row count of each table."""
    if actor.role != "admin":
        raise Forbidden("only admins make backups")
    writer = SealedWriter(out, rt.kek, rt.kek_id, chunk_size)
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    counts: dict[str, int] = {}
    with rt.db.engine.connect() as conn:
        if not rt.db.sqlite:
            # One snapshot for every table (SQLite's read transaction is one already).
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "created_at": rt.now().astimezone(UTC).isoformat(),
                "revision": _revision(conn),
                "kek_id": rt.kek_id,
            }
            writer.write(gz.compress(_line(manifest)))
            for table in backed_up_tables():
                columns = list(table.columns)
                writer.write(gz.compress(_line({"table": table.name, "columns": [c.name for c in columns]})))
                query = sa.select(table).order_by(*table.primary_key.columns)
                count = 0
                for row in conn.execute(query.execution_options(yield_per=BATCH)):
                    writer.write(
                        gz.compress(_line([_encode(c, v) for c, v in zip(columns, row, strict=True)]))
                    )
                    count += 1
                counts[table.name] = count
    writer.write(gz.compress(_line({"end": counts})))
    writer.write(gz.flush())
    writer.close()
    with rt.db.write() as session:
        audit.record(session, actor.username, "backup", None, {"rows": counts, "kek_id": rt.kek_id})
    return counts


def _plain_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    gz = zlib.decompressobj(31)
    pending = b""
    for chunk in chunks:
        try:
            pending += gz.decompress(chunk)
        except zlib.error:
            raise BackupError("the backup's content is damaged (it does not decompress)") from None
        *lines, pending = pending.split(b"\n")
        yield from lines
    if not gz.eof or gz.unused_data or pending:
        raise BackupError("the backup's content is damaged (it ends in the middle of a line)")


def _require_empty(session: Session) -> None:
    for table in [*backed_up_tables(), *(Base.metadata.tables[n] for n in sorted(DERIVED))]:
        if session.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
            raise BackupError(
                f"the database is not empty (table {table.name} has rows); "
                "restore only into a new database made with `tracker db upgrade`"
            )


def _restore_sequences(session: Session, tables: list[sa.Table]) -> None:
    # PostgreSQL sequences do not move when ids are given explicitly; the next insert must not collide.
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        column = table.autoincrement_column
        if column is None:
            continue
        session.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence(:t, :c), COALESCE(MAX({column.name}), 0) + 1, false) "
                f"FROM {table.name}"
            ),
            {"t": table.name, "c": column.name},
        )


def _insert(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(table.insert(), rows)
        rows.clear()


def _load(session: Session, lines: Iterator[bytes]) -> dict[str, int]:
    """Insert every row of the backup; returns the counts after checking them against the end line."""
    tables = {t.name: t for t in backed_up_tables()}
    counts: dict[str, int] = {}
    table: sa.Table | None = None
    columns: list[sa.Column[Any]] = []
    batch: list[dict[str, Any]] = []
    for raw in lines:
        item = json.loads(raw)
        if isinstance(item, list):
            if table is None or len(item) != len(columns):
                raise BackupError("the backup's content is damaged (a row outside a table)")
            batch.append({c.key: _decode(c, v) for c, v in zip(columns, item, strict=True)})
            counts[table.name] += 1
            if len(batch) >= BATCH:
                _insert(session, table, batch)
        elif "table" in item:
            if table is not None:
                _insert(session, table, batch)
            if item["table"] not in tables or item["table"] in counts:
                raise BackupError(f"the backup holds a table this tracker does not know: {item['table']}")
            table = tables[item["table"]]
            if sorted(item["columns"]) != sorted(c.name for c in table.columns):
                raise BackupError(f"the columns of table {table.name} differ from this database's")
            columns = [table.columns[name] for name in item["columns"]]
            counts[table.name] = 0
        elif "end" in item:
            if table is not None:
                _insert(session, table, batch)
            if item["end"] != counts:
                raise BackupError("the backup's content is damaged (row counts differ from its end line)")
            # Reading on to the end makes the stream check its final chunk and that nothing follows.
            if next(lines, None) is not None:
                raise BackupError("the backup's content is damaged (data after its end line)")
            return counts
        else:
            raise BackupError("the backup's content is damaged (an unknown line)")
    raise BackupError("the backup is truncated (its end line is missing)")


@dataclass
class Restored:
    """What a restore stored: row counts, and the cases whose erasure came after the backup."""

    counts: dict[str, int]
    came_back_erased: dict[str, str] = field(default_factory=dict)  # case id -> when it was erased


def restore_backup(rt: Runtime, actor: Actor, fh: BinaryIO, name: str = "") -> Restored:
    """Restore a sealed backup into an empty database, all or nothing.

    Every chain is checked and the read models rebuilt before the one transaction commits. A case
    erased after the backup was made (the keyring no longer derives its key, or its ledger lists it)
    comes back erased: its key row is dropped and `personal_data_erased` appended again.
    """
    if actor.role != "admin":
        raise Forbidden("only admins restore backups")
    try:
        header = read_header(fh)
        kek = rt.kek_for(header.kek_id) if header.kek_id in rt.known_kek_ids else None
        if kek is None:
            raise BackupError(
                f"the backup was sealed under installation key {header.kek_id}, which is neither "
                f"TRACKER_DATA_KEY ({rt.kek_id}) nor one of TRACKER_OLD_DATA_KEYS"
            )
        lines = _plain_lines(open_chunks(fh, header, kek))
        manifest = json.loads(next(lines, b"null"))
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError("the backup's content is not a tracker backup")
        if manifest.get("version") != VERSION:
            raise BackupError(f"backup content version {manifest.get('version')} is not supported")
        with rt.db.write() as session:
            lock_for_append(session)
            here = _revision(session.connection())
            if here != manifest.get("revision"):
                raise BackupError(
                    f"the backup is of database revision {manifest.get('revision')}, this database is at "
                    f"{here or 'none (run `tracker db upgrade`)'}"
                )
            _require_empty(session)
            counts = _load(session, lines)
            _check(rt, session)
            _require_keyring(rt, session)  # before the search index opens any case key
            _restore_sequences(session, backed_up_tables())
            ids = case_ids(session)
            for start in range(0, len(ids), REBUILD_CHUNK):
                rebuild_cases(session, ids[start : start + REBUILD_CHUNK], rt.rules)
                rebuild_index(rt, session, ids[start : start + REBUILD_CHUNK])
            erased = _erase_again(rt, session, actor)
            detail = {"rows": counts, "came_back_erased": sorted(erased)}
            audit.record(session, actor.username, "restore", name or None, detail)
    except StreamError as exc:
        raise BackupError(str(exc)) from None
    except (ValueError, KeyError, TypeError) as exc:
        # Only a backup sealed with the right key but written by something else gets here.
        raise BackupError(f"the backup's content is damaged ({exc.__class__.__name__})") from None
    finish_erasures(rt)
    return Restored(counts, erased)


def _require_keyring(rt: Runtime, session: Session) -> None:
    """A backup whose keys are under a keyring this installation does not hold is refused: none of its
    (s) fields would open."""
    kept = session.scalars(sa.select(CaseKeyRow.keyring).where(CaseKeyRow.keyring.is_not(None)).distinct())
    ring = rt.keyring_file.current()
    foreign = sorted({k for k in kept if k is not None and (ring is None or k != ring.id)})
    if foreign:
        raise BackupError(
            f"the backup's case keys are under keyring {', '.join(foreign)}, which is not at "
            f"{rt.keyring_file.path}: put that keyring file there (docs/keys.md)"
        )


def _erase_again(rt: Runtime, session: Session, actor: Actor) -> dict[str, str]:
    """Erase again what was erased after the backup was made; returns case id -> when it was erased.

    The keyring outside the database is what knows: it derives no key for a case erased since (and
    its ledger names cases whose keys were from before keyrings).
    """
    rows = session.execute(sa.select(CaseKeyRow.case_id, CaseKeyRow.keyring)).all()
    _require_keyring(rt, session)
    ring = rt.keyring_file.current()
    if ring is None:
        return {}
    gone = {
        case_id: ring.erased.get(case_id, "unknown")
        for case_id, keyring in rows
        if case_id in ring.erased or (keyring is not None and ring.leaf(case_id) is None)
    }
    for case_id, when in sorted(gone.items()):
        reason = f"erased on {when}, after the restored backup was made; erased again by the restore"
        data = validate_data("personal_data_erased", {"reason": reason})
        erase_in(rt, session, actor, case_id, data, "cli")
    return gone


def _check(rt: Runtime, session: Session) -> None:
    session.flush()
    _checked, broken = check_chains(session)
    if broken:
        first = broken[0]
        more = f" (and {len(broken) - 1} more cases)" if len(broken) > 1 else ""
        raise BackupError(f"case {first.case_id} in the backup is broken: {first.problem}{more}")
    unknown = set(session.scalars(sa.select(CaseKeyRow.kek_id).distinct())) - rt.known_kek_ids
    if unknown:
        raise BackupError(
            f"case keys in the backup are wrapped under installation keys {', '.join(sorted(unknown))}, "
            "which this installation does not hold (add them to TRACKER_OLD_DATA_KEYS)"
        )
